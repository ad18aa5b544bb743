// annotate: the annotation widget's view (anywidget ES module; bundled by esbuild into
// annotate/widgets/static/annotator.js, see docs/internals.md "Widget front end").
// Python (annotator.py) owns the state; this view renders the synced traits and sends one small
// message per action. The parts: layout (built once), keys of the codes (keys.js), labels
// (state.js overlay), panels, conversation, header, help, keys, coder picker, break reminder,
// wiring.
// Safety: corpus text is only ever put in the DOM with textContent / text nodes (chat.js).
// Focus: the widget's root keeps the keyboard. A click anywhere in the widget (outside a text
// field) gives the focus back to the root, so keys keep working after any click.
// Evidence: words selected in a turn (mouse, or arrows word by word) are kept as a source span
// (S.sel, offsets into turns.text) and attached to the code whose key is pressed (or clicked);
// every code's spans are marked in the turn (markdown.js cuts them into the text).

import { codeHelp, fillBubble, saveIndicator, turnNode } from "./chat.js";
import { cueMatcher } from "./cues.js";
import { button, h, isTyping } from "./dom.js";
import * as evd from "./evidence.js";
import { annotatorKey, assignKeys, KEY_HELP, panelKeys, PASS, valueKeys } from "./keys.js";
import { boundary, chars as turnChars } from "./select.js";
import * as st from "./state.js";

// --- the view: one per output area showing the model ---------------------------------------------
function render({ model, el }) {
  const v = {
    model,
    viewId: Math.random().toString(36).slice(2, 8),
    S: {
      focus: 0, revealed: new Set(), cues: !!model.get("options").cues, seq: 0,
      outstanding: new Set(), optimistic: new Map(), error: false, reachedEnd: false,
      focusSince: performance.now(), openedAt: performance.now(), convId: null, renders: 0,
      breakTimer: null,
      panel: "turn", // where code keys act: "turn" or "conversation" (Tab switches)
      pick: null, // a choice code waiting for its value's key: {id, ti}
      sel: null, // words selected as evidence: {ti, start, end} (offsets into the turn's text)
    },
    K: null, // the codes' keys (keyMaps)
  };
  v.ui = layout(v);
  el.append(v.ui.root);
  wire(v);
  return () => clearTimeout(v.S.breakTimer);
}

const cb = (v) => v.model.get("codebook_data");
const codeOf = (v, id) => cb(v).codes[id];
const turns = (v) => (v.model.get("conversation") || {}).turns || [];
const focusedTurn = (v) => turns(v)[v.S.focus];
const value = (v, ti, codeId) => st.labelValue(v.model.get("labels"), v.S.optimistic, ti, codeId);
const spansOf = (v, ti, codeId) => st.labelEvidence(v.model.get("labels"), v.S.optimistic, ti, codeId);
const takesEvidence = (code, ti) => !!code && ti !== null && (code.evidence || "none") !== "none";
const kbd = (key, cls = "aa-key") => { const k = h("kbd", cls, key === " " ? "␣" : key); k.setAttribute("aria-hidden", "true"); return k; };

// --- the codes' keys: the codebook's `key`, else one assigned (keys.js), per panel ----------------
function keyMaps(v) {
  const data = cb(v);
  if (v.K && v.K.data === data) return v.K;
  const roles = Object.keys(data.turn || {});
  const list = [];
  for (const [id, c] of Object.entries(data.codes || {})) {
    const panels = roles.filter((r) => data.turn[r].includes(id)).map((r) => `turn:${r}`);
    if ((data.conversation || []).includes(id)) panels.push("conversation");
    if (panels.length) list.push({ id, key: c.key, panels });
  }
  const keyOf = assignKeys(list);
  const codes = (ids) => ids.map((id) => data.codes[id]).filter(Boolean);
  v.K = {
    data,
    keyOf,
    roleKeys: new Map(roles.map((r) => [r, panelKeys(codes(data.turn[r]), keyOf)])),
    convKeys: panelKeys(codes(data.conversation || []), keyOf),
  };
  return v.K;
}

// --- layout: picker, header, notice, chat, side panels, actions, help (built once) ----------------
function layout(v) {
  const root = h("div", "annotate-annotator");
  root.tabIndex = 0;
  root.dataset.lmSuppressShortcuts = "true"; // Lumino skips its shortcuts for keys from here
  root.dataset.panel = v.S.panel;
  root.setAttribute("aria-label", "annotation widget");
  const ui = { root, ...header(v) };
  ui.picker = h("div", "aa-picker");
  ui.picker.hidden = true;
  ui.notice = h("div", "aa-notice");
  ui.notice.hidden = true;
  ui.main = h("div", "aa-main");
  ui.chat = h("div", "aa-chat");
  const side = h("div", "aa-side");
  ui.turnPanel = h("section", "aa-panel aa-turn-panel");
  ui.turnPanel.dataset.unit = "turn";
  ui.convPanel = h("section", "aa-panel aa-conv-panel");
  ui.convPanel.dataset.unit = "conversation";
  side.append(ui.turnPanel, ui.convPanel, actions(v, ui));
  ui.main.append(ui.chat, side);
  ui.help = h("div", "aa-help");
  ui.help.hidden = true;
  ui.help.tabIndex = -1;
  ui.help.setAttribute("role", "dialog");
  ui.help.setAttribute("aria-label", "codebook");
  root.append(ui.picker, ui.bar, ui.notice, ui.main, ui.help);
  return ui;
}

