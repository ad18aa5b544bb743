// annotate: the adjudication widget's view (anywidget ES module; bundled by esbuild into
// annotate/widgets/static/adjudicator.js, see docs/internals.md "Widget front end").
// Python (adjudicator.py) owns the state; this view renders the synced traits and sends one
// message per action. The parts: layout (built once), the decision form (state.js reducer),
// item, help, conversation with the item's turn highlighted, header, keys (keys.js), wiring.
// Corpus text and coders' memos only ever reach the DOM through textContent / text nodes.

import { codeHelp, saveIndicator, turnNode } from "./chat.js";
import { button, h, isTyping } from "./dom.js";
import { adjudicatorKey, PASS } from "./keys.js";
import * as st from "./state.js";

// --- the view ---------------------------------------------------------------------------------------
function render({ model, el }) {
  const v = {
    model,
    viewId: Math.random().toString(36).slice(2, 8),
    S: { seq: 0, outstanding: new Set(), acks: 0, convId: null, key: null },
    // the decision being made (kept across save errors; reset when another item opens)
    F: st.formFor(null, { level: "nominal" }),
  };
  v.ui = layout(v);
  el.append(v.ui.root);
  wire(v);
}

const itemOf = (v) => v.model.get("item") || {};
const codeOf = (v) => v.model.get("codebook_data").codes[itemOf(v).code_id] ||
  { values: [], level: "nominal", label: "?" };

// --- layout: header, chat, side panel (built once, filled per item) ---------------------------------
function layout(v) {
  const root = h("div", "annotate-adjudicator");
  root.tabIndex = 0;
  root.dataset.lmSuppressShortcuts = "true"; // Lumino skips its shortcuts for keys from here
  root.setAttribute("aria-label", "adjudication widget");
  root.dataset.acks = "0";
  const ui = { root, ...header(v) };
  const main = h("div", "aa-main ad-main");
  ui.chat = h("div", "aa-chat ad-chat");
  ui.chat.dataset.unit = "conversation";
  const side = h("div", "aa-side ad-side");
  main.append(ui.chat, side);
  root.append(ui.bar, main);
  Object.assign(ui, sidePanel(v, side));
  return ui;
}

function header(v) {
  const bar = h("div", "aa-header");
  const progressText = h("span", "aa-progress-text");
  progressText.dataset.progress = "";
  progressText.title = "decided / disagreements";
  const jump = h("select", "aa-jump ad-jump");
  jump.setAttribute("aria-label", "jump to item");
  jump.addEventListener("change", () => { nav(v, Number(jump.value)); v.ui.root.focus({ preventScroll: true }); });
  const prevBtn = button("aa-btn", "◀ p", () => nav(v, "prev"), "previous item (p)");
  const nextBtn = button("aa-btn", "n ▶", () => nav(v, "next"), "next item (n)");
  const openBtn = button("aa-btn", "next open", () => nav(v, "next_open"), "next undecided item");
  const helpBtn = button("aa-btn", "? codebook", () => toggleHelp(v), "the code's definition (?)");
  const who = h("span", "aa-who");
  const save = saveIndicator(null);
  bar.append(progressText, jump, prevBtn, nextBtn, openBtn, helpBtn, who, save.node);
  return { bar, progressText, jump, who, setSave: save.set };
}

