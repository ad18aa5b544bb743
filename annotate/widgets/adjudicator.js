// annotate: the adjudication widget's view (anywidget ES module, no build step).
// The chat helpers (h, button, isTyping, buildBlocks, turnNode) come from chat.js, which
// adjudicator.py puts in front of this file. Corpus text and coders' memos only ever reach the
// DOM through textContent / text nodes.

function render({ model, el }) {
  const viewId = Math.random().toString(36).slice(2, 8);
  const cb = () => model.get("codebook_data");
  const codeOf = (id) => cb().codes[id];
  const S = { seq: 0, outstanding: new Set(), acks: 0, convId: null, key: null };
  // the decision being made (kept across save errors; reset when another item opens)
  const F = { value: null, set: new Set(), kind: null, memo: "", change: "" };

  const root = h("div", "annotate-adjudicator");
  root.tabIndex = 0;
  root.dataset.lmSuppressShortcuts = "true"; // Lumino skips its shortcuts for keys from here
  root.setAttribute("aria-label", "adjudication widget");
  root.dataset.acks = "0";
  el.append(root);

  // header: progress, jump, navigation, help, save indicator
  const bar = h("div", "aa-header");
  const progressText = h("span", "aa-progress-text");
  progressText.dataset.progress = "";
  progressText.title = "decided / disagreements";
  const jump = h("select", "aa-jump ad-jump");
  jump.setAttribute("aria-label", "jump to item");
  jump.addEventListener("change", () => { nav(Number(jump.value)); root.focus({ preventScroll: true }); });
  const prevBtn = button("aa-btn", "◀ p", () => nav("prev"), "previous item (p)");
  const nextBtn = button("aa-btn", "n ▶", () => nav("next"), "next item (n)");
  const openBtn = button("aa-btn", "next open", () => nav("next_open"), "next undecided item");
  const helpBtn = button("aa-btn", "? codebook", () => toggleHelp(), "the code's definition (?)");
  const who = h("span", "aa-who");
  const save = h("span", "aa-save");
  const saveStatus = h("span", "aa-save-status", "saved");
  saveStatus.dataset.saveStatus = "saved";
  saveStatus.setAttribute("role", "status");
  const saveMsg = h("span", "aa-save-msg");
  saveMsg.dataset.saveMessage = "";
  save.append(saveStatus, saveMsg);
  bar.append(progressText, jump, prevBtn, nextBtn, openBtn, helpBtn, who, save);

  const main = h("div", "aa-main ad-main");
  const chat = h("div", "aa-chat ad-chat");
  chat.dataset.unit = "conversation";
  const side = h("div", "aa-side ad-side");
  main.append(chat, side);
  root.append(bar, main);

  // side panel parts (built once, filled per item)
  const head = h("div", "ad-item");
  head.dataset.item = "";
  const gold = h("p", "ad-gold");
  gold.dataset.gold = "";
  const coders = h("div", "ad-coders");
  const values = h("div", "ad-values");
  values.setAttribute("role", "group");
  values.setAttribute("aria-label", "gold value");
  const kinds = h("div", "ad-kinds");
  kinds.setAttribute("role", "group");
  kinds.setAttribute("aria-label", "kind of disagreement");
  for (const k of model.get("kinds") || []) {
    const b = button("ad-kind aa-val", k.replace(/_/g, " "), () => { F.kind = k; applyForm(); });
    b.dataset.kind = k;
    b.setAttribute("aria-pressed", "false");
    kinds.append(b);
  }
  const memo = h("textarea", "aa-memo ad-memo");
  memo.dataset.memo = "adjudication";
  memo.rows = 3;
  memo.placeholder = "memo: why this value";
  memo.setAttribute("aria-label", "adjudication memo");
  memo.addEventListener("input", () => { F.memo = memo.value; });
  const change = h("input", "ad-change");
  change.dataset.codebookChange = "";
  change.placeholder = "linked codebook change (optional), e.g. 1.0.1: clarified ai_empathy";
  change.setAttribute("aria-label", "linked codebook change");
  change.addEventListener("input", () => { F.change = change.value; });
  const formMsg = h("p", "ad-form-msg");
  formMsg.dataset.formMsg = "";
  const saveBtn = button("aa-btn ad-save", "Save decision ⏎", () => submit(), "save (Enter)");
  saveBtn.dataset.action = "save";
  const help = h("div", "ad-help");
  help.dataset.help = "";
  side.append(head, gold, h("h4", null, "Coders"), coders, h("h4", null, "Gold value"), values,
    h("h4", null, "Kind of disagreement"), kinds, memo, change, formMsg, saveBtn, help);

  // --- helpers ------------------------------------------------------------------------------------
  const item = () => model.get("item") || {};
  const code = () => codeOf(item().code_id) || { values: [], level: "nominal", label: "?" };

  function valueLabel(c, v) {
    if (v === null || v === undefined) return "—";
    const one = (x) => {
      const cv = (c.values || []).find((y) => y.value === x);
      return cv && cv.label && cv.label !== x ? `${cv.label} (${x})` : String(x);
    };
    if (c.level === "set") {
      let ids = [];
      try { ids = JSON.parse(v); } catch (_e) { return String(v); }
      return ids.length ? ids.map(one).join(", ") : "(none)";
    }
    return one(v);
  }

  function chosenBy(c, v) { // coders whose value is (or, for set codes, contains) v
    const out = [];
    for (const [coder, cv] of Object.entries(item().values || {})) {
      if (c.level === "set") {
        try { if (JSON.parse(cv).includes(v)) out.push(coder); } catch (_e) { /* not a set */ }
      } else if (cv === v) out.push(coder);
    }
    return out;
  }

  function setSave(status, message) {
    saveStatus.textContent = status;
    saveStatus.dataset.saveStatus = status;
    saveMsg.textContent = message || "";
  }

  function send(msg, isSave) {
    msg.seq = `${viewId}:${++S.seq}`;
    if (isSave) { S.outstanding.add(msg.seq); setSave("saving"); }
    model.send(msg);
  }

  model.on("msg:custom", (msg) => {
    if (!msg || !msg.seq || !String(msg.seq).startsWith(viewId + ":")) return;
    const wasSave = S.outstanding.delete(msg.seq);
    if (msg.type === "error") setSave("error", msg.message);
    else if (msg.type === "ack" && wasSave) {
      S.acks += 1;
      root.dataset.acks = String(S.acks);
      if (S.outstanding.size === 0) setSave("saved");
    }
  });

  // --- actions ------------------------------------------------------------------------------------
  function pick(v) {
    if (code().level === "set") {
      if (F.set.has(v)) F.set.delete(v); else F.set.add(v);
      F.value = JSON.stringify([...F.set].sort());
    } else F.value = v;
    applyForm();
  }

  function pickCoder(coder) {
    const v = (item().values || {})[coder];
    if (v === undefined) return;
    if (code().level === "set") {
      try { F.set = new Set(JSON.parse(v)); } catch (_e) { F.set = new Set(); }
      F.value = JSON.stringify([...F.set].sort());
    } else F.value = v;
    applyForm();
  }

  function submit() {
    F.memo = memo.value;
    F.change = change.value;
    const missing = [];
    if (F.value === null) missing.push("a gold value");
    if (!F.kind) missing.push("the kind of disagreement");
    values.classList.toggle("aa-need", F.value === null);
    kinds.classList.toggle("aa-need", !F.kind);
    if (missing.length) { formMsg.textContent = `Choose ${missing.join(" and ")} first.`; return; }
    formMsg.textContent = "";
    const it = item();
    const value = code().level === "set" ? [...F.set].sort() : F.value;
    send({ type: "decide", index: it.index, value, kind: F.kind, memo: F.memo.trim(),
      codebook_change: F.change.trim() || null }, true);
  }

  function nav(to) { send({ type: "nav", to }, false); }

  // --- rendering -------------------------------------------------------------------------------------
  function resetForm() {
    const it = item();
    const d = it.decision || {};
    F.value = it.gold === null || it.gold === undefined ? null : it.gold;
    F.set = new Set();
    if (F.value !== null && code().level === "set") {
      try { F.set = new Set(JSON.parse(F.value)); } catch (_e) { /* keep empty */ }
    }
    F.kind = d.kind || null;
    F.memo = d.memo || "";
    F.change = d.codebook_change || "";
    memo.value = F.memo;
    change.value = F.change;
    formMsg.textContent = "";
    values.classList.remove("aa-need");
    kinds.classList.remove("aa-need");
  }

  function applyForm() {
    for (const b of values.querySelectorAll("[data-value]")) {
      const on = code().level === "set" ? F.set.has(b.dataset.value) : F.value === b.dataset.value;
      b.setAttribute("aria-pressed", on ? "true" : "false");
    }
    for (const b of kinds.querySelectorAll("[data-kind]"))
      b.setAttribute("aria-pressed", F.kind === b.dataset.kind ? "true" : "false");
    for (const card of coders.querySelectorAll("[data-coder]")) {
      const v = (item().values || {})[card.dataset.coder];
      card.classList.toggle("ad-picked", v !== undefined && v === F.value);
    }
    if (F.value !== null) values.classList.remove("aa-need");
    if (F.kind) kinds.classList.remove("aa-need");
  }

  function renderItem() {
    const it = item();
    const c = code();
    root.dataset.itemKey = it.key || "";
    head.replaceChildren();
    if (!it.key) {
      head.append(h("p", null, "No disagreements: nothing to adjudicate."));
      for (const n of [coders, values]) n.replaceChildren();
      gold.textContent = "";
      return;
    }
    head.dataset.unit = it.unit;
    const where = it.turn_index === null || it.turn_index === undefined
      ? "whole conversation" : `turn ${it.turn_index}${it.role ? " · " + it.role : ""}`;
    head.append(h("h3", null, c.label), h("p", "aa-muted", `${it.code_id} · ${c.level} · ${it.conversation_id} · ${where}`));
    gold.textContent = it.gold === null || it.gold === undefined ? "not decided yet"
      : `gold: ${valueLabel(c, it.gold)}` + (it.decision && it.decision.kind ? ` · ${it.decision.kind}` : "") +
        (it.decision && it.decision.adjudicator ? ` · by ${it.decision.adjudicator}` : "");
    gold.classList.toggle("ad-decided", it.gold !== null && it.gold !== undefined);
    gold.dataset.gold = it.gold === null || it.gold === undefined ? "" : it.gold;

    coders.replaceChildren();
    const names = [...new Set([...Object.keys(it.values || {}), ...Object.keys(it.memos || {})])].sort();
    for (const name of names) {
      const v = (it.values || {})[name];
      const card = h("div", "ad-coder");
      card.dataset.coder = name;
      card.title = v === undefined ? "" : "click to take this coder's value";
      card.append(h("span", "ad-coder-name", name));
      const val = h("span", "ad-coder-value", valueLabel(c, v));
      val.dataset.coderValue = v === undefined ? "" : v;
      card.append(val);
      const m = (it.memos || {})[name];
      const memoNode = h("p", "ad-coder-memo", m || "no memo");
      memoNode.dataset.coderMemo = m || "";
      if (!m) memoNode.classList.add("aa-muted");
      card.append(memoNode);
      card.addEventListener("click", () => pickCoder(name));
      coders.append(card);
    }

    values.replaceChildren();
    (c.values || []).forEach((v, n) => {
      const by = chosenBy(c, v.value);
      const b = button("aa-val ad-value", "", () => pick(v.value), v.definition || v.label);
      b.dataset.value = v.value;
      b.setAttribute("aria-pressed", "false");
      if (n < 9) b.append(h("span", "ad-keyhint", String(n + 1)));
      b.append(document.createTextNode(v.label && v.label !== v.value ? `${v.label} (${v.value})` : v.value));
      if (by.length) {
        b.classList.add("ad-coder-choice");
        b.dataset.chosenBy = by.join(",");
        b.append(h("span", "ad-by", by.join(", ")));
      }
      values.append(b);
    });
    renderHelp();
    applyForm();
  }

  function renderHelp() {
    const c = code();
    help.replaceChildren(h("h4", null, `Codebook: ${c.label}`));
    const dl = h("dl");
    const row = (dt, dd) => { if (dd) dl.append(h("dt", null, dt), h("dd", null, dd)); };
    row("Definition", c.definition);
    row("When to use", c.when_to_use);
    row("When not to use", c.when_not_to_use);
    (c.examples || []).slice(0, 2).forEach((e) => row("Example", e));
    (c.near_misses || []).slice(0, 2).forEach((e) => row("Near miss", e));
    if (c.level !== "binary") (c.values || []).forEach((v) => row(`value ${v.value}`, `${v.label}${v.definition ? ": " + v.definition : ""}`));
    help.append(dl);
  }

  function toggleHelp(force) {
    help.hidden = force === undefined ? !help.hidden : !force;
  }

  function renderConversation() {
    const conv = model.get("conversation") || {};
    S.convId = conv.id;
    root.dataset.conversationId = conv.id || "";
    const frag = document.createDocumentFragment();
    if (conv.content_note) {
      const note = h("p", "aa-content-note ad-content-note", `Content note: this conversation contains ${conv.content_note}.`);
      note.dataset.contentNote = "";
      frag.append(note);
    }
    for (const t of conv.turns || []) frag.append(turnNode(t, null));
    chat.replaceChildren(frag);
  }

  function highlight() {
    const it = item();
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

  function renderHeader() {
    const p = model.get("progress") || { decided: 0, total: 0 };
    progressText.textContent = `${p.decided} / ${p.total}`;
    const list = model.get("items_index") || [];
    const sig = list.map((x) => (x.decided ? "1" : "0")).join("");
    if (jump.dataset.sig !== sig || jump.options.length !== list.length) {
      jump.replaceChildren();
      for (const x of list) {
        const o = h("option", null, `${x.i + 1}. ${x.label}${x.decided ? " ✓" : ""}`);
        o.value = String(x.i);
        jump.append(o);
      }
      jump.dataset.sig = sig;
    }
    jump.value = String(p.index ?? 0);
    who.textContent = model.get("adjudicator_id") ? `adjudicator: ${model.get("adjudicator_id")}` : "";
  }

  function onItem() {
    const it = item();
    const conv = model.get("conversation") || {};
    if (conv.id !== S.convId) renderConversation();
    const fresh = it.key !== S.key;
    S.key = it.key;
    if (fresh) resetForm();
    renderItem();
    highlight();
    renderHeader();
    requestAnimationFrame(() => { root.dataset.ready = it.key || "-"; });
  }

  // --- keys -----------------------------------------------------------------------------------------
  function onKey(e) {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); e.stopPropagation(); submit(); return; }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    e.stopPropagation(); // never let a key reach the notebook (plus data-lm-suppress-shortcuts)
    if (isTyping(e.target)) {
      if (e.key === "Escape") { e.target.blur(); root.focus(); }
      return;
    }
    let handled = true;
    const c = code();
    if (/^[1-9]$/.test(e.key)) {
      const v = (c.values || [])[Number(e.key) - 1];
      if (v && item().key) pick(v.value);
    } else if (e.key === "n") nav("next");
    else if (e.key === "p") nav("prev");
    else if (e.key === "Enter") submit();
    else if (e.key === "?") toggleHelp();
    else if (e.key === "Escape") toggleHelp(false);
    else handled = false;
    if (handled) e.preventDefault();
  }
  root.addEventListener("keydown", onKey);

  // --- wiring ---------------------------------------------------------------------------------------
  model.on("change:item", onItem);
  model.on("change:conversation", () => { renderConversation(); highlight(); });
  model.on("change:progress", renderHeader);
  model.on("change:items_index", renderHeader);
  onItem();
}

export default { render };