// the header: progress, jump, navigation, cue toggle, help, coder, save indicator (one line)
function header(v) {
  const bar = h("div", "aa-header");
  const progressText = h("span", "aa-progress-text");
  progressText.dataset.progress = "";
  const progressBar = h("div", "aa-progress");
  progressBar.setAttribute("role", "progressbar");
  const progressFill = h("div", "aa-progress-fill");
  progressBar.append(progressFill);
  const jump = h("select", "aa-jump");
  jump.setAttribute("aria-label", "jump to conversation");
  jump.addEventListener("change", () => {
    nav(v, Number(jump.value));
    v.ui.root.focus({ preventScroll: true });
  });
  const prevBtn = button("aa-btn", "◀ p", () => nav(v, "prev"), "previous conversation (p)");
  const nextBtn = button("aa-btn", "n ▶", () => nav(v, "finish"),
    "next conversation (n); after the last turn this marks the conversation done");
  const cueLabel = h("label", "aa-cue-toggle");
  const cueBox = h("input");
  cueBox.type = "checkbox";
  cueBox.checked = v.S.cues;
  cueBox.addEventListener("change", () => { v.S.cues = cueBox.checked; renderConversation(v, true); });
  cueLabel.append(cueBox, document.createTextNode(" cues"));
  const helpBtn = button("aa-btn aa-help-btn", "?", () => toggleHelp(v), "keys and codebook (?)");
  helpBtn.append(h("span", "aa-wide", " codebook"));
  const save = saveIndicator(() => send(v, { type: "retry" }, true));
  const who = h("span", "aa-who");
  bar.append(progressText, progressBar, jump, prevBtn, nextBtn, cueLabel, helpBtn, who, save.node);
  return { bar, progressText, progressBar, progressFill, jump, cueLabel, cueBox, who, setSave: save.set };
}

// the actions under the panels, always in view: what a key could not do, status, done, skip
function actions(v, ui) {
  const box = h("div", "aa-actions");
  ui.say = h("p", "aa-say");
  ui.say.dataset.say = "";
  ui.say.setAttribute("role", "status");
  ui.say.setAttribute("aria-live", "polite");
  ui.status = h("span", "aa-status");
  ui.status.dataset.status = "";
  ui.done = button("aa-btn aa-done", "✓ done", () => markDone(v),
    "mark this conversation done and open the next (Enter in the conversation panel)");
  ui.done.append(kbd("⏎"));
  ui.reason = h("input", "aa-skip-reason");
  ui.reason.type = "text";
  ui.reason.placeholder = "reason to skip";
  ui.reason.setAttribute("aria-label", "reason to skip");
  ui.reason.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); e.stopPropagation(); skip(v); }
  });
  ui.skip = button("aa-btn aa-skip", "skip", () => skip(v), "skip this conversation (needs a reason; Shift+Enter)");
  const row = h("div", "aa-row");
  row.append(ui.done, ui.reason, ui.skip);
  box.append(ui.say, ui.status, row);
  return box;
}

// --- messages to the kernel -----------------------------------------------------------------------
function send(v, msg, isSave) {
  msg.seq = `${v.viewId}:${++v.S.seq}`;
  if (isSave) { v.S.outstanding.add(msg.seq); v.ui.setSave("saving"); }
  v.model.send(msg);
  return msg.seq;
}

function nav(v, to) {
  send(v, { type: "nav", to, reached_end: v.S.reachedEnd }, false);
}

const elapsed = (v) => Math.round(performance.now() - v.S.openedAt);

function markDone(v) {
  if (contentHidden(v)) { say(v, "Show the conversation first, or skip it with a reason."); return; }
  send(v, { type: "done", elapsed_ms: elapsed(v) }, true);
}

function skip(v) {
  const reason = v.ui.reason.value.trim();
  if (!reason) {
    v.ui.reason.classList.add("aa-need");
    v.ui.reason.focus();
    say(v, "Type the reason to skip, then Enter (Esc leaves the field).");
    return;
  }
  v.ui.reason.classList.remove("aa-need");
  send(v, { type: "skip", reason, elapsed_ms: elapsed(v) }, true);
}

// one label change: sent at once, shown at once (optimistic) until the kernel acks it
function change(v, ti, codeId, newValue, extra) {
  const since = ti === null ? v.S.openedAt : v.S.focusSince;
  const msg = { type: "set", code_id: codeId, value: newValue, turn_index: ti,
    elapsed_ms: Math.round(performance.now() - since), ...(extra || {}) };
  const seq = send(v, msg, true);
  const o = { value: st.storedForm(newValue), seq };
  if (msg.evidence) o.ev = msg.evidence.map((x) => [x.start, x.end]);
  v.S.optimistic.set(st.keyText(ti, codeId), o);
  applyLabels(v);
}

const asEvidence = (spans) => spans.map(([start, end]) => ({ start, end }));

// a code's key or click: with words selected, they become its evidence (the code is set if it
// was not); without, the code changes as its control says, unless it needs evidence it lacks
function setCode(v, code, ti, next, picked) {
  const cur = value(v, ti, code.id);
  const sel = selection(v, ti);
  if (sel && takesEvidence(code, ti)) { attach(v, code, ti, picked); return; }
  const nextValue = next(code, cur);
  if (sel && ti !== null) say(v, `${code.label} takes no evidence: the selected words stay selected for another code.`);
  const stored = st.storedForm(nextValue);
  if (ti !== null && st.requiresEvidence(code, stored) && !spansOf(v, ti, code.id).length) {
    const key = keyMaps(v).keyOf.get(code.id);
    say(v, `${code.label} needs evidence: select the words that show it (with the mouse, or → and Shift+→ word by word), then press ${key ? `its key ${key}` : "the code"}.`);
    return;
  }
  change(v, ti, code.id, nextValue);
}