// the item, its gold value, the coders, the form (value, kind, memo, codebook change), help
function sidePanel(v, side) {
  const ui = {};
  ui.head = h("div", "ad-item");
  ui.head.dataset.item = "";
  ui.gold = h("p", "ad-gold");
  ui.gold.dataset.gold = "";
  ui.coders = h("div", "ad-coders");
  ui.values = h("div", "ad-values");
  ui.values.setAttribute("role", "group");
  ui.values.setAttribute("aria-label", "gold value");
  ui.kinds = h("div", "ad-kinds");
  ui.kinds.setAttribute("role", "group");
  ui.kinds.setAttribute("aria-label", "kind of disagreement");
  for (const k of v.model.get("kinds") || []) {
    const b = button("ad-kind aa-val", k.replace(/_/g, " "), () => update(v, { type: "kind", kind: k }));
    b.dataset.kind = k;
    b.setAttribute("aria-pressed", "false");
    ui.kinds.append(b);
  }
  ui.memo = h("textarea", "aa-memo ad-memo");
  ui.memo.dataset.memo = "adjudication";
  ui.memo.rows = 3;
  ui.memo.placeholder = "memo: why this value";
  ui.memo.setAttribute("aria-label", "adjudication memo");
  ui.memo.addEventListener("input", () => { v.F = st.formReducer(v.F, { type: "memo", text: ui.memo.value }, codeOf(v)); });
  ui.change = h("input", "ad-change");
  ui.change.dataset.codebookChange = "";
  ui.change.placeholder = "linked codebook change (optional), e.g. 1.0.1: clarified ai_empathy";
  ui.change.setAttribute("aria-label", "linked codebook change");
  ui.change.addEventListener("input", () => { v.F = st.formReducer(v.F, { type: "change", text: ui.change.value }, codeOf(v)); });
  ui.formMsg = h("p", "ad-form-msg");
  ui.formMsg.dataset.formMsg = "";
  const saveBtn = button("aa-btn ad-save", "Save decision ⏎", () => submit(v), "save (Enter)");
  saveBtn.dataset.action = "save";
  ui.help = h("div", "ad-help");
  ui.help.dataset.help = "";
  side.append(ui.head, ui.gold, h("h4", null, "Coders"), ui.coders, h("h4", null, "Gold value"), ui.values,
    h("h4", null, "Kind of disagreement"), ui.kinds, ui.memo, ui.change, ui.formMsg, saveBtn, ui.help);
  return ui;
}

// --- messages to the kernel -------------------------------------------------------------------------
function send(v, msg, isSave) {
  msg.seq = `${v.viewId}:${++v.S.seq}`;
  if (isSave) { v.S.outstanding.add(msg.seq); v.ui.setSave("saving"); }
  v.model.send(msg);
}

function nav(v, to) { send(v, { type: "nav", to }, false); }

function onReply(v, msg) {
  if (!msg || !msg.seq || !String(msg.seq).startsWith(v.viewId + ":")) return;
  const wasSave = v.S.outstanding.delete(msg.seq);
  if (msg.type === "error") v.ui.setSave("error", msg.message);
  else if (msg.type === "ack" && wasSave) {
    v.S.acks += 1;
    v.ui.root.dataset.acks = String(v.S.acks);
    if (v.S.outstanding.size === 0) v.ui.setSave("saved");
  }
}

// --- the decision form ------------------------------------------------------------------------------
function update(v, action) {
  v.F = st.formReducer(v.F, action, codeOf(v));
  applyForm(v);
}

function submit(v) {
  const { ui } = v;
  v.F = st.formReducer(st.formReducer(v.F, { type: "memo", text: ui.memo.value }, codeOf(v)),
    { type: "change", text: ui.change.value }, codeOf(v));
  const missing = st.missing(v.F);
  ui.values.classList.toggle("aa-need", v.F.value === null);
  ui.kinds.classList.toggle("aa-need", !v.F.kind);
  if (missing.length) { ui.formMsg.textContent = `Choose ${missing.join(" and ")} first.`; return; }
  ui.formMsg.textContent = "";
  send(v, st.decideMessage(v.F, itemOf(v), codeOf(v)), true);
}

function resetForm(v) {
  const { ui } = v;
  v.F = st.formFor(itemOf(v), codeOf(v));
  ui.memo.value = v.F.memo;
  ui.change.value = v.F.change;
  ui.formMsg.textContent = "";
  ui.values.classList.remove("aa-need");
  ui.kinds.classList.remove("aa-need");
}

function applyForm(v) {
  const { ui, F } = v;
  const c = codeOf(v);
  for (const b of ui.values.querySelectorAll("[data-value]"))
    b.setAttribute("aria-pressed", st.isPicked(F, c, b.dataset.value) ? "true" : "false");
  for (const b of ui.kinds.querySelectorAll("[data-kind]"))
    b.setAttribute("aria-pressed", F.kind === b.dataset.kind ? "true" : "false");
  for (const card of ui.coders.querySelectorAll("[data-coder]")) {
    const cv = (itemOf(v).values || {})[card.dataset.coder];
    card.classList.toggle("ad-picked", cv !== undefined && cv === F.value);
  }
  if (F.value !== null) ui.values.classList.remove("aa-need");
  if (F.kind) ui.kinds.classList.remove("aa-need");
}

