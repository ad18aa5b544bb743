// annotate: the widgets' key maps (pure). A key press becomes an action object; the views
// (annotator.js, adjudicator.js) carry the actions out.
//
// Returns:
//   PASS        not the widget's key (Ctrl/Meta/Alt combinations): let it go on untouched
//   SWALLOW     keep it from the notebook, but do nothing (and keep the browser's default)
//   {type, ...} an action: the view runs it and prevents the browser's default

export const PASS = null;
export const SWALLOW = Object.freeze({ type: "none" });

// keys the annotator uses itself: a codebook `key` cannot take them
export const RESERVED = new Set(["j", "k", "n", "p", "u", "?", "ArrowDown", "ArrowUp", "Escape"]);

const digit = (key) => (/^[1-9]$/.test(key) ? Number(key) : 0);

// ev: {key, ctrlKey, metaKey, altKey, typing} (typing: the key comes from a text field)
// ctx: {active: a coder is chosen, coding: a turn is focused and visible, turn: its index,
//       turnCodes: the focused turn's code ids in order (keys 1-9),
//       codeKeys: Map codebook key -> {id, ti} (the focused turn's codes, then conversation codes)}
export function annotatorKey(ev, ctx) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return PASS;
  if (ev.typing) return ev.key === "Escape" ? { type: "leave-field" } : SWALLOW;
  if (!ctx.active) return SWALLOW;
  switch (ev.key) {
    case "j": case "ArrowDown": return { type: "focus", by: 1 };
    case "k": case "ArrowUp": return { type: "focus", by: -1 };
    case "n": return { type: "nav", to: "finish" };
    case "p": return { type: "nav", to: "prev" };
    case "u": return { type: "undo" };
    case "?": return { type: "help" };
    case "Escape": return { type: "help", show: false };
  }
  const n = digit(ev.key);
  if (n && ctx.coding) {
    const id = (ctx.turnCodes || [])[n - 1];
    return id ? { type: "code", id, ti: ctx.turn } : { type: "ignored" };
  }
  const bound = !RESERVED.has(ev.key) && ctx.codeKeys && ctx.codeKeys.get(ev.key);
  if (bound) return bound.ti === null || ctx.coding ? { type: "code", ...bound } : { type: "ignored" };
  return SWALLOW;
}

// the codebook keys in reach: the focused turn's codes first, then the conversation's
export function codeKeyMap(turnCodes, convCodes, ti) {
  const out = new Map();
  for (const c of turnCodes) if (c.key) out.set(c.key, { id: c.id, ti });
  for (const c of convCodes) if (c.key && !out.has(c.key)) out.set(c.key, { id: c.id, ti: null });
  return out;
}

// ctx: {nValues: how many values the item's code has, hasItem}
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