// the selected words attached to a code (picked: the value chosen with them, for choice codes)
function attach(v, code, ti, picked) {
  const sel = selection(v, ti);
  const nextValue = st.attachValue(code, value(v, ti, code.id), picked);
  if (nextValue === null) { say(v, `${code.label} needs a value: press its key, then a value's key.`); return; }
  const spans = evd.addSpan(spansOf(v, ti, code.id), [sel.start, sel.end]);
  const quote = evd.shortQuote(selectedText(v, sel));
  change(v, ti, code.id, nextValue, { evidence: asEvidence(spans) });
  clearSelection(v);
  say(v, `${quote} is evidence of ${code.label} (u undoes).`);
}

// Delete with words selected: the evidence under them goes (every code of the turn)
function unmark(v) {
  const sel = selection(v, focusedTurn(v) ? focusedTurn(v).i : null);
  if (!sel) return;
  const ti = sel.ti;
  const removed = [];
  const kept = [];
  for (const [codeId, spans] of Object.entries(st.turnEvidence(v.model.get("labels"), v.S.optimistic, ti))) {
    if (!evd.overlaps(spans, sel.start, sel.end)) continue;
    const code = codeOf(v, codeId);
    const rest = evd.withoutOverlap(spans, sel.start, sel.end);
    if (!rest.length && st.requiresEvidence(code, value(v, ti, codeId))) { kept.push(code.label); continue; }
    change(v, ti, codeId, value(v, ti, codeId), { evidence: asEvidence(rest) });
    removed.push(code.label);
  }
  clearSelection(v);
  const parts = [];
  if (removed.length) parts.push(`Evidence removed from ${removed.join(", ")} (u undoes).`);
  if (kept.length) parts.push(`${kept.join(", ")} need${kept.length > 1 ? "" : "s"} evidence: its last span stays (switch the code off to remove it).`);
  say(v, parts.join(" ") || "No evidence under the selected words.");
}

// one span of a code removed (its × in the turn panel)
function removeSpan(v, code, ti, span) {
  const rest = spansOf(v, ti, code.id).filter(([s, e]) => !(s === span[0] && e === span[1]));
  if (!rest.length && st.requiresEvidence(code, value(v, ti, code.id))) {
    say(v, `${code.label} needs evidence: its last span stays (switch the code off to remove it).`);
    return;
  }
  change(v, ti, code.id, value(v, ti, code.id), { evidence: asEvidence(rest) });
}

// the kernel's reply to one of this view's messages
function onReply(v, msg) {
  if (!msg || !msg.seq || !String(msg.seq).startsWith(v.viewId + ":")) return;
  const r = st.onReply(v.S, msg, v.model.get("save_state"));
  Object.assign(v.S, { outstanding: r.outstanding, optimistic: r.optimistic, error: r.error });
  if (r.save) v.ui.setSave(...r.save);
  applyLabels(v);
}

// --- code controls, memo, flag --------------------------------------------------------------------
function tooltip(code, key) {
  const parts = [code.label + (key ? `  [key ${key}]` : ""), code.definition];
  if (code.when_to_use) parts.push("Use when: " + code.when_to_use);
  if (code.when_not_to_use) parts.push("Not when: " + code.when_not_to_use);
  if (code.examples.length) parts.push("e.g. " + code.examples[0]);
  if (code.evidence === "required") parts.push("Evidence required: select the words that show it, then press its key.");
  else if (code.evidence === "optional") parts.push("Evidence: select words, then press its key to attach them.");
  return parts.filter(Boolean).join("\n");
}

// a code with its key: a binary code is a toggle; a choice code a row of value chips, each with
// the key that chooses it while the code waits for its value
function codeControl(v, code, ti) {
  const key = keyMaps(v).keyOf.get(code.id);
  if (code.level === "binary") {
    const b = button("aa-code aa-binary", code.label, () => setCode(v, code, ti, st.binaryNext),
      tooltip(code, key));
    if (key) b.prepend(kbd(key));
    b.dataset.codeId = code.id;
    if (key) b.dataset.key = key;
    b.setAttribute("aria-pressed", "false");
    return b;
  }
  const wrap = h("div", `aa-code aa-choice aa-${code.level}`);
  wrap.dataset.codeId = code.id;
  if (key) wrap.dataset.key = key;
  wrap.setAttribute("role", "group");
  wrap.setAttribute("aria-pressed", "false");
  wrap.setAttribute("aria-label", code.label);
  const name = h("span", "aa-code-label", code.label);
  if (key) name.prepend(kbd(key));
  name.title = tooltip(code, key);
  wrap.append(name);
  const vkeys = valueKeys(code.values.length);
  code.values.forEach((cv, i) => {
    const b = button("aa-val", cv.label || cv.value,
      () => setCode(v, code, ti, (c, cur) => st.chooseNext(c, cur, cv.value), cv.value), cv.definition || cv.label);
    b.prepend(kbd(vkeys[i], "aa-key aa-vkey"));
    b.dataset.value = cv.value;
    b.setAttribute("aria-pressed", "false");
    wrap.append(b);
  });
  return wrap;
}

function memoBox(v, ti, unitName) {
  const area = h("textarea", "aa-memo");
  area.dataset.memo = unitName;
  area.rows = 2;
  area.placeholder = `memo on this ${unitName} (.)`;
  area.addEventListener("change", () => change(v, ti, "_memo", area.value.trim() || null));
  return area;
}

// flag for discussion, with an optional "why" (Enter flags, Esc cancels)
function flagButton(v, ti) {
  const row = h("div", "aa-row aa-flag-row");
  const why = h("input", "aa-flag-why");
  why.type = "text";
  why.placeholder = "why? (Enter flags, Esc cancels)";
  why.setAttribute("aria-label", "why flag");
  why.hidden = true;
  const b = button("aa-btn aa-flag", "⚑ flag", () => {
    if (value(v, ti, "_flag")) { change(v, ti, "_flag", null); return; }
    why.hidden = false; why.value = ""; why.focus();
  }, "flag for discussion (!)");
  b.append(kbd("!"));
  b.dataset.flag = ti === null ? "conversation" : "turn";
  b.setAttribute("aria-pressed", "false");
  why.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      change(v, ti, "_flag", "1", { note: why.value.trim() || null });
      why.hidden = true; v.ui.root.focus({ preventScroll: true });
    } else if (e.key === "Escape") { why.hidden = true; }
  });
  row.append(b, why);
  return row;
}

