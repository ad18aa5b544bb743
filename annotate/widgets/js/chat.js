// annotate: the chat view shared by the annotation and adjudication widgets (DOM).
// Safety: corpus text is only ever put in the DOM with textContent / text nodes, built from the
// markdown tree that annotate/widgets/render.py makes (markdown.js -> dom.js). Nothing from the
// corpus goes through innerHTML.

import { button, h, materialize } from "./dom.js";
import { treeToView } from "./markdown.js";

// one turn as a chat bubble: head (speaker, model, index, applied codes) and its markdown;
// long turns start collapsed with a "show more" toggle. cue: a cueMatcher result or null; ev:
// evidence marks (markdown.js treeToView) or null.
export function turnNode(t, cue, ev) {
  const node = h("div", `aa-turn aa-${t.role}`);
  node.dataset.turnIndex = String(t.i);
  node.dataset.role = t.role;
  const head = h("div", "aa-turn-head");
  head.append(h("span", "aa-speaker", t.speaker || t.role));
  if (t.model) head.append(h("span", "aa-model", t.model));
  head.append(h("span", "aa-index", `#${t.i}`), h("span", "aa-applied"));
  const bubble = h("div", "aa-bubble");
  fillBubble(bubble, t, cue, ev);
  node.append(head, bubble);
  if (t.long) {
    node.classList.add("aa-long", "aa-collapsed");
    node.append(button("aa-more", "show more", (e) => {
      e.stopPropagation();
      const c = node.classList.toggle("aa-collapsed");
      e.target.textContent = c ? "show more" : "show less";
    }));
  }
  return node;
}

// (re)build a turn's bubble from its markdown tree, with cues and evidence marks
export function fillBubble(bubble, t, cue, ev) {
  bubble.replaceChildren(...treeToView(t.blocks, cue, ev).map((v) => materialize(v)));
}

// the codebook help of one code as a <dl> (definition, when (not) to use, examples, values)
export function codeHelp(c, { examples = Infinity } = {}) {
  const dl = h("dl");
  const row = (dt, dd) => { if (dd) dl.append(h("dt", null, dt), h("dd", null, dd)); };
  row("Definition", c.definition);
  row("When to use", c.when_to_use);
  row("When not to use", c.when_not_to_use);
  (c.examples || []).slice(0, examples).forEach((e) => row("Example", e));
  (c.near_misses || []).slice(0, examples).forEach((e) => row("Near miss", e));
  if (c.level !== "binary")
    (c.values || []).forEach((v) => row(`value ${v.value}`, `${v.label}${v.definition ? ": " + v.definition : ""}`));
  return dl;
}

// the save indicator of both widgets: status text, message, optional Retry button
export function saveIndicator(onRetry) {
  const node = h("span", "aa-save");
  const status = h("span", "aa-save-status", "saved");
  status.dataset.saveStatus = "saved";
  status.setAttribute("role", "status");
  const msg = h("span", "aa-save-msg");
  msg.dataset.saveMessage = "";
  node.append(status, msg);
  let retry = null;
  if (onRetry) {
    retry = button("aa-btn aa-retry", "Retry", onRetry);
    retry.hidden = true;
    node.append(retry);
  }
  const set = (s, message) => {
    status.textContent = s;
    status.dataset.saveStatus = s;
    msg.textContent = message || "";
    msg.title = message || "";
    if (retry) retry.hidden = s !== "error";
  };
  return { node, set };
}