// --- the item: what is disputed, the gold value, each coder's value and memo, the choices ------------
function renderItem(v) {
  const { ui } = v;
  const it = itemOf(v);
  const c = codeOf(v);
  ui.root.dataset.itemKey = it.key || "";
  ui.head.replaceChildren();
  if (!it.key) {
    ui.head.append(h("p", null, "No disagreements: nothing to adjudicate."));
    for (const n of [ui.coders, ui.values]) n.replaceChildren();
    ui.gold.textContent = "";
    return;
  }
  ui.head.dataset.unit = it.unit;
  const where = it.turn_index === null || it.turn_index === undefined
    ? "whole conversation" : `turn ${it.turn_index}${it.role ? " · " + it.role : ""}`;
  ui.head.append(h("h3", null, c.label), h("p", "aa-muted", `${it.code_id} · ${c.level} · ${it.conversation_id} · ${where}`));
  renderGold(v, it, c);
  ui.coders.replaceChildren(...coderCards(v, it, c));
  ui.values.replaceChildren(...valueButtons(v, it, c));
  renderHelp(v);
  applyForm(v);
}

function renderGold(v, it, c) {
  const gold = v.ui.gold;
  const decided = it.gold !== null && it.gold !== undefined;
  const d = it.decision || {};
  gold.textContent = !decided ? "not decided yet"
    : `gold: ${st.valueLabel(c, it.gold)}` + (d.kind ? ` · ${d.kind}` : "") + (d.adjudicator ? ` · by ${d.adjudicator}` : "");
  gold.classList.toggle("ad-decided", decided);
  gold.dataset.gold = decided ? it.gold : "";
}

function coderCards(v, it, c) {
  const names = [...new Set([...Object.keys(it.values || {}), ...Object.keys(it.memos || {})])].sort();
  return names.map((name) => {
    const cv = (it.values || {})[name];
    const card = h("div", "ad-coder");
    card.dataset.coder = name;
    card.title = cv === undefined ? "" : "click to take this coder's value";
    card.append(h("span", "ad-coder-name", name));
    const val = h("span", "ad-coder-value", st.valueLabel(c, cv));
    val.dataset.coderValue = cv === undefined ? "" : cv;
    card.append(val);
    const m = (it.memos || {})[name];
    const memoNode = h("p", "ad-coder-memo", m || "no memo");
    memoNode.dataset.coderMemo = m || "";
    if (!m) memoNode.classList.add("aa-muted");
    card.append(memoNode);
    card.addEventListener("click", () => update(v, { type: "coder", value: (itemOf(v).values || {})[name] }));
    return card;
  });
}

function valueButtons(v, it, c) {
  return (c.values || []).map((cv, n) => {
    const by = st.chosenBy(c, it.values, cv.value);
    const b = button("aa-val ad-value", "", () => update(v, { type: "pick", value: cv.value }), cv.definition || cv.label);
    b.dataset.value = cv.value;
    b.setAttribute("aria-pressed", "false");
    if (n < 9) b.append(h("span", "ad-keyhint", String(n + 1)));
    b.append(document.createTextNode(cv.label && cv.label !== cv.value ? `${cv.label} (${cv.value})` : cv.value));
    if (by.length) {
      b.classList.add("ad-coder-choice");
      b.dataset.chosenBy = by.join(",");
      b.append(h("span", "ad-by", by.join(", ")));
    }
    return b;
  });
}

// --- help: the code's definition beside the form -------------------------------------------------------
function renderHelp(v) {
  const c = codeOf(v);
  v.ui.help.replaceChildren(h("h4", null, `Codebook: ${c.label}`), codeHelp(c, { examples: 2 }));
}

function toggleHelp(v, force) {
  v.ui.help.hidden = force === undefined ? !v.ui.help.hidden : !force;
}

// --- the conversation, the item's turn highlighted ------------------------------------------------------
function renderConversation(v) {
  const conv = v.model.get("conversation") || {};
  v.S.convId = conv.id;
  v.ui.root.dataset.conversationId = conv.id || "";
  const frag = document.createDocumentFragment();
  if (conv.content_note) {
    const note = h("p", "aa-content-note ad-content-note", `Content note: this conversation contains ${conv.content_note}.`);
    note.dataset.contentNote = "";
    frag.append(note);
  }
  for (const t of conv.turns || []) frag.append(turnNode(t, null));
  v.ui.chat.replaceChildren(frag);
}