// --- side panels ----------------------------------------------------------------------------------
function panelHead(title, unitKey) {
  const head = h("h4", "aa-panel-head", title);
  const hint = h("span", "aa-panel-hint");
  hint.append(kbd("Tab"), document.createTextNode(unitKey));
  head.append(hint);
  return head;
}

// the evidence spans of a code on the focused turn, each with its quote and a × to remove it
function spanList(v, code, ti) {
  const box = h("div", "aa-spans");
  box.dataset.spansFor = code.id;
  const spans = spansOf(v, ti, code.id);
  const list = charsOf(v, ti);
  for (const [s, e] of spans) {
    const item = h("span", "aa-span", evd.shortQuote(evd.visibleText(list, s, e), 48));
    item.dataset.span = `${s}-${e}`;
    const x = button("aa-span-x", "×", () => removeSpan(v, code, ti, [s, e]),
      "remove this evidence");
    item.append(x);
    box.append(item);
  }
  box.hidden = !spans.length;
  return box;
}

function renderTurnPanel(v) {
  const panel = v.ui.turnPanel;
  panel.replaceChildren();
  const t = focusedTurn(v);
  if (!t || contentHidden(v)) {
    panel.append(panelHead("Turn", ""), h("p", "aa-muted", contentHidden(v)
      ? "the conversation is behind its content note" : "no turn focused"));
    return;
  }
  panel.append(panelHead(`Turn ${t.i} · ${t.role}`, " conversation"));
  const ids = cb(v).turn[t.role] || [];
  const list = h("div", "aa-codes");
  for (const id of ids) list.append(codeControl(v, codeOf(v, id), t.i));
  if (!ids.length) list.append(h("p", "aa-muted", `no codes apply to ${t.role} turns`));
  panel.append(list, memoBox(v, t.i, "turn"), flagButton(v, t.i));
}

function renderConvPanel(v) {
  const panel = v.ui.convPanel;
  panel.replaceChildren();
  const conv = v.model.get("conversation") || {};
  const hidden = contentHidden(v);
  panel.append(panelHead("Conversation", " turns"));
  if (hidden) panel.append(h("p", "aa-muted aa-locked", "Show the conversation to code it (Enter)."));
  const list = h("div", "aa-codes");
  for (const id of cb(v).conversation) list.append(codeControl(v, codeOf(v, id), null));
  panel.append(list, memoBox(v, null, "conversation"), flagButton(v, null));
  panel.append(h("p", "aa-muted", conv.reliability ? "reliability sample: blind, no cues" : "blind"));
  // behind a content note nothing of the conversation can be changed (skip stays possible)
  for (const node of panel.querySelectorAll("button, textarea, input")) node.disabled = hidden;
  v.ui.done.disabled = hidden;
}

// which panel the keys act on, and the choice code waiting for its value
function showPanel(v) {
  const { ui, S } = v;
  const changed = ui.root.dataset.panel !== S.panel;
  ui.root.dataset.panel = S.panel;
  if (changed && !ui.say.dataset.say) say(v, "");
  ui.turnPanel.dataset.active = String(S.panel === "turn");
  ui.convPanel.dataset.active = String(S.panel === "conversation");
  for (const n of ui.root.querySelectorAll(".aa-picking")) n.classList.remove("aa-picking");
  if (!S.pick) return;
  const panel = S.pick.ti === null ? ui.convPanel : ui.turnPanel;
  const node = panel.querySelector(`[data-code-id="${CSS.escape(S.pick.id)}"]`);
  if (node) { node.classList.add("aa-picking"); node.scrollIntoView({ block: "nearest" }); }
}

// a choice code stops waiting for its value (a click, another conversation): its hint goes too
function endPick(v) {
  if (v.S.pick) say(v, "");
  v.S.pick = null;
}

// a short message in the widget: what a key could not do and why, or what it waits for (with
// nothing to say: where the keys act)
function say(v, text) {
  const { say: node, root } = v.ui;
  if (v.ui.pickerSay) v.ui.pickerSay.textContent = v.model.get("annotator_id") ? "" : text || "";
  node.dataset.say = text || "";
  node.classList.toggle("aa-say-hint", !text);
  node.textContent = text || (root.dataset.panel === "conversation"
    ? "Keys act on the conversation · Tab: turns · Enter: done · ? keys"
    : "Keys act on the focused turn · Tab: conversation · ? keys");
}

// --- labels shown: controls, memos, flags, status, the chips on each turn --------------------------
function applyControl(v, node, ti) {
  const codeId = node.dataset.codeId;
  const cur = value(v, ti, codeId);
  const code = codeOf(v, codeId);
  if (takesEvidence(code, ti)) {
    const sig = JSON.stringify(spansOf(v, ti, codeId));
    const old = node.nextElementSibling && node.nextElementSibling.classList.contains("aa-spans")
      ? node.nextElementSibling : null;
    if (!old || old.dataset.sig !== sig) {
      const box = spanList(v, code, ti);
      box.dataset.sig = sig;
      if (old) old.replaceWith(box); else node.after(box);
    }
    node.dataset.evidence = code.evidence;
  }
  node.setAttribute("aria-pressed", cur === null ? "false" : "true");
  node.classList.toggle("aa-unsaved", st.isUnsaved(v.model.get("labels"), v.S.optimistic, ti, codeId));
  if (node.classList.contains("aa-choice")) {
    const chosen = cur === null ? [] : node.classList.contains("aa-set") ? st.parseSet(cur) : [cur];
    for (const b of node.querySelectorAll(".aa-val"))
      b.setAttribute("aria-pressed", chosen.includes(b.dataset.value) ? "true" : "false");
  }
}

