// annotate: the annotation widget's view (anywidget ES module; bundled by esbuild into
// annotate/widgets/static/annotator.js, see docs/internals.md "Widget front end").
// Python (annotator.py) owns the state; this view renders the synced traits and sends one small
// message per action. The parts: layout (built once), labels (state.js overlay), panels,
// conversation, header, help, keys (keys.js), picker, break reminder, wiring.
// Safety: corpus text is only ever put in the DOM with textContent / text nodes (chat.js).

import { codeHelp, saveIndicator, turnNode } from "./chat.js";
import { cueMatcher } from "./cues.js";
import { button, h, isTyping } from "./dom.js";
import { annotatorKey, codeKeyMap, PASS } from "./keys.js";
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
    },
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

// --- layout: header, notice, chat, side panels, help (built once) ---------------------------------
function layout(v) {
  const root = h("div", "annotate-annotator");
  root.tabIndex = 0;
  root.dataset.lmSuppressShortcuts = "true"; // Lumino skips its shortcuts for keys from here
  root.setAttribute("aria-label", "annotation widget");
  const ui = { root, ...header(v) };
  ui.notice = h("div", "aa-notice");
  ui.notice.hidden = true;
  const main = h("div", "aa-main");
  ui.chat = h("div", "aa-chat");
  const side = h("div", "aa-side");
  ui.turnPanel = h("section", "aa-panel aa-turn-panel");
  ui.turnPanel.dataset.unit = "turn";
  ui.convPanel = h("section", "aa-panel aa-conv-panel");
  ui.convPanel.dataset.unit = "conversation";
  side.append(ui.turnPanel, ui.convPanel);
  main.append(ui.chat, side);
  ui.help = h("div", "aa-help");
  ui.help.hidden = true;
  ui.help.setAttribute("role", "dialog");
  ui.help.setAttribute("aria-label", "codebook");
  root.append(ui.bar, ui.notice, main, ui.help);
  return ui;
}

// the header: progress, jump, navigation, cue toggle, help, coder, save indicator
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
  const helpBtn = button("aa-btn", "? codebook", () => toggleHelp(v), "codebook help (?)");
  const save = saveIndicator(() => send(v, { type: "retry" }, true));
  const who = h("span", "aa-who");
  bar.append(progressText, progressBar, jump, prevBtn, nextBtn, cueLabel, helpBtn, who, save.node);
  return { bar, progressText, progressBar, progressFill, jump, cueLabel, cueBox, who, setSave: save.set };
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

// one label change: sent at once, shown at once (optimistic) until the kernel acks it
function change(v, ti, codeId, newValue, extra) {
  const since = ti === null ? v.S.openedAt : v.S.focusSince;
  const msg = { type: "set", code_id: codeId, value: newValue, turn_index: ti,
    elapsed_ms: Math.round(performance.now() - since), ...(extra || {}) };
  const seq = send(v, msg, true);
  v.S.optimistic.set(st.keyText(ti, codeId), { value: st.storedForm(newValue), seq });
  applyLabels(v);
}

