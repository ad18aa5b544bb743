// annotate: the widgets' state rules (pure functions, no DOM, no model).
// Annotator: the labels the kernel synced (`labels` trait) overlaid with changes still in flight
// (`optimistic`: Map keyText -> {value, seq}), the value an action sets, and the save indicator.
// Adjudicator: the decision form (gold value, kind, memo) and the message it sends.

// --- annotator: labels ------------------------------------------------------------------------
export const isConv = (ti) => ti === null || ti === undefined;
export const keyText = (ti, codeId) => (isConv(ti) ? `c:${codeId}` : `t:${ti}:${codeId}`);

// a value as the kernel stores it: a string, a set code's sorted JSON list, or null
export function storedForm(value) {
  if (value === null || value === undefined) return null;
  return Array.isArray(value) ? JSON.stringify([...value].sort()) : String(value);
}

export function labelValue(labels, optimistic, ti, codeId) {
  const k = keyText(ti, codeId);
  if (optimistic.has(k)) return optimistic.get(k).value;
  const L = labels || {};
  const unit = isConv(ti) ? L.c || {} : (L.t || {})[String(ti)] || {};
  return unit[codeId] === undefined ? null : unit[codeId];
}

// the evidence spans ([[start, end], ...]) of a code on a turn, with the change in flight: a
// change without evidence keeps the code's spans, a clear drops them
export function labelEvidence(labels, optimistic, ti, codeId) {
  const k = keyText(ti, codeId);
  const o = optimistic.get(k);
  if (o && o.value === null) return [];
  if (o && o.ev !== undefined) return o.ev;
  return (((labels || {}).ev || {})[k]) || [];
}

// every code's spans on a turn: {codeId: [[start, end], ...]} (codes without spans left out)
export function turnEvidence(labels, optimistic, ti) {
  const prefix = `t:${ti}:`;
  const ids = new Set();
  for (const k of Object.keys((labels || {}).ev || {})) if (k.startsWith(prefix)) ids.add(k.slice(prefix.length));
  for (const k of optimistic.keys()) if (k.startsWith(prefix)) ids.add(k.slice(prefix.length));
  const out = {};
  for (const id of ids) {
    const spans = labelEvidence(labels, optimistic, ti, id);
    if (spans.length) out[id] = spans;
  }
  return out;
}

// whether saving a value needs evidence (as the codebook's Code.requires_evidence): evidence
// "required" and a value saying the code applies (not a binary code's absent value, not [])
export function requiresEvidence(code, stored) {
  if (!code || code.evidence !== "required" || stored === null || stored === undefined) return false;
  if (code.level === "binary") return stored !== code.values[0].value;
  return !(code.level === "set" && stored === "[]");
}

// the value saved when words are attached as evidence: a binary code on; a choice code the value
// picked (a set code: added to its values), or its current value; null when it has none
export function attachValue(code, current, picked) {
  if (code.level === "binary") return code.values.length > 1 ? code.values[1].value : "1";
  if (code.level === "set") {
    const set = new Set(parseSet(current));
    if (picked !== undefined && picked !== null) set.add(picked);
    return set.size ? [...set].sort() : null;
  }
  return picked !== undefined && picked !== null ? picked : current;
}

// one turn's labels with the changes in flight applied (for the chips on the turn)
export function turnLabels(labels, optimistic, ti) {
  const unit = { ...(((labels || {}).t || {})[String(ti)] || {}) };
  const prefix = `t:${ti}:`;
  for (const [k, o] of optimistic) {
    if (!k.startsWith(prefix)) continue;
    const codeId = k.slice(prefix.length);
    if (o.value === null) delete unit[codeId]; else unit[codeId] = o.value;
  }
  return unit;
}

// the chips on a turn, in the order of `order` (the codes of the turn's panel): a binary code
// shows its label, a choice code the label of its chosen value(s) (the code's name in the title),
// then ⚑ (flagged) and ✎ (memo). Returns [{text, title, codeId}].
export function appliedChips(unit, codeOf, order = []) {
  const ids = Object.keys(unit).filter((c) => !c.startsWith("_"));
  const rank = (c) => { const i = order.indexOf(c); return i < 0 ? order.length : i; };
  ids.sort((a, b) => rank(a) - rank(b));
  const out = [];
  for (const id of ids) {
    const code = codeOf(id);
    if (!code) { out.push({ text: id, title: id, codeId: id }); continue; }
    const empty = code.level === "set" && !parseSet(unit[id]).length; // "none of them" is an answer
    const text = code.level === "binary" ? code.label : empty ? `${code.label}: none` : valueLabels(code, unit[id]);
    out.push({ text, title: code.level === "binary" || empty ? text : `${code.label}: ${text}`, codeId: id });
  }
  if (unit._flag) out.push({ text: "⚑", title: "flagged for discussion", codeId: "_flag" });
  if (unit._memo) out.push({ text: "✎", title: `memo: ${unit._memo}`, codeId: "_memo" });
  return out;
}

export const chipText = (unit, codeOf, order) => appliedChips(unit, codeOf, order).map((c) => c.text).join(" · ");

// the labels of a stored value (a set code: its values, joined), or the value itself
export function valueLabels(code, stored) {
  const one = (x) => ((code.values || []).find((v) => v.value === x) || { label: x }).label || x;
  if (code.level === "set") {
    const order = (code.values || []).map((v) => v.value);
    const ids = parseSet(stored).sort((a, b) => order.indexOf(a) - order.indexOf(b));
    return ids.length ? ids.map(one).join(", ") : "(none)";
  }
  return String(one(stored));
}