function applyLabels(v) {
  const L = v.model.get("labels") || {};
  if (L.conversation_id && L.conversation_id !== v.S.convId) return;
  const { turnPanel, convPanel, chat } = v.ui;
  const t = focusedTurn(v);
  const ti = t ? t.i : null;
  for (const node of turnPanel.querySelectorAll("[data-code-id]")) applyControl(v, node, ti);
  for (const node of convPanel.querySelectorAll("[data-code-id]")) applyControl(v, node, null);
  for (const [panel, unit] of [[turnPanel, ti], [convPanel, null]]) {
    const memo = panel.querySelector(".aa-memo");
    if (memo && document.activeElement !== memo) memo.value = value(v, unit, "_memo") || "";
    const flag = panel.querySelector(".aa-flag");
    if (flag) flag.setAttribute("aria-pressed", value(v, unit, "_flag") ? "true" : "false");
  }
  v.ui.status.textContent = st.statusText(value(v, null, "_status"), L.notes);
  refreshMarks(v);
  for (const node of chat.querySelectorAll(".aa-turn")) {
    const unit = st.turnLabels(L, v.S.optimistic, Number(node.dataset.turnIndex));
    const chips = st.appliedChips(unit, (id) => codeOf(v, id), cb(v).turn[node.dataset.role] || []);
    const box = node.querySelector(".aa-applied");
    const sig = JSON.stringify(chips);
    if (box.dataset.sig === sig) continue;
    box.dataset.sig = sig;
    box.replaceChildren(...chips.map((c) => {
      const chip = h("span", "aa-chip", c.text);
      chip.title = c.title;
      chip.dataset.chip = c.codeId;
      return chip;
    }));
  }
}

// --- the conversation -----------------------------------------------------------------------------
// behind its content note until the coder chooses to see it
function contentHidden(v) {
  const conv = v.model.get("conversation") || {};
  return !!conv.content_note && !v.S.revealed.has(conv.id);
}

function cues(v) {
  const conv = v.model.get("conversation") || {};
  return v.S.cues && !conv.reliability ? cueMatcher(Object.values(cb(v).codes)) : null;
}

function reveal(v) {
  const conv = v.model.get("conversation") || {};
  v.S.revealed.add(conv.id);
  renderConversation(v, false);
}

function contentNote(v, conv) {
  const note = h("div", "aa-content-note");
  note.dataset.contentNote = "";
  note.append(h("p", null, `Content note: this conversation contains ${conv.content_note}.`));
  note.append(h("p", "aa-muted", "Take a moment. You can skip it (with a reason) if you need to."));
  const show = button("aa-btn aa-reveal", "Show the conversation", () => reveal(v));
  show.append(kbd("⏎"));
  note.append(show);
  return note;
}

function renderConversation(v, keepFocus) {
  const { S, ui } = v;
  // re-rendering removes the focused control (e.g. skip): give the keyboard back to the root
  const hadFocus = ui.root.contains(document.activeElement);
  const conv = v.model.get("conversation") || {};
  const same = conv.id === S.convId;
  if (!same) {
    S.convId = conv.id; S.openedAt = performance.now(); S.reachedEnd = false;
    S.optimistic.clear();
    S.panel = "turn";
    S.sel = null;
    ui.reason.value = "";
    ui.reason.classList.remove("aa-need");
    say(v, "");
  }
  endPick(v);
  if (!(same && keepFocus)) S.focus = 0;
  ui.root.dataset.conversationId = conv.id || "";
  v.charCache = null;
  ui.cueBox.disabled = !!conv.reliability;
  ui.cueLabel.title = conv.reliability ? "cues are never shown on the reliability sample" : "highlight cue phrases";
  if (contentHidden(v)) ui.chat.replaceChildren(contentNote(v, conv));
  else {
    const cue = cues(v);
    const frag = document.createDocumentFragment();
    for (const t of conv.turns || []) {
      const ev = marksOf(v, t.i);
      const node = turnNode(t, cue, ev);
      node.querySelector(".aa-bubble").dataset.evsig = marksSig(ev);
      frag.append(node);
    }
    ui.chat.replaceChildren(frag);
  }
  renderConvPanel(v);
  setFocus(v, S.focus, true);
  renderHeader(v);
  S.renders += 1;
  const tag = `${conv.id}#${S.renders}`;
  if (hadFocus) keepKeyboard(v);
  requestAnimationFrame(() => { ui.root.dataset.ready = tag; });
}

function setFocus(v, i, quiet) {
  const { S, ui } = v;
  const hadFocus = ui.root.contains(document.activeElement);
  const nodes = ui.chat.querySelectorAll(".aa-turn");
  if (!nodes.length) { S.focus = 0; renderTurnPanel(v); applyLabels(v); showPanel(v); return; }
  i = Math.max(0, Math.min(nodes.length - 1, i));
  const prev = ui.chat.querySelector(".aa-focused");
  if (prev) { prev.classList.remove("aa-focused"); prev.removeAttribute("aria-current"); }
  const node = nodes[i];
  if (S.sel && String(S.sel.ti) !== node.dataset.turnIndex) clearSelection(v);
  node.classList.add("aa-focused");
  node.setAttribute("aria-current", "true");
  if (i !== S.focus || !quiet) S.focusSince = performance.now();
  S.focus = i;
  if (i === nodes.length - 1) S.reachedEnd = true;
  if (!quiet) node.scrollIntoView({ block: "nearest" });
  renderTurnPanel(v); // replaces the panel's controls: a focused one would take the focus with it
  applyLabels(v);
  showPanel(v);
  if (hadFocus) keepKeyboard(v);
}

