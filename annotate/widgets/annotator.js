// annotate: the annotation widget's view (anywidget ES module, no build step).
// Safety: corpus text is only ever put in the DOM with textContent / text nodes, built from the
// block tree that annotate/widgets/render.py makes. Nothing from the corpus goes through innerHTML.
// The shared chat helpers (h, button, buildBlocks, turnNode, ...) come from chat.js, which
// annotator.py puts in front of this file (anywidget modules cannot import sibling files).

const RESERVED = new Set(["j", "k", "n", "p", "u", "?", "ArrowDown", "ArrowUp", "Escape"]);

// --- the view ------------------------------------------------------------------------------------
function render({ model, el }) {
  const viewId = Math.random().toString(36).slice(2, 8);
  const cb = () => model.get("codebook_data");
  const codeOf = (id) => cb().codes[id];
  const S = {
    focus: 0, revealed: new Set(), cues: !!model.get("options").cues, seq: 0,
    outstanding: new Set(), optimistic: new Map(), error: false, reachedEnd: false,
    focusSince: performance.now(), openedAt: performance.now(), convId: null, renders: 0,
    breakTimer: null,
  };

  const root = h("div", "annotate-annotator");
  root.tabIndex = 0;
  root.dataset.lmSuppressShortcuts = "true"; // Lumino skips its shortcuts for keys from here
  root.setAttribute("aria-label", "annotation widget");
  el.append(root);

  // header: progress, jump, navigation, toggles, save indicator
  const bar = h("div", "aa-header");
  const progressText = h("span", "aa-progress-text");
  progressText.dataset.progress = "";
  const progressBar = h("div", "aa-progress");
  progressBar.setAttribute("role", "progressbar");
  const progressFill = h("div", "aa-progress-fill");
  progressBar.append(progressFill);
  const jump = h("select", "aa-jump");
  jump.setAttribute("aria-label", "jump to conversation");
  jump.addEventListener("change", () => { nav(Number(jump.value)); root.focus({ preventScroll: true }); });
  const prevBtn = button("aa-btn", "◀ p", () => nav("prev"), "previous conversation (p)");
  const nextBtn = button("aa-btn", "n ▶", () => nav("finish"),
    "next conversation (n); after the last turn this marks the conversation done");
  const cueLabel = h("label", "aa-cue-toggle");
  const cueBox = h("input");
  cueBox.type = "checkbox";
  cueBox.checked = S.cues;
  cueBox.addEventListener("change", () => { S.cues = cueBox.checked; renderConversation(true); });
  cueLabel.append(cueBox, document.createTextNode(" cues"));
  const helpBtn = button("aa-btn", "? codebook", () => toggleHelp(), "codebook help (?)");
  const save = h("span", "aa-save");
  const saveStatus = h("span", "aa-save-status", "saved");
  saveStatus.dataset.saveStatus = "";
  saveStatus.setAttribute("role", "status");
  const saveMsg = h("span", "aa-save-msg");
  const retryBtn = button("aa-btn aa-retry", "Retry", () => send({ type: "retry" }, true));
  retryBtn.hidden = true;
  save.append(saveStatus, saveMsg, retryBtn);
  const who = h("span", "aa-who");
  bar.append(progressText, progressBar, jump, prevBtn, nextBtn, cueLabel, helpBtn, who, save);

  const notice = h("div", "aa-notice");
  notice.hidden = true;
  const main = h("div", "aa-main");
  const chat = h("div", "aa-chat");
  const side = h("div", "aa-side");
  const turnPanel = h("section", "aa-panel aa-turn-panel");
  turnPanel.dataset.unit = "turn";
  const convPanel = h("section", "aa-panel aa-conv-panel");
  convPanel.dataset.unit = "conversation";
  side.append(turnPanel, convPanel);
  main.append(chat, side);
  const help = h("div", "aa-help");
  help.hidden = true;
  help.setAttribute("role", "dialog");
  help.setAttribute("aria-label", "codebook");
  root.append(bar, notice, main, help);

  // --- labels (server state overlaid with changes in flight) -----------------------------------
  const keyText = (ti, codeId) => (ti === null || ti === undefined ? `c:${codeId}` : `t:${ti}:${codeId}`);
  function value(ti, codeId) {
    const k = keyText(ti, codeId);
    if (S.optimistic.has(k)) return S.optimistic.get(k).value;
    const L = model.get("labels") || {};
    const unit = ti === null || ti === undefined ? L.c || {} : (L.t || {})[String(ti)] || {};
    return unit[codeId] === undefined ? null : unit[codeId];
  }

  function send(msg, isSave) {
    msg.seq = `${viewId}:${++S.seq}`;
    if (isSave) { S.outstanding.add(msg.seq); setSave("saving"); }
    model.send(msg);
    return msg.seq;
  }

  function change(ti, codeId, newValue, extra) {
    const now = performance.now();
    const elapsed = Math.round(now - (ti === null ? S.openedAt : S.focusSince));
    const msg = { type: "set", code_id: codeId, value: newValue, turn_index: ti, elapsed_ms: elapsed,
      ...(extra || {}) };
    const seq = send(msg, true);
    S.optimistic.set(keyText(ti, codeId),
      { value: newValue === null ? null : Array.isArray(newValue) ? JSON.stringify([...newValue].sort()) : String(newValue), seq });
    applyLabels();
  }

  function setSave(status, message) {
    saveStatus.textContent = status;
    saveStatus.dataset.saveStatus = status;
    saveMsg.textContent = message || "";
    retryBtn.hidden = status !== "error";
  }

  model.on("msg:custom", (msg) => {
    if (!msg || !msg.seq || !String(msg.seq).startsWith(viewId + ":")) return;
    S.outstanding.delete(msg.seq);
    for (const [k, o] of S.optimistic) if (o.seq === msg.seq) S.optimistic.delete(k);
    if (msg.type === "error") { S.error = true; setSave("error", msg.message); }
    else if (msg.type === "ack") {
      S.error = msg.pending > 0; // changes from earlier still unsaved (e.g. after navigating)
      if (S.error) setSave("error", (model.get("save_state") || {}).message);
      else if (S.outstanding.size === 0) setSave("saved");
    }
    applyLabels();
  });
  model.on("change:save_state", () => { // another view of the same model saved or failed
    const st = model.get("save_state") || {};
    if (S.outstanding.size === 0) { S.error = st.status === "error"; setSave(st.status, st.message); }
  });

  // --- codes ------------------------------------------------------------------------------------
  function tooltip(code) {
    const parts = [code.label + (code.key ? `  [${code.key}]` : ""), code.definition];
    if (code.when_to_use) parts.push("Use when: " + code.when_to_use);
    if (code.when_not_to_use) parts.push("Not when: " + code.when_not_to_use);
    if (code.examples.length) parts.push("e.g. " + code.examples[0]);
    return parts.filter(Boolean).join("\n");
  }

  function codeControl(code, ti, n) {
    const label = (n ? `${n} ` : "") + code.label + (code.key ? ` [${code.key}]` : "");
    if (code.level === "binary") {
      const b = button("aa-code aa-binary", label, () => toggleBinary(code, ti), tooltip(code));
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
    for (const v of code.values) {
      const b = button("aa-val", v.label || v.value, () => choose(code, ti, v.value),
        v.definition || v.label);
      b.dataset.value = v.value;
      b.setAttribute("aria-pressed", "false");
      wrap.append(b);
    }
    return wrap;
  }

  function toggleBinary(code, ti) {
    const present = code.values.length > 1 ? code.values[1].value : "1";
    change(ti, code.id, value(ti, code.id) === present ? null : present);
  }

  function choose(code, ti, v) {
    const cur = value(ti, code.id);
    if (code.level === "set") {
      const set = new Set(cur ? JSON.parse(cur) : []);
      if (set.has(v)) set.delete(v); else set.add(v);
      change(ti, code.id, set.size ? [...set] : null);
    } else {
      change(ti, code.id, cur === v ? null : v);
    }
  }

  function cycle(code, ti) { // number key on a non-binary code: none -> v1 -> v2 ... -> none
    const ids = code.values.map((v) => v.value);
    const cur = value(ti, code.id);
    const i = code.level === "set" ? -1 : ids.indexOf(cur);
    change(ti, code.id, i + 1 < ids.length ? (code.level === "set" ? [ids[i + 1]] : ids[i + 1]) : null);
  }

  function memoBox(ti, unitName) {
    const area = h("textarea", "aa-memo");
    area.dataset.memo = unitName;
    area.rows = 2;
    area.placeholder = `memo on this ${unitName}`;
    area.addEventListener("change", () => change(ti, "_memo", area.value.trim() || null));
    return area;
  }

  function flagButton(ti) { // flag for discussion, with an optional "why" (Enter flags)
    const row = h("div", "aa-row aa-flag-row");
    const why = h("input", "aa-flag-why");
    why.placeholder = "why? (Enter flags, Esc cancels)";
    why.setAttribute("aria-label", "why flag");
    why.hidden = true;
    const b = button("aa-btn aa-flag", "⚑ flag", () => {
      if (value(ti, "_flag")) { change(ti, "_flag", null); return; }
      why.hidden = false; why.value = ""; why.focus();
    }, "flag for discussion");
    b.dataset.flag = ti === null ? "conversation" : "turn";
    b.setAttribute("aria-pressed", "false");
    why.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        change(ti, "_flag", "1", { note: why.value.trim() || null });
        why.hidden = true; root.focus();
      } else if (e.key === "Escape") { why.hidden = true; }
    });
    row.append(b, why);
    return row;
  }

  // --- panels -----------------------------------------------------------------------------------
  function turns() { return (model.get("conversation") || {}).turns || []; }
  function focusedTurn() { return turns()[S.focus]; }

  function renderTurnPanel() {
    turnPanel.replaceChildren();
    const t = focusedTurn();
    if (!t || hidden()) { turnPanel.append(h("p", "aa-muted", "no turn focused")); return; }
    turnPanel.append(h("h4", null, `Turn ${t.i} · ${t.role}`));
    const ids = cb().turn[t.role] || [];
    const list = h("div", "aa-codes");
    ids.forEach((id, n) => list.append(codeControl(codeOf(id), t.i, n < 9 ? n + 1 : null)));
    if (!ids.length) list.append(h("p", "aa-muted", `no codes apply to ${t.role} turns`));
    turnPanel.append(list, memoBox(t.i, "turn"), flagButton(t.i));
  }

  function renderConvPanel() {
    convPanel.replaceChildren();
    const conv = model.get("conversation") || {};
    convPanel.append(h("h4", null, "Conversation"));
    const list = h("div", "aa-codes");
    for (const id of cb().conversation) list.append(codeControl(codeOf(id), null, null));
    const status = h("p", "aa-status");
    status.dataset.status = "";
    const done = button("aa-btn aa-done", "✓ done", () => {
      send({ type: "done", elapsed_ms: Math.round(performance.now() - S.openedAt) }, true);
    }, "mark this conversation done and open the next");
    const reason = h("input", "aa-skip-reason");
    reason.placeholder = "reason to skip";
    reason.setAttribute("aria-label", "reason to skip");
    const skip = button("aa-btn aa-skip", "skip", () => {
      if (!reason.value.trim()) { reason.focus(); reason.classList.add("aa-need"); return; }
      send({ type: "skip", reason: reason.value.trim(),
        elapsed_ms: Math.round(performance.now() - S.openedAt) }, true);
    }, "skip this conversation (needs a reason)");
    const row = h("div", "aa-row");
    row.append(done, reason, skip);
    convPanel.append(list, memoBox(null, "conversation"), flagButton(null), status, row);
    const tags = [conv.reliability ? "reliability sample: blind, no cues" : "blind"];
    convPanel.append(h("p", "aa-muted", tags.join(" · ")));
  }

  function applyControl(node, ti) {
    const codeId = node.dataset.codeId;
    const v = value(ti, codeId);
    node.setAttribute("aria-pressed", v === null ? "false" : "true");
    const unsaved = S.optimistic.has(keyText(ti, codeId)) ||
      ((model.get("labels") || {}).unsaved || []).includes(keyText(ti, codeId));
    node.classList.toggle("aa-unsaved", unsaved);
    if (node.classList.contains("aa-choice")) {
      const chosen = v === null ? [] : node.classList.contains("aa-set") ? JSON.parse(v) : [v];
      for (const b of node.querySelectorAll(".aa-val"))
        b.setAttribute("aria-pressed", chosen.includes(b.dataset.value) ? "true" : "false");
    }
  }

  function applyLabels() {
    const L = model.get("labels") || {};
    if (L.conversation_id && L.conversation_id !== S.convId) return;
    const t = focusedTurn();
    for (const node of turnPanel.querySelectorAll("[data-code-id]")) applyControl(node, t ? t.i : null);
    for (const node of convPanel.querySelectorAll("[data-code-id]")) applyControl(node, null);
    for (const [panel, ti] of [[turnPanel, t ? t.i : null], [convPanel, null]]) {
      const memo = panel.querySelector(".aa-memo");
      if (memo && document.activeElement !== memo) memo.value = value(ti, "_memo") || "";
      const flag = panel.querySelector(".aa-flag");
      if (flag) flag.setAttribute("aria-pressed", value(ti, "_flag") ? "true" : "false");
    }
    const st = convPanel.querySelector("[data-status]");
    const status = value(null, "_status");
    if (st) st.textContent = status ? `status: ${status}` + (status === "skipped" ? ` (${(L.notes || {})["c:_status"] || ""})` : "") : "status: open";
    for (const node of chat.querySelectorAll(".aa-turn")) {
      const ti = Number(node.dataset.turnIndex);
      const unit = { ...((L.t || {})[String(ti)] || {}) };
      for (const [k, o] of S.optimistic) {
        const m = k.match(/^t:(\d+):(.+)$/);
        if (m && Number(m[1]) === ti) { if (o.value === null) delete unit[m[2]]; else unit[m[2]] = o.value; }
      }
      const chips = node.querySelector(".aa-applied");
      const names = Object.keys(unit).filter((c) => !c.startsWith("_")).map((c) => (codeOf(c) || { label: c }).label);
      if (unit._flag) names.push("⚑");
      if (unit._memo) names.push("✎");
      const text = names.join(" · ");
      if (chips.textContent !== text) chips.textContent = text;
    }
  }

  // --- conversation -------------------------------------------------------------------------------
  function hidden() {
    const conv = model.get("conversation") || {};
    return !!conv.content_note && !S.revealed.has(conv.id);
  }

  function cueMatcher() {
    const conv = model.get("conversation") || {};
    if (!S.cues || conv.reliability) return null;
    const codes = new Map();
    for (const code of Object.values(cb().codes))
      for (const c of code.cues || []) {
        const k = c.toLowerCase();
        codes.set(k, [...(codes.get(k) || []), code.label]);
      }
    if (!codes.size) return null;
    const alts = [...codes.keys()].sort((a, b) => b.length - a.length).map((c) => {
      const e = escapeRx(c);
      return (/^\w/.test(c) ? "\\b" : "") + e + (/\w$/.test(c) ? "\\b" : "");
    });
    return { rx: new RegExp(alts.join("|"), "gi"), codes };
  }

  function renderConversation(keepFocus) {
    // re-rendering removes the focused control (e.g. skip): give the keyboard back to the root
    const hadFocus = root.contains(document.activeElement);
    const conv = model.get("conversation") || {};
    const same = conv.id === S.convId;
    if (!same) {
      S.convId = conv.id; S.openedAt = performance.now(); S.reachedEnd = false;
      S.optimistic.clear();
    }
    if (!(same && keepFocus)) S.focus = 0;
    root.dataset.conversationId = conv.id || "";
    cueBox.disabled = !!conv.reliability;
    cueLabel.title = conv.reliability ? "cues are never shown on the reliability sample" : "highlight cue phrases";
    chat.replaceChildren();
    if (hidden()) {
      const note = h("div", "aa-content-note");
      note.dataset.contentNote = "";
      note.append(h("p", null, `Content note: this conversation contains ${conv.content_note}.`));
      note.append(h("p", "aa-muted", "Take a moment. You can skip it (with a reason) if you need to."));
      note.append(button("aa-btn aa-reveal", "Show the conversation", () => {
        S.revealed.add(conv.id); renderConversation(false); root.focus();
      }));
      chat.append(note);
    } else {
      const cue = cueMatcher();
      const frag = document.createDocumentFragment();
      for (const t of conv.turns || []) {
        frag.append(turnNode(t, cue));
      }
      chat.append(frag);
    }
    chat.onclick = (e) => {
      const node = e.target.closest && e.target.closest(".aa-turn");
      if (node) setFocus([...chat.querySelectorAll(".aa-turn")].indexOf(node));
    };
    renderConvPanel();
    setFocus(S.focus, true);
    renderHeader();
    S.renders += 1;
    const tag = `${conv.id}#${S.renders}`;
    if (hadFocus && !root.contains(document.activeElement)) root.focus({ preventScroll: true });
    requestAnimationFrame(() => { root.dataset.ready = tag; });
  }

  function setFocus(i, quiet) {
    const nodes = chat.querySelectorAll(".aa-turn");
    if (!nodes.length) { S.focus = 0; renderTurnPanel(); applyLabels(); return; }
    i = Math.max(0, Math.min(nodes.length - 1, i));
    const prev = chat.querySelector(".aa-focused");
    if (prev) { prev.classList.remove("aa-focused"); prev.removeAttribute("aria-current"); }
    const node = nodes[i];
    node.classList.add("aa-focused");
    node.setAttribute("aria-current", "true");
    if (i !== S.focus || !quiet) S.focusSince = performance.now();
    S.focus = i;
    if (i === nodes.length - 1) S.reachedEnd = true;
    if (!quiet) node.scrollIntoView({ block: "nearest" });
    renderTurnPanel();
    applyLabels();
  }

  function renderHeader() {
    const p = model.get("progress") || { done: 0, total: 0 };
    progressText.textContent = `${p.done} / ${p.total}`;
    progressFill.style.width = p.total ? `${(100 * p.done) / p.total}%` : "0%";
    progressBar.setAttribute("aria-valuenow", String(p.done));
    progressBar.setAttribute("aria-valuemax", String(p.total));
    const items = model.get("queue_items") || [];
    const conv = model.get("conversation") || {};
    if (jump.options.length !== items.length || jump.dataset.sig !== items.map((q) => q.status || "").join()) {
      jump.replaceChildren();
      for (const q of items) {
        const mark = q.status === "done" ? " ✓" : q.status === "skipped" ? " (skipped)" : "";
        const o = h("option", null, `${q.i + 1}. ${q.id}${mark}`);
        o.value = String(q.i);
        jump.append(o);
      }
      jump.dataset.sig = items.map((q) => q.status || "").join();
    }
    jump.value = String(conv.index ?? 0);
    who.textContent = model.get("annotator_id") ? `coder: ${model.get("annotator_id")}` : "";
  }

  function nav(to) {
    send({ type: "nav", to, reached_end: S.reachedEnd }, false);
  }

  // --- help ---------------------------------------------------------------------------------------
  function toggleHelp(force) {
    const show = force === undefined ? help.hidden : force;
    help.hidden = !show;
    if (!show) return;
    help.replaceChildren();
    const close = button("aa-btn aa-help-close", "close (Esc)", () => toggleHelp(false));
    help.append(h("h3", null, `${cb().title} · v${cb().version}`), close);
    const t = focusedTurn();
    const first = new Set([...(t ? cb().turn[t.role] || [] : []), ...cb().conversation]);
    const order = [...first, ...Object.keys(cb().codes).filter((id) => !first.has(id))];
    for (const id of order) {
      const c = codeOf(id);
      const sec = h("section", "aa-help-code");
      sec.dataset.helpCode = id;
      sec.append(h("h4", null, `${c.label} (${c.id}) · ${c.unit}, ${c.applies_to.join("/")}, ${c.level}` +
        (c.key ? ` · key ${c.key}` : "")));
      const dl = h("dl");
      const row = (dt, dd) => { if (dd) { dl.append(h("dt", null, dt), h("dd", null, dd)); } };
      row("Definition", c.definition);
      row("When to use", c.when_to_use);
      row("When not to use", c.when_not_to_use);
      c.examples.forEach((e) => row("Example", e));
      c.near_misses.forEach((e) => row("Near miss", e));
      if (c.level !== "binary") c.values.forEach((v) => row(`value ${v.value}`, `${v.label}${v.definition ? ": " + v.definition : ""}`));
      sec.append(dl);
      help.append(sec);
    }
  }

  // --- keys ---------------------------------------------------------------------------------------
  function codeKeys() {
    const out = new Map();
    const t = focusedTurn();
    for (const id of t ? cb().turn[t.role] || [] : []) { const c = codeOf(id); if (c.key) out.set(c.key, [c, t.i]); }
    for (const id of cb().conversation) { const c = codeOf(id); if (c.key && !out.has(c.key)) out.set(c.key, [c, null]); }
    return out;
  }

  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    e.stopPropagation(); // never let a key reach the notebook (plus data-lm-suppress-shortcuts)
    if (isTyping(e.target)) {
      if (e.key === "Escape") { e.target.blur(); root.focus(); }
      return;
    }
    if (!model.get("annotator_id")) return;
    let handled = true;
    const t = focusedTurn();
    const coding = t && !hidden();
    if (e.key === "j" || e.key === "ArrowDown") setFocus(S.focus + 1);
    else if (e.key === "k" || e.key === "ArrowUp") setFocus(S.focus - 1);
    else if (e.key === "n") nav("finish");
    else if (e.key === "p") nav("prev");
    else if (e.key === "u") send({ type: "undo" }, true);
    else if (e.key === "?") toggleHelp();
    else if (e.key === "Escape") toggleHelp(false);
    else if (/^[1-9]$/.test(e.key) && coding) {
      const id = (cb().turn[t.role] || [])[Number(e.key) - 1];
      const code = id && codeOf(id);
      if (code) (code.level === "binary" ? toggleBinary : cycle)(code, t.i);
    } else if (!RESERVED.has(e.key) && codeKeys().has(e.key)) {
      const [code, ti] = codeKeys().get(e.key);
      if (ti === null || coding) (code.level === "binary" ? toggleBinary : cycle)(code, ti);
    } else handled = false;
    if (handled) e.preventDefault();
  }
  root.addEventListener("keydown", onKey);

  // --- coder picker (when no annotator was given) ---------------------------------------------------
  function renderPicker() {
    const pick = h("div", "aa-picker");
    pick.append(h("p", null, "Who is coding? Pick your name:"));
    for (const c of model.get("coders") || []) {
      const b = button("aa-btn aa-coder", c, () => model.send({ type: "pick", annotator: c, seq: `${viewId}:pick` }));
      b.dataset.coder = c;
      pick.append(b);
    }
    chat.replaceChildren(pick);
  }

  // --- care: break reminder -------------------------------------------------------------------------
  function armBreak() {
    clearTimeout(S.breakTimer);
    const minutes = (model.get("options") || {}).break_after_minutes || 0;
    if (minutes > 0) S.breakTimer = setTimeout(showBreak, minutes * 60000);
  }
  function showBreak() {
    notice.replaceChildren(h("span", null,
      "You have been coding for a while. A short break helps keep your judgements steady."),
    button("aa-btn", "thanks", () => { notice.hidden = true; armBreak(); root.focus(); }));
    notice.dataset.break = "";
    notice.hidden = false;
  }

  // --- wiring ---------------------------------------------------------------------------------------
  model.on("change:conversation", () => renderConversation(false));
  model.on("change:labels", () => applyLabels());
  model.on("change:progress", renderHeader);
  model.on("change:queue_items", renderHeader);
  model.on("change:annotator_id", renderHeader);
  const st = model.get("save_state") || {};
  setSave(st.status || "saved", st.message);
  S.error = st.status === "error";
  if (model.get("annotator_id")) renderConversation(false); else { renderPicker(); renderConvPanel(); }
  armBreak();
  return () => clearTimeout(S.breakTimer);
}

export default { render };
