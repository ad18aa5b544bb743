// annotate: the widgets' keys (pure). Which key each code gets, and what a key press does.
// The views (annotator.js, adjudicator.js) carry the resulting actions out.
//
// An action is one of:
//   PASS        not the widget's key (Ctrl/Meta/Alt combinations): let it go on untouched
//   SWALLOW     keep it from the notebook, but do nothing (and keep the browser's default)
//   {type, ...} an action: the view runs it and prevents the browser's default

export const PASS = null;
export const SWALLOW = Object.freeze({ type: "none" });

// the annotator's own keys: no code gets one of them (a codebook `key` equal to one of them is
// replaced by an assigned key, shown next to the code)
export const RESERVED = new Set(["j", "k", "n", "p", "u", "?", "!", ".", "ArrowDown", "ArrowUp",
  "ArrowLeft", "ArrowRight", "Escape", "Tab", "Enter", "Backspace", "Delete", " "]);

// keys handed out, in this order, to codes without a usable codebook key, and to the values of a
// choice code while it waits for its value (1-9, 0, then letters that are not the widget's own)
export const POOL = Object.freeze([..."1234567890", ..."abcdefghilmoqrstvwxyz",
  ..."ABCDEFGHIJKLMNOPQRSTUVWXYZ"]);

const usable = (k) => typeof k === "string" && k.length === 1 && k.trim() !== "" && !RESERVED.has(k);

// the annotator's keys as the help overlay and the README's key table list them
export const KEY_HELP = Object.freeze([
  ["j / k or ↓ / ↑", "focus the next / previous turn"],
  ["Tab", "switch the keys between the turn panel and the conversation panel"],
  ["a code's key", "the key shown next to the code (its codebook `key`, else one assigned): a binary code toggles; a choice code then waits for a value's key (shown on its values: 1–9, 0, a, b, …), Backspace clears it, Esc cancels; a set code takes several values, Enter ends"],
  ["→ / ←", "evidence: select the next / previous word of the focused turn (or select words with the mouse)"],
  ["Shift+→ / Shift+←", "evidence: one more word / one word less in the selection"],
  ["a code's key, words selected", "attach the selected words to the code as its evidence (a binary code is switched on; a choice code takes its value's key, or Enter to keep its value)"],
  ["Delete", "with words selected: remove the evidence under them; Esc clears the selection"],
  ["!", "flag the turn or the conversation for discussion (type why, Enter); again to unflag"],
  [".", "write a memo on the turn or the conversation (Esc leaves the field and saves)"],
  ["Enter", "in the conversation panel: mark the conversation done and open the next; behind a content note: show the conversation"],
  ["Shift+Enter", "skip the conversation (type the reason, Enter)"],
  ["n / p", "next / previous conversation (n after the last turn also marks it done)"],
  ["u", "undo your last change in this conversation"],
  ["?", "this help: keys and codebook (Esc or ? closes it)"],
]);

// --- key assignment -------------------------------------------------------------------------------
// codes: [{id, key, panels: [panel names]}] in codebook order; a panel is where codes are shown
// together ("turn:user", "turn:assistant", ..., "conversation"). Returns Map id -> key (or null
// when the pool runs out): each code keeps its codebook key where it is usable and not already
// taken in one of its panels; every other code gets the first pool key free in all its panels.
// So a code has one key wherever it is shown, and no two codes of a panel share one.
export function assignKeys(codes) {
  const out = new Map();
  const taken = new Map(); // panel -> Set of keys
  const busy = (c) => {
    const s = new Set();
    for (const p of c.panels) for (const k of taken.get(p) || []) s.add(k);
    return s;
  };
  const take = (c, k) => {
    out.set(c.id, k);
    for (const p of c.panels) {
      if (!taken.has(p)) taken.set(p, new Set());
      taken.get(p).add(k);
    }
  };
  for (const c of codes) if (usable(c.key) && !busy(c).has(c.key)) take(c, c.key);
  for (const c of codes) {
    if (out.has(c.id)) continue;
    const b = busy(c);
    const k = POOL.find((x) => !b.has(x));
    if (k) take(c, k); else out.set(c.id, null);
  }
  return out;
}

// the codes of one panel by key: Map key -> code
export function panelKeys(codes, keyOf) {
  const out = new Map();
  for (const c of codes) {
    const k = keyOf.get(c.id);
    if (k) out.set(k, c);
  }
  return out;
}

// the keys of a choice code's values, in order, and how to say them ("1–6", "1–9, 0, a–b")
export const valueKeys = (n) => POOL.slice(0, n);
export function keyRange(n) {
  const k = valueKeys(n);
  if (n <= 1) return k.join("");
  const parts = [`1–${k[Math.min(n, 9) - 1]}`];
  if (n >= 10) parts.push("0");
  if (n >= 11) parts.push(n === 11 ? k[10] : `${k[10]}–${k[n - 1]}`);
  return parts.join(", ");
}