// the root takes the keyboard back unless the coder is typing in one of the widget's fields
function keepKeyboard(v) {
  const a = document.activeElement;
  if (a && v.ui.root.contains(a) && isTyping(a)) return;
  if (a !== v.ui.root) v.ui.root.focus({ preventScroll: true });
}

// --- evidence: marks in the turns, the selection --------------------------------------------------
const PALETTE = 8; // colours of code marks (annotator.css .aa-ev-k0 ... k7)

// the pending selection on turn ti (null when none there)
function selection(v, ti) {
  const sel = v.S.sel;
  return sel && ti !== null && ti !== undefined && sel.ti === ti ? sel : null;
}

// the marks of a turn for markdown.js: every code's spans, then the selection
function marksOf(v, ti) {
  const byCode = st.turnEvidence(v.model.get("labels"), v.S.optimistic, ti);
  const ids = Object.keys(cb(v).codes);
  const marks = [];
  for (const [codeId, spans] of Object.entries(byCode)) for (const [start, end] of spans) marks.push({ start, end, id: codeId });
  const sel = selection(v, ti);
  if (sel) marks.push({ start: sel.start, end: sel.end, id: "_sel" });
  if (!marks.length) return null;
  const label = (id) => (codeOf(v, id) || { label: id }).label;
  return {
    marks,
    mark: (found) => {
      const codes = found.filter((id) => id !== "_sel");
      const cls = ["aa-ev"];
      if (codes.length) cls.push(`aa-ev-k${Math.max(0, ids.indexOf(codes[0])) % PALETTE}`);
      if (codes.length > 1) cls.push("aa-ev-multi");
      if (found.includes("_sel")) cls.push("aa-sel");
      const title = codes.length ? `evidence: ${codes.map(label).join(", ")}` : "selected: press a code's key to attach these words";
      return { cls: cls.join(" "), attrs: { "data-codes": codes.join(" "), title } };
    },
  };
}

const marksSig = (ev) => (ev ? JSON.stringify(ev.marks) : "");

// re-render the turns whose marks changed (labels saved or undone, a selection made or cleared)
function refreshMarks(v, only) {
  if (contentHidden(v)) return;
  const cue = cues(v);
  for (const t of turns(v)) {
    if (only !== undefined && t.i !== only) continue;
    const node = v.ui.chat.querySelector(`.aa-turn[data-turn-index="${t.i}"] .aa-bubble`);
    if (!node) continue;
    const ev = marksOf(v, t.i);
    const sig = marksSig(ev);
    if (node.dataset.evsig === sig) continue;
    node.dataset.evsig = sig;
    fillBubble(node, t, cue, ev);
    v.charCache = null;
  }
}

// the shown characters of a turn with their source offsets (cached until a bubble changes)
function charsOf(v, ti) {
  if (v.charCache && v.charCache.ti === ti && v.charCache.convId === v.S.convId) return v.charCache.list;
  const bubble = v.ui.chat.querySelector(`.aa-turn[data-turn-index="${ti}"] .aa-bubble`);
  const list = bubble ? turnChars(bubble) : [];
  v.charCache = { ti, convId: v.S.convId, list };
  return list;
}

const selectedText = (v, sel) => evd.visibleText(charsOf(v, sel.ti), sel.start, sel.end);

function setSelection(v, sel, drawLater) {
  const old = v.S.sel;
  v.S.sel = sel;
  if (!drawLater && old && (!sel || old.ti !== sel.ti)) refreshMarks(v, old.ti);
  if (sel) {
    if (!drawLater) refreshMarks(v, sel.ti);
    const words = evd.visibleText(charsOf(v, sel.ti), sel.start, sel.end);
    say(v, `Selected ${evd.shortQuote(words)}: press a code's key to attach it as evidence · Shift+→ / Shift+← more or fewer words · Delete removes evidence under it · Esc clears.`);
  }
}

function clearSelection(v) {
  if (!v.S.sel) return;
  const ti = v.S.sel.ti;
  v.S.sel = null;
  refreshMarks(v, ti);
}

// the words the mouse selected in one turn, taken at mouseup, so that a key pressed at once acts
// on them; a click without a drag clears the selection. The turn is drawn again with its marks
// only after the click has run (a click on a node being replaced would be lost).
function mouseSelect(v) {
  const got = window.getSelection();
  if (!got || got.rangeCount === 0) return;
  if (got.isCollapsed) {
    if (v.S.sel) { const ti = v.S.sel.ti; v.S.sel = null; say(v, ""); later(v, ti); }
    return;
  }
  const r = got.getRangeAt(0);
  const turnOf = (n) => (n.nodeType === 1 ? n : n.parentElement).closest(".aa-turn");
  const a = turnOf(r.startContainer);
  const b = turnOf(r.endContainer);
  if (!a || !v.ui.chat.contains(a)) return;
  got.removeAllRanges(); // the widget shows the selection with its own mark from here on
  if (a !== b) { say(v, "Select words within one turn: evidence is words of a single turn."); return; }
  const ti = Number(a.dataset.turnIndex);
  const list = charsOf(v, ti);
  const span = evd.charsToSpan(list, boundary(list, r.startContainer, r.startOffset),
    boundary(list, r.endContainer, r.endOffset));
  if (!span) { say(v, "Nothing there can be evidence (a link's address, an image): select words of the turn."); return; }
  const nodes = [...v.ui.chat.querySelectorAll(".aa-turn")];
  if (nodes.indexOf(a) >= 0 && nodes.indexOf(a) !== v.S.focus) setFocus(v, nodes.indexOf(a));
  v.S.panel = "turn";
  showPanel(v);
  const old = v.S.sel;
  setSelection(v, { ti, start: span.start, end: span.end }, true);
  if (old && old.ti !== ti) later(v, old.ti);
  later(v, ti);
  keepKeyboard(v);
}