function setCode(v, code, ti, next) {
  change(v, ti, code.id, next(code, value(v, ti, code.id)));
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
function tooltip(code) {
  const parts = [code.label + (code.key ? `  [${code.key}]` : ""), code.definition];
  if (code.when_to_use) parts.push("Use when: " + code.when_to_use);
  if (code.when_not_to_use) parts.push("Not when: " + code.when_not_to_use);
  if (code.examples.length) parts.push("e.g. " + code.examples[0]);
  return parts.filter(Boolean).join("\n");
}

function codeControl(v, code, ti, n) {
  const label = (n ? `${n} ` : "") + code.label + (code.key ? ` [${code.key}]` : "");
  if (code.level === "binary") {
    const b = button("aa-code aa-binary", label, () => setCode(v, code, ti, st.binaryNext), tooltip(code));
    b.dataset.codeId = code.id;
    b.setAttribute("aria-pressed", "false");
    return b;
  }
  const wrap = h("div", `aa-code aa-choice aa-${code.level}`);
  wrap.dataset.codeId = code.id;
  wrap.setAttribute("role", "group");
  wrap.setAttribute("aria-pressed", "false");
  wrap.setAttribute("aria-label", code.label);
  const name = h("span", "aa-code-label", label);
  name.title = tooltip(code);
  wrap.append(name);
  for (const cv of code.values) {
    const b = button("aa-val", cv.label || cv.value,
      () => setCode(v, code, ti, (c, cur) => st.chooseNext(c, cur, cv.value)), cv.definition || cv.label);
    b.dataset.value = cv.value;
    b.setAttribute("aria-pressed", "false");
    wrap.append(b);
  }
  return wrap;
}

function memoBox(v, ti, unitName) {
  const area = h("textarea", "aa-memo");
  area.dataset.memo = unitName;
  area.rows = 2;
  area.placeholder = `memo on this ${unitName}`;
  area.addEventListener("change", () => change(v, ti, "_memo", area.value.trim() || null));
  return area;
}

// flag for discussion, with an optional "why" (Enter flags, Esc cancels)
function flagButton(v, ti) {
  const row = h("div", "aa-row aa-flag-row");
  const why = h("input", "aa-flag-why");
  why.placeholder = "why? (Enter flags, Esc cancels)";
  why.setAttribute("aria-label", "why flag");
  why.hidden = true;
  const b = button("aa-btn aa-flag", "⚑ flag", () => {
    if (value(v, ti, "_flag")) { change(v, ti, "_flag", null); return; }
    why.hidden = false; why.value = ""; why.focus();
  }, "flag for discussion");
  b.dataset.flag = ti === null ? "conversation" : "turn";
  b.setAttribute("aria-pressed", "false");
  why.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      change(v, ti, "_flag", "1", { note: why.value.trim() || null });
      why.hidden = true; v.ui.root.focus();
    } else if (e.key === "Escape") { why.hidden = true; }
  });
  row.append(b, why);
  return row;
}

// --- side panels ----------------------------------------------------------------------------------
function renderTurnPanel(v) {
  const panel = v.ui.turnPanel;
  panel.replaceChildren();
  const t = focusedTurn(v);
  if (!t || contentHidden(v)) { panel.append(h("p", "aa-muted", "no turn focused")); return; }
  panel.append(h("h4", null, `Turn ${t.i} · ${t.role}`));
  const ids = cb(v).turn[t.role] || [];
  const list = h("div", "aa-codes");
  ids.forEach((id, n) => list.append(codeControl(v, codeOf(v, id), t.i, n < 9 ? n + 1 : null)));
  if (!ids.length) list.append(h("p", "aa-muted", `no codes apply to ${t.role} turns`));
  panel.append(list, memoBox(v, t.i, "turn"), flagButton(v, t.i));
}

function renderConvPanel(v) {
  const panel = v.ui.convPanel;
  panel.replaceChildren();
  const conv = v.model.get("conversation") || {};
  panel.append(h("h4", null, "Conversation"));
  const list = h("div", "aa-codes");
  for (const id of cb(v).conversation) list.append(codeControl(v, codeOf(v, id), null, null));
  const status = h("p", "aa-status");
  status.dataset.status = "";
  const elapsed = () => Math.round(performance.now() - v.S.openedAt);
  const done = button("aa-btn aa-done", "✓ done", () => send(v, { type: "done", elapsed_ms: elapsed() }, true),
    "mark this conversation done and open the next");
  const reason = h("input", "aa-skip-reason");
  reason.placeholder = "reason to skip";
  reason.setAttribute("aria-label", "reason to skip");
  const skip = button("aa-btn aa-skip", "skip", () => {
    if (!reason.value.trim()) { reason.focus(); reason.classList.add("aa-need"); return; }
    send(v, { type: "skip", reason: reason.value.trim(), elapsed_ms: elapsed() }, true);
  }, "skip this conversation (needs a reason)");
  const row = h("div", "aa-row");
  row.append(done, reason, skip);
  panel.append(list, memoBox(v, null, "conversation"), flagButton(v, null), status, row);
  panel.append(h("p", "aa-muted", conv.reliability ? "reliability sample: blind, no cues" : "blind"));
}