// --- the annotator: a key press -------------------------------------------------------------------
const isChoice = (code) => code.level !== "binary";
const ROLE_TURNS = { user: "user turns", assistant: "assistant turns", system: "system turns", tool: "tool turns" };

// what a coder reads when a choice code waits for its value (sel: words are selected)
export function pickHint(code, sel) {
  const n = code.values.length;
  if (sel) return `${code.label}: ${keyRange(n)} chooses a value for the selected words, Enter keeps the current value, Esc cancels`;
  return code.level === "set"
    ? `${code.label}: ${keyRange(n)} tick or untick a value, Enter when done, Backspace clears`
    : `${code.label}: ${keyRange(n)} chooses a value, Backspace clears, Esc cancels`;
}

const HIDDEN = "The conversation is behind its content note: Enter shows it, Shift+Enter skips it.";

// S: {panel: "turn" | "conversation", pick: null | {id, ti}} (a choice code waiting for its value)
// ev: {key, ctrlKey, metaKey, altKey, shiftKey, typing (the key comes from a text field)}
// ctx: {active: a coder is chosen, help: the codebook overlay is open,
//       hidden: the conversation is behind its content note,
//       turn: {i, role} of the focused turn, or null,
//       turnKeys / convKeys: Map key -> code for the focused turn's panel / the conversation panel,
//       roleKeys: Map role -> Map key -> code (every role's turn panel, to explain a key),
//       codes: {id: code} (code: {id, label, level, values: [{value, label}]}),
//       sel: words of the focused turn are selected (evidence to attach)}
// Returns {S, action, say}: the new state, the action, and the message to show ("" clears it,
// undefined leaves it).
export function annotatorKey(S, ev, ctx) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return { S, action: PASS };
  if (ev.typing) return { S, action: ev.key === "Escape" ? { type: "leave-field" } : SWALLOW };
  if (!ctx.active) return { S, action: SWALLOW, say: "Pick your name first." };
  if (ctx.help) return helpKey(S, ev);
  if (S.pick) return pickKey(S, ev, ctx);
  const k = ev.key;
  const ti = ctx.turn ? ctx.turn.i : null;
  const conv = S.panel === "conversation";
  const unit = conv ? null : ti;
  const act = (action, say = "") => ({ S, action, say });
  switch (k) {
    case "j": case "ArrowDown": return ctx.hidden ? act(SWALLOW, HIDDEN) : act({ type: "focus", by: 1 });
    case "k": case "ArrowUp": return ctx.hidden ? act(SWALLOW, HIDDEN) : act({ type: "focus", by: -1 });
    case "n": return act({ type: "nav", to: "finish" });
    case "p": return act({ type: "nav", to: "prev" });
    case "u": return act({ type: "undo" });
    case "?": return act({ type: "help", show: true });
    case "Escape": return ctx.sel ? act({ type: "sel", op: "clear" }) : act(SWALLOW);
    case "ArrowRight": case "ArrowLeft": {
      if (ctx.hidden) return act(SWALLOW, HIDDEN);
      if (conv) return act(SWALLOW, "Evidence is words of a turn: Tab goes to the turn panel.");
      if (ti === null) return act(SWALLOW, "No turn is focused.");
      const right = k === "ArrowRight";
      const op = ev.shiftKey ? (right ? "extend" : "shrink") : (right ? "next" : "prev");
      return { S, action: { type: "sel", op }, say: undefined };
    }
    case "Tab": {
      const panel = conv ? "turn" : "conversation";
      return { S: { ...S, panel }, action: { type: "panel", panel }, say: "" };
    }
    case "Enter":
      if (ev.shiftKey) return act({ type: "skip" });
      if (ctx.hidden) return act({ type: "reveal" });
      return conv ? act({ type: "done" })
        : act(SWALLOW, "Enter marks the conversation done from the conversation panel: Tab goes there.");
    case "!": case ".":
      if (ctx.hidden) return act(SWALLOW, HIDDEN);
      if (!conv && ti === null) return act(SWALLOW, "No turn is focused.");
      return act({ type: k === "!" ? "flag" : "memo", ti: unit });
    case "Backspace": case "Delete":
      if (ctx.sel && !conv) return act({ type: "unmark" });
      return act(SWALLOW, "Backspace clears a choice code: press the code's key first; with words selected, Delete removes their evidence.");
  }
  const keys = conv ? ctx.convKeys : ctx.turnKeys;
  const code = keys && keys.get(k);
  if (code && ctx.hidden) return act(SWALLOW, HIDDEN);
  if (code && !conv && ti === null) return act(SWALLOW, "No turn is focused.");
  if (code && !isChoice(code)) return act({ type: "toggle", id: code.id, ti: unit });
  if (code) return { S: { ...S, pick: { id: code.id, ti: unit } }, action: { type: "pick", id: code.id, ti: unit }, say: pickHint(code, ctx.sel && !conv) };
  return { S, action: SWALLOW, say: whyNot(k, S, ctx) }; // undefined: leave the message as it is
}