export function isUnsaved(labels, optimistic, ti, codeId) {
  const k = keyText(ti, codeId);
  return optimistic.has(k) || ((labels || {}).unsaved || []).includes(k);
}

export function statusText(status, notes) {
  if (!status) return "status: open";
  return `status: ${status}` + (status === "skipped" ? ` (${(notes || {})["c:_status"] || ""})` : "");
}

// --- annotator: the value an action sets ----------------------------------------------------
// a binary code: on (its second value, or "1") <-> off
export function binaryNext(code, current) {
  const present = code.values.length > 1 ? code.values[1].value : "1";
  return current === present ? null : present;
}

// a click on value v: a set code toggles v in the set; other codes choose v, or clear it
export function chooseNext(code, current, v) {
  if (code.level === "set") {
    const set = new Set(current ? JSON.parse(current) : []);
    if (set.has(v)) set.delete(v); else set.add(v);
    return set.size ? [...set] : null;
  }
  return current === v ? null : v;
}

// a number key on a non-binary code steps none -> v1 -> v2 ... -> none (a set code: [v1])
export function cycleNext(code, current) {
  const ids = code.values.map((v) => v.value);
  const i = code.level === "set" ? -1 : ids.indexOf(current);
  if (i + 1 >= ids.length) return null;
  return code.level === "set" ? [ids[i + 1]] : ids[i + 1];
}

export function keyNext(code, current) {
  return code.level === "binary" ? binaryNext(code, current) : cycleNext(code, current);
}

// --- annotator: the save indicator ----------------------------------------------------------
// S: {outstanding: Set of seq, optimistic: Map}; msg: the kernel's reply to one of this view's
// messages; saveState: the synced save_state. Returns the new S parts and what to show
// (save: [status, message], or null to leave the indicator as it is).
export function onReply(S, msg, saveState) {
  const outstanding = new Set(S.outstanding);
  outstanding.delete(msg.seq);
  const optimistic = new Map([...S.optimistic].filter(([, o]) => o.seq !== msg.seq));
  let error = S.error;
  let save = null;
  if (msg.type === "error") {
    error = true;
    save = ["error", msg.message];
  } else if (msg.type === "ack") {
    error = msg.pending > 0; // changes from earlier still unsaved (e.g. after navigating)
    if (error) save = ["error", (saveState || {}).message];
    else if (outstanding.size === 0) save = ["saved", ""];
  }
  return { outstanding, optimistic, error, save };
}

// --- adjudicator: the decision form ---------------------------------------------------------
// F: {value (stored form or null), set (sorted value ids, set codes), kind, memo, change}
export function formFor(item, code) {
  const d = (item && item.decision) || {};
  const gold = item && item.gold !== undefined ? item.gold : null;
  return { value: gold, set: code.level === "set" ? parseSet(gold) : [], kind: d.kind || null,
    memo: d.memo || "", change: d.codebook_change || "" };
}

export function parseSet(v) {
  if (v === null || v === undefined) return [];
  try {
    const ids = JSON.parse(v);
    return Array.isArray(ids) ? ids.map(String).sort() : [];
  } catch (_e) { return []; }
}

// actions: {type: "pick", value} | {type: "coder", value} (a coder's stored value) |
// {type: "kind", kind} | {type: "memo", text} | {type: "change", text}
export function formReducer(F, action, code) {
  const isSet = code.level === "set";
  switch (action.type) {
    case "pick": {
      if (!isSet) return { ...F, value: action.value };
      const set = F.set.includes(action.value) ? F.set.filter((x) => x !== action.value)
        : [...F.set, action.value].sort();
      return { ...F, set, value: JSON.stringify(set) };
    }
    case "coder": {
      if (action.value === undefined) return F;
      if (!isSet) return { ...F, value: action.value };
      const set = parseSet(action.value);
      return { ...F, set, value: JSON.stringify(set) };
    }
    case "kind": return { ...F, kind: action.kind };
    case "memo": return { ...F, memo: action.text };
    case "change": return { ...F, change: action.text };
    default: return F;
  }
}

export function isPicked(F, code, v) {
  return code.level === "set" ? F.set.includes(v) : F.value === v;
}

export function missing(F) {
  const out = [];
  if (F.value === null) out.push("a gold value");
  if (!F.kind) out.push("the kind of disagreement");
  return out;
}

export function decideMessage(F, item, code) {
  return { type: "decide", index: item.index, value: code.level === "set" ? [...F.set] : F.value,
    kind: F.kind, memo: F.memo.trim(), codebook_change: F.change.trim() || null };
}

// "label (id)" for one value, or the values of a set code, or — for none
export function valueLabel(code, v) {
  if (v === null || v === undefined) return "—";
  const one = (x) => {
    const cv = (code.values || []).find((y) => y.value === x);
    return cv && cv.label && cv.label !== x ? `${cv.label} (${x})` : String(x);
  };
  if (code.level === "set") {
    let ids;
    try { ids = JSON.parse(v); } catch (_e) { return String(v); }
    return Array.isArray(ids) && ids.length ? ids.map(one).join(", ") : "(none)";
  }
  return one(v);
}

// the coders whose value is (or, for set codes, contains) v
export function chosenBy(code, values, v) {
  const out = [];
  for (const [coder, cv] of Object.entries(values || {})) {
    if (code.level === "set" ? parseSet(cv).includes(v) : cv === v) out.push(coder);
  }
  return out;
}