function highlight(v) {
  const it = itemOf(v);
  const chat = v.ui.chat;
  for (const n of chat.querySelectorAll(".aa-focused")) {
    n.classList.remove("aa-focused", "ad-highlight");
    n.removeAttribute("aria-current");
  }
  const conversationLevel = it.turn_index === null || it.turn_index === undefined;
  chat.classList.toggle("ad-conv-highlight", !!it.key && conversationLevel);
  if (!it.key || conversationLevel) { chat.scrollTop = 0; return; }
  const node = chat.querySelector(`[data-turn-index="${Number(it.turn_index)}"]`);
  if (!node) return;
  node.classList.add("aa-focused", "ad-highlight");
  node.setAttribute("aria-current", "true");
  node.classList.remove("aa-collapsed");
  // scroll inside the chat panel only (never the notebook): centre the turn
  chat.scrollTop = Math.max(0, node.offsetTop - chat.offsetTop - (chat.clientHeight - node.offsetHeight) / 2);
}

// --- header --------------------------------------------------------------------------------------------
function renderHeader(v) {
  const { model, ui } = v;
  const p = model.get("progress") || { decided: 0, total: 0 };
  ui.progressText.textContent = `${p.decided} / ${p.total}`;
  const list = model.get("items_index") || [];
  const sig = list.map((x) => (x.decided ? "1" : "0")).join("");
  if (ui.jump.dataset.sig !== sig || ui.jump.options.length !== list.length) {
    ui.jump.replaceChildren();
    for (const x of list) {
      const o = h("option", null, `${x.i + 1}. ${x.label}${x.decided ? " ✓" : ""}`);
      o.value = String(x.i);
      ui.jump.append(o);
    }
    ui.jump.dataset.sig = sig;
  }
  ui.jump.value = String(p.index ?? 0);
  ui.who.textContent = model.get("adjudicator_id") ? `adjudicator: ${model.get("adjudicator_id")}` : "";
}

function onItem(v) {
  const it = itemOf(v);
  const conv = v.model.get("conversation") || {};
  if (conv.id !== v.S.convId) renderConversation(v);
  const fresh = it.key !== v.S.key;
  v.S.key = it.key;
  if (fresh) resetForm(v);
  renderItem(v);
  highlight(v);
  renderHeader(v);
  requestAnimationFrame(() => { v.ui.root.dataset.ready = it.key || "-"; });
}

// --- keys (the map is keys.js) ----------------------------------------------------------------------------
function onKey(v, e) {
  const c = codeOf(v);
  const action = adjudicatorKey({ key: e.key, ctrlKey: e.ctrlKey, metaKey: e.metaKey, altKey: e.altKey,
    typing: isTyping(e.target) }, { nValues: (c.values || []).length, hasItem: !!itemOf(v).key });
  if (action === PASS) return;
  e.stopPropagation(); // never let a key reach the notebook (plus data-lm-suppress-shortcuts)
  switch (action.type) {
    case "none": return;
    case "leave-field": e.target.blur(); v.ui.root.focus(); return;
    case "pick": update(v, { type: "pick", value: c.values[action.n].value }); break;
    case "nav": nav(v, action.to); break;
    case "submit": submit(v); break;
    case "help": toggleHelp(v, action.show); break;
  }
  e.preventDefault();
}

// --- wiring -----------------------------------------------------------------------------------------------
function wire(v) {
  const { model } = v;
  v.ui.root.addEventListener("keydown", (e) => onKey(v, e));
  // after a click in the widget (a value, a kind, a coder's card...) the root has the keyboard
  // again, unless a text field took it (the jump list gives it back on change)
  v.ui.root.addEventListener("click", (e) => {
    const a = document.activeElement;
    if (e.target.closest && e.target.closest("select")) return;
    if (a && v.ui.root.contains(a) && isTyping(a)) return;
    if (a !== v.ui.root) v.ui.root.focus({ preventScroll: true });
  });
  model.on("msg:custom", (msg) => onReply(v, msg));
  model.on("change:item", () => onItem(v));
  model.on("change:conversation", () => { renderConversation(v); highlight(v); });
  model.on("change:progress", () => renderHeader(v));
  model.on("change:items_index", () => renderHeader(v));
  onItem(v);
}

export default { render };