// a turn drawn again with its marks once the events of this click are over
function later(v, ti) {
  setTimeout(() => refreshMarks(v, ti), 0);
}

// → ← Shift+→ Shift+←: the selection moves or grows word by word; Esc clears it
function keySelect(v, op) {
  const t = focusedTurn(v);
  if (!t) return;
  if (op === "clear") { clearSelection(v); say(v, ""); return; }
  const list = charsOf(v, t.i);
  const ws = evd.words(list);
  const sel = selection(v, t.i);
  let at = null;
  if (sel) {
    const a = list.findIndex((c) => c.src && c.src[0] >= sel.start);
    let b = -1;
    list.forEach((c, i) => { if (c.src && c.src[1] <= sel.end) b = i + 1; });
    if (a >= 0 && b > a) at = { a, b };
  }
  const next = evd.moveSelection(ws, at, op);
  if (!next) {
    say(v, op === "shrink" ? "The selection is one word: Esc clears it." : "No more words in this turn.");
    return;
  }
  const span = evd.charsToSpan(list, next.a, next.b);
  if (span) setSelection(v, { ti: t.i, start: span.start, end: span.end });
}

// --- header ---------------------------------------------------------------------------------------
function renderHeader(v) {
  const { model, ui } = v;
  const coder = model.get("annotator_id");
  ui.picker.hidden = !!coder; // without a coder the widget shows only the picker
  ui.bar.hidden = !coder;
  ui.main.hidden = !coder;
  const p = model.get("progress") || { done: 0, total: 0 };
  ui.progressText.textContent = `${p.done} / ${p.total}`;
  ui.progressFill.style.width = p.total ? `${(100 * p.done) / p.total}%` : "0%";
  ui.progressBar.setAttribute("aria-valuenow", String(p.done));
  ui.progressBar.setAttribute("aria-valuemax", String(p.total));
  const items = model.get("queue_items") || [];
  const conv = model.get("conversation") || {};
  const sig = items.map((q) => q.status || "").join();
  if (ui.jump.options.length !== items.length || ui.jump.dataset.sig !== sig) {
    ui.jump.replaceChildren();
    for (const q of items) {
      const mark = q.status === "done" ? " ✓" : q.status === "skipped" ? " (skipped)" : "";
      const o = h("option", null, `${q.i + 1}. ${q.id}${mark}`);
      o.value = String(q.i);
      ui.jump.append(o);
    }
    ui.jump.dataset.sig = sig;
  }
  ui.jump.value = String(conv.index ?? 0);
  ui.who.textContent = coder ? `coder: ${coder}` : "";
  ui.who.title = ui.who.textContent;
}

// --- help: the keys, then the whole codebook (the focused turn's codes first), over the widget ------
function toggleHelp(v, force) {
  const help = v.ui.help;
  const show = force === undefined ? help.hidden : force;
  help.hidden = !show;
  if (!show) { keepKeyboard(v); return; }
  help.replaceChildren();
  const close = button("aa-btn aa-help-close", "close", () => toggleHelp(v, false), "close (Esc or ?)");
  close.append(kbd("Esc"));
  help.append(close, h("h3", null, `${cb(v).title} · v${cb(v).version}`));
  const keys = h("table", "aa-keytable");
  keys.dataset.helpKeys = "";
  for (const [k, does] of KEY_HELP) {
    const row = h("tr");
    row.append(h("th", null, k), h("td", null, does));
    keys.append(row);
  }
  help.append(h("h4", null, "Keys"), keys);
  const t = focusedTurn(v);
  const first = new Set([...(t ? cb(v).turn[t.role] || [] : []), ...cb(v).conversation]);
  const order = [...first, ...Object.keys(cb(v).codes).filter((id) => !first.has(id))];
  const keyOf = keyMaps(v).keyOf;
  for (const id of order) {
    const c = codeOf(v, id);
    const sec = h("section", "aa-help-code");
    sec.dataset.helpCode = id;
    const head = h("h4", null, `${c.label} (${c.id}) · ${c.unit}, ${c.applies_to.join("/")}, ${c.level}`);
    if (keyOf.get(id)) head.prepend(kbd(keyOf.get(id)));
    sec.append(head, codeHelp(c));
    help.append(sec);
  }
  help.scrollTop = 0;
  v.ui.root.scrollIntoView({ block: "nearest" }); // the overlay covers the widget: bring it in view
}

// --- keys (what each key does is keys.js) ---------------------------------------------------------
function keyContext(v) {
  const t = focusedTurn(v);
  const K = keyMaps(v);
  return {
    active: !!v.model.get("annotator_id"),
    help: !v.ui.help.hidden,
    hidden: contentHidden(v),
    turn: t ? { i: t.i, role: t.role } : null,
    turnKeys: t ? K.roleKeys.get(t.role) || new Map() : new Map(),
    convKeys: K.convKeys,
    roleKeys: K.roleKeys,
    codes: cb(v).codes,
    sel: !!(t && selection(v, t.i)),
  };
}

function onKey(v, e) {
  const typing = isTyping(e.target);
  if ((e.key === "Enter" || e.key === " ") && e.target !== v.ui.root && e.target.matches("button, input, select")) {
    e.stopPropagation(); // a focused button or checkbox: its own Enter / space (the browser's)
    return;
  }
  const r = annotatorKey({ panel: v.S.panel, pick: v.S.pick },
    { key: e.key, ctrlKey: e.ctrlKey, metaKey: e.metaKey, altKey: e.altKey, shiftKey: e.shiftKey, typing },
    keyContext(v));
  const action = r.action;
  if (action === PASS) return;
  e.stopPropagation(); // never let a key reach the notebook (plus data-lm-suppress-shortcuts)
  v.S.panel = r.S.panel;
  v.S.pick = r.S.pick;
  if (r.say !== undefined) say(v, r.say);
  if (action.type === "none") {
    if (!typing && e.target !== v.ui.root) { e.preventDefault(); keepKeyboard(v); } // e.g. the jump list
    showPanel(v);
    return;
  }
  e.preventDefault();
  run(v, action);
  showPanel(v);
  if (!typing) keepKeyboard(v);
}

