// annotate: the chat view shared by the annotation and adjudication widgets (no build step).
// annotator.py and adjudicator.py put this file in front of their own view (anywidget ES modules
// cannot import sibling files), so everything here is a plain top-level declaration.
// Safety: corpus text is only ever put in the DOM with textContent / text nodes, built from the
// block tree that annotate/widgets/render.py makes. Nothing from the corpus goes through innerHTML.

function h(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function button(cls, text, onClick, title) {
  const b = h("button", cls, text);
  b.type = "button";
  if (title) b.title = title;
  if (onClick) b.addEventListener("click", onClick);
  return b;
}

function escapeRx(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function isTyping(t) {
  return !!t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" || t.tagName === "SELECT" ||
    t.isContentEditable);
}

// --- safe markdown (block tree -> DOM) ---------------------------------------------------------
function addText(parent, text, cue) {
  if (!cue) { parent.append(document.createTextNode(text)); return; }
  let pos = 0;
  cue.rx.lastIndex = 0;
  for (const m of text.matchAll(cue.rx)) {
    if (m.index > pos) parent.append(document.createTextNode(text.slice(pos, m.index)));
    const mark = h("mark", "aa-cue", m[0]);
    mark.title = "cue: " + (cue.codes.get(m[0].toLowerCase()) || []).join(", ");
    parent.append(mark);
    pos = m.index + m[0].length;
  }
  if (pos < text.length) parent.append(document.createTextNode(text.slice(pos)));
}

function addRuns(parent, runs, cue) {
  for (const [kind, text] of runs) {
    if (kind === "code") { parent.append(h("code", "aa-icode", text)); continue; }
    const node = kind === "b" ? h("strong") : kind === "i" ? h("em") : parent;
    addText(node, text, cue);
    if (node !== parent) parent.append(node);
  }
}

function buildBlocks(blocks, cue) {
  const frag = document.createDocumentFragment();
  for (const b of blocks) {
    if (b.t === "pre") {
      const pre = h("pre", "aa-pre");
      const code = h("code", null, b.v);
      if (b.lang) pre.dataset.lang = b.lang;
      pre.append(code);
      frag.append(pre);
    } else if (b.t === "ul" || b.t === "ol") {
      const list = h(b.t);
      for (const item of b.items) { const li = h("li"); addRuns(li, item, cue); list.append(li); }
      frag.append(list);
    } else {
      const node = h(b.t === "h" ? "p" : b.t === "quote" ? "blockquote" : "p",
        b.t === "h" ? "aa-h" : null);
      addRuns(node, b.c, cue);
      frag.append(node);
    }
  }
  return frag;
}

// one turn as a chat bubble: head (speaker, model, index, applied codes) and the safe markdown;
// long turns start collapsed with a "show more" toggle
function turnNode(t, cue) {
  const node = h("div", `aa-turn aa-${t.role}`);
  node.dataset.turnIndex = String(t.i);
  node.dataset.role = t.role;
  const head = h("div", "aa-turn-head");
  head.append(h("span", "aa-speaker", t.speaker || t.role));
  if (t.model) head.append(h("span", "aa-model", t.model));
  head.append(h("span", "aa-index", `#${t.i}`), h("span", "aa-applied"));
  const bubble = h("div", "aa-bubble");
  bubble.append(buildBlocks(t.blocks, cue));
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