// a key no code of the active panel has: say where it belongs, or that it is free
function whyNot(k, S, ctx) {
  const shown = k.length === 1 ? `“${k}”` : k;
  if (S.panel === "conversation") {
    const role = ctx.turn && ctx.turn.role;
    const c = ctx.turnKeys && ctx.turnKeys.get(k);
    if (c) return `${shown} is ${c.label}, a code of this ${role} turn: Tab goes to the turn panel.`;
  } else {
    const c = ctx.convKeys && ctx.convKeys.get(k);
    if (c) return `${shown} is ${c.label}, a conversation code: Tab goes to the conversation panel.`;
  }
  for (const [role, keys] of ctx.roleKeys || []) {
    const c = keys.get(k);
    if (c && (!ctx.turn || role !== ctx.turn.role)) return `${shown} is ${c.label}, for ${ROLE_TURNS[role] || role}.`;
  }
  if (/^[A-Z]$/.test(k)) return `${shown} is not a key here: is Caps Lock on?`;
  if (k.length > 1 || k === " ") return undefined; // Shift, space, F-keys, PageDown...: no message
  const where = S.panel === "conversation" ? "the conversation panel" : "this turn";
  return `${shown} is not a key of ${where} (? lists the keys).`;
}

// a choice code waits for its value
function pickKey(S, ev, ctx) {
  const { id, ti } = S.pick;
  const code = ctx.codes[id];
  const done = { ...S, pick: null };
  if (!code) return annotatorKey(done, ev, ctx);
  const k = ev.key;
  const i = valueKeys(code.values.length).indexOf(k);
  const isSet = code.level === "set";
  const sel = ctx.sel && ti !== null;
  if (i >= 0) // with words selected, one value and the words go together: the wait ends
    return { S: isSet && !sel ? S : done, action: { type: "choose", id, ti, value: code.values[i].value },
      say: isSet && !sel ? pickHint(code) : "" };
  switch (k) {
    case "Backspace": case "Delete": return { S: done, action: { type: "clear", id, ti }, say: "" };
    case "Enter": return { S: done, action: sel ? { type: "attach", id, ti } : { type: "pick-end" }, say: "" };
    case "Escape": return { S: done, action: { type: "pick-end" }, say: "" };
    case "j": case "k": case "ArrowDown": case "ArrowUp": case "n": case "p": case "u": case "?":
    case "Tab": case "!": case ".":
      return withPickEnd(annotatorKey(done, ev, ctx));
  }
  const keys = S.panel === "conversation" ? ctx.convKeys : ctx.turnKeys;
  const own = keys && keys.get(k);
  if (own && own.id === id) return { S: done, action: { type: "pick-end" }, say: "" };
  if (k.length > 1) return { S, action: SWALLOW }; // Shift on its way to "?" or "!"
  const how = code.level === "set" ? "Enter when done" : "Esc cancels";
  return { S, action: SWALLOW,
    say: `“${k}” is not a value of ${code.label}: ${keyRange(code.values.length)}, Backspace clears, ${how}.` };
}

// another key ended the wait for a value: the view also clears the waiting code
const withPickEnd = (r) => ({ ...r, action: r.action && r.action.type !== "none"
  ? { ...r.action, endPick: true } : { type: "pick-end" } });

// help open: ? or Esc closes it; arrows, j / k, space and page keys scroll it
function helpKey(S, ev) {
  const scroll = { j: 1, ArrowDown: 1, k: -1, ArrowUp: -1, " ": 8, PageDown: 8, PageUp: -8 };
  if (ev.key === "?" || ev.key === "Escape") return { S, action: { type: "help", show: false }, say: "" };
  if (scroll[ev.key]) return { S, action: { type: "help-scroll", lines: scroll[ev.key] } };
  if (ev.key.length > 1) return { S, action: SWALLOW };
  return { S, action: SWALLOW, say: "The codebook is open: Esc or ? closes it." };
}

// --- the adjudicator ------------------------------------------------------------------------------
// ctx: {nValues: how many values the item's code has, hasItem}
const digit = (key) => (/^[1-9]$/.test(key) ? Number(key) : 0);

export function adjudicatorKey(ev, ctx) {
  if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter") return { type: "submit" };
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return PASS;
  if (ev.typing) return ev.key === "Escape" ? { type: "leave-field" } : SWALLOW;
  switch (ev.key) {
    case "n": return { type: "nav", to: "next" };
    case "p": return { type: "nav", to: "prev" };
    case "Enter": return { type: "submit" };
    case "?": return { type: "help" };
    case "Escape": return { type: "help", show: false };
  }
  const n = digit(ev.key);
  if (n) return n <= ctx.nValues && ctx.hasItem ? { type: "pick", n: n - 1 } : { type: "ignored" };
  return SWALLOW;
}