// --- labels shown: controls, memos, flags, status, the chips on each turn --------------------------
function applyControl(v, node, ti) {
  const codeId = node.dataset.codeId;
  const cur = value(v, ti, codeId);
  node.setAttribute("aria-pressed", cur === null ? "false" : "true");
  node.classList.toggle("aa-unsaved", st.isUnsaved(v.model.get("labels"), v.S.optimistic, ti, codeId));
  if (node.classList.contains("aa-choice")) {
    const chosen = cur === null ? [] : node.classList.contains("aa-set") ? JSON.parse(cur) : [cur];
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
  const status = convPanel.querySelector("[data-status]");
  if (status) status.textContent = st.statusText(value(v, null, "_status"), L.notes);
  for (const node of chat.querySelectorAll(".aa-turn")) {
    const unit = st.turnLabels(L, v.S.optimistic, Number(node.dataset.turnIndex));
    const chips = node.querySelector(".aa-applied");
    const text = st.chipText(unit, (id) => codeOf(v, id));
    if (chips.textContent !== text) chips.textContent = text;
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

function contentNote(v, conv) {
  const note = h("div", "aa-content-note");
  note.dataset.contentNote = "";
  note.append(h("p", null, `Content note: this conversation contains ${conv.content_note}.`));
  note.append(h("p", "aa-muted", "Take a moment. You can skip it (with a reason) if you need to."));
  note.append(button("aa-btn aa-reveal", "Show the conversation", () => {
    v.S.revealed.add(conv.id); renderConversation(v, false); v.ui.root.focus();
  }));
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
  }
  if (!(same && keepFocus)) S.focus = 0;
  ui.root.dataset.conversationId = conv.id || "";
  ui.cueBox.disabled = !!conv.reliability;
  ui.cueLabel.title = conv.reliability ? "cues are never shown on the reliability sample" : "highlight cue phrases";
  if (contentHidden(v)) ui.chat.replaceChildren(contentNote(v, conv));
  else {
    const cue = cues(v);
    const frag = document.createDocumentFragment();
    for (const t of conv.turns || []) frag.append(turnNode(t, cue));
    ui.chat.replaceChildren(frag);
  }
  renderConvPanel(v);
  setFocus(v, S.focus, true);
  renderHeader(v);
  S.renders += 1;
  const tag = `${conv.id}#${S.renders}`;
  if (hadFocus && !ui.root.contains(document.activeElement)) ui.root.focus({ preventScroll: true });
  requestAnimationFrame(() => { ui.root.dataset.ready = tag; });
}

function setFocus(v, i, quiet) {
  const { S, ui } = v;
  const nodes = ui.chat.querySelectorAll(".aa-turn");
  if (!nodes.length) { S.focus = 0; renderTurnPanel(v); applyLabels(v); return; }
  i = Math.max(0, Math.min(nodes.length - 1, i));
  const prev = ui.chat.querySelector(".aa-focused");
  if (prev) { prev.classList.remove("aa-focused"); prev.removeAttribute("aria-current"); }
  const node = nodes[i];
  node.classList.add("aa-focused");
  node.setAttribute("aria-current", "true");
  if (i !== S.focus || !quiet) S.focusSince = performance.now();
  S.focus = i;
  if (i === nodes.length - 1) S.reachedEnd = true;
  if (!quiet) node.scrollIntoView({ block: "nearest" });
  renderTurnPanel(v);
  applyLabels(v);
}

// --- header ---------------------------------------------------------------------------------------
function renderHeader(v) {
  const { model, ui } = v;
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
  ui.who.textContent = model.get("annotator_id") ? `coder: ${model.get("annotator_id")}` : "";
}

// --- help: the whole codebook, the focused turn's codes first --------------------------------------
function toggleHelp(v, force) {
  const help = v.ui.help;
  const show = force === undefined ? help.hidden : force;
  help.hidden = !show;
  if (!show) return;
  help.replaceChildren();
  const close = button("aa-btn aa-help-close", "close (Esc)", () => toggleHelp(v, false));
  help.append(h("h3", null, `${cb(v).title} · v${cb(v).version}`), close);
  const t = focusedTurn(v);
  const first = new Set([...(t ? cb(v).turn[t.role] || [] : []), ...cb(v).conversation]);
  const order = [...first, ...Object.keys(cb(v).codes).filter((id) => !first.has(id))];
  for (const id of order) {
    const c = codeOf(v, id);
    const sec = h("section", "aa-help-code");
    sec.dataset.helpCode = id;
    sec.append(h("h4", null, `${c.label} (${c.id}) · ${c.unit}, ${c.applies_to.join("/")}, ${c.level}` +
      (c.key ? ` · key ${c.key}` : "")));
    sec.append(codeHelp(c));
    help.append(sec);
  }
}

// --- keys (the map is keys.js) --------------------------------------------------------------------
function keyContext(v) {
  const t = focusedTurn(v);
  const turnCodes = t ? cb(v).turn[t.role] || [] : [];
  return {
    active: !!v.model.get("annotator_id"),
    coding: !!t && !contentHidden(v),
    turn: t ? t.i : null,
    turnCodes,
    codeKeys: codeKeyMap(turnCodes.map((id) => codeOf(v, id)),
      cb(v).conversation.map((id) => codeOf(v, id)), t ? t.i : null),
  };
}

function onKey(v, e) {
  const action = annotatorKey({ key: e.key, ctrlKey: e.ctrlKey, metaKey: e.metaKey, altKey: e.altKey,
    typing: isTyping(e.target) }, keyContext(v));
  if (action === PASS) return;
  e.stopPropagation(); // never let a key reach the notebook (plus data-lm-suppress-shortcuts)
  switch (action.type) {
    case "none": return;
    case "leave-field": e.target.blur(); v.ui.root.focus(); return;
    case "focus": setFocus(v, v.S.focus + action.by); break;
    case "nav": nav(v, action.to); break;
    case "undo": send(v, { type: "undo" }, true); break;
    case "help": toggleHelp(v, action.show); break;
    case "code": {
      const code = codeOf(v, action.id);
      if (code) setCode(v, code, action.ti, st.keyNext);
      break;
    }
  }
  e.preventDefault();
}

// --- coder picker (when no annotator was given) -----------------------------------------------------
function renderPicker(v) {
  const pick = h("div", "aa-picker");
  pick.append(h("p", null, "Who is coding? Pick your name:"));
  for (const c of v.model.get("coders") || []) {
    const b = button("aa-btn aa-coder", c,
      () => v.model.send({ type: "pick", annotator: c, seq: `${v.viewId}:pick` }));
    b.dataset.coder = c;
    pick.append(b);
  }
  v.ui.chat.replaceChildren(pick);
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
  button("aa-btn", "thanks", () => { notice.hidden = true; armBreak(v); v.ui.root.focus(); }));
  notice.dataset.break = "";
  notice.hidden = false;
}

// --- wiring: model events, keys, first render ---------------------------------------------------------
function wire(v) {
  const { model, ui } = v;
  ui.root.addEventListener("keydown", (e) => onKey(v, e));
  ui.chat.addEventListener("click", (e) => {
    const node = e.target.closest && e.target.closest(".aa-turn");
    if (node) setFocus(v, [...ui.chat.querySelectorAll(".aa-turn")].indexOf(node));
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
  if (model.get("annotator_id")) renderConversation(v, false);
  else { renderPicker(v); renderConvPanel(v); }
  armBreak(v);
}

export default { render };