function run(v, a) {
  const code = a.id ? codeOf(v, a.id) : null;
  switch (a.type) {
    case "leave-field": document.activeElement.blur(); v.ui.root.focus({ preventScroll: true }); return;
    case "focus": setFocus(v, v.S.focus + a.by); return;
    case "nav": nav(v, a.to); return;
    case "undo": send(v, { type: "undo" }, true); return;
    case "help": toggleHelp(v, a.show); return;
    case "help-scroll": v.ui.help.scrollBy(0, a.lines * 24); return;
    case "panel": {
      const panel = a.panel === "conversation" ? v.ui.convPanel : v.ui.turnPanel;
      panel.scrollIntoView({ block: "nearest" });
      return;
    }
    case "toggle": if (code) setCode(v, code, a.ti, st.binaryNext); return;
    case "choose": if (code) setCode(v, code, a.ti, (c, cur) => st.chooseNext(c, cur, a.value), a.value); return;
    case "attach": if (code) setCode(v, code, a.ti, (c, cur) => cur, undefined); return;
    case "clear": if (code) change(v, a.ti, a.id, null); return;
    case "sel": keySelect(v, a.op); return;
    case "unmark": unmark(v); return;
    case "done": markDone(v); return;
    case "skip": skip(v); return;
    case "reveal": reveal(v); return;
    case "flag": {
      const panel = a.ti === null ? v.ui.convPanel : v.ui.turnPanel;
      const b = panel.querySelector(".aa-flag");
      if (b && !b.disabled) b.click(); // unflags, or opens the "why" field (Enter flags)
      return;
    }
    case "memo": {
      const panel = a.ti === null ? v.ui.convPanel : v.ui.turnPanel;
      const area = panel.querySelector(".aa-memo");
      if (area && !area.disabled) { area.focus(); say(v, "Type the memo; Esc leaves the field and saves it."); }
      return;
    }
    default: // "pick" (shown by showPanel), "pick-end"
  }
}

// --- coder picker (when no annotator was given): the widget shows only this -----------------------
function renderPicker(v) {
  const pick = v.ui.picker;
  pick.replaceChildren(h("p", null, "Who is coding? Pick your name:"));
  for (const c of v.model.get("coders") || []) {
    const b = button("aa-btn aa-coder", c,
      () => v.model.send({ type: "pick", annotator: c, seq: `${v.viewId}:pick` }));
    b.dataset.coder = c;
    pick.append(b);
  }
  v.ui.pickerSay = h("p", "aa-say");
  v.ui.pickerSay.setAttribute("role", "status");
  pick.append(v.ui.pickerSay);
}

// --- care: break reminder ---------------------------------------------------------------------------
function armBreak(v) {
  clearTimeout(v.S.breakTimer);
  const minutes = (v.model.get("options") || {}).break_after_minutes || 0;
  if (minutes > 0) v.S.breakTimer = setTimeout(() => showBreak(v), minutes * 60000);
}

function showBreak(v) {
  const notice = v.ui.notice;
  notice.replaceChildren(h("span", null,
    "You have been coding for a while. A short break helps keep your judgements steady."),
  button("aa-btn", "thanks", () => { notice.hidden = true; armBreak(v); }));
  notice.dataset.break = "";
  notice.hidden = false;
}

// --- wiring: model events, keys, clicks, first render -----------------------------------------------
function wire(v) {
  const { model, ui } = v;
  ui.root.addEventListener("keydown", (e) => onKey(v, e));
  // words selected with the mouse become the pending evidence (after the click has run)
  ui.chat.addEventListener("mouseup", () => mouseSelect(v));
  ui.chat.addEventListener("click", (e) => {
    const node = e.target.closest && e.target.closest(".aa-turn");
    if (node) setFocus(v, [...ui.chat.querySelectorAll(".aa-turn")].indexOf(node));
  });
  // after any click in the widget (a turn, a code, a chip, the flag, a button...) the keys act
  // on the panel clicked in, and the root has the keyboard again, unless a text field took it
  ui.root.addEventListener("click", (e) => {
    const t = e.target;
    if (!t.closest || t.closest("select")) return; // the jump list gives it back on change
    const unit = t.closest("[data-unit]");
    if (unit || t.closest(".aa-chat")) {
      v.S.panel = unit && unit.dataset.unit === "conversation" ? "conversation" : "turn";
    }
    endPick(v);
    showPanel(v);
    keepKeyboard(v);
  });
  model.on("msg:custom", (msg) => onReply(v, msg));
  model.on("change:save_state", () => { // another view of the same model saved or failed
    const s = model.get("save_state") || {};
    if (v.S.outstanding.size === 0) { v.S.error = s.status === "error"; ui.setSave(s.status, s.message); }
  });
  model.on("change:conversation", () => renderConversation(v, false));
  model.on("change:labels", () => applyLabels(v));
  model.on("change:progress", () => renderHeader(v));
  model.on("change:queue_items", () => renderHeader(v));
  model.on("change:annotator_id", () => renderHeader(v));
  const s = model.get("save_state") || {};
  ui.setSave(s.status || "saved", s.message);
  v.S.error = s.status === "error";
  say(v, "");
  renderPicker(v);
  if (model.get("annotator_id")) renderConversation(v, false);
  renderHeader(v);
  armBreak(v);
}

export default { render };
