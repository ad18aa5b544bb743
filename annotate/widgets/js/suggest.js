// annotate: the annotator's LLM suggestions and calibration feedback (pure: no DOM, no model).
// Suggestions: the `suggestions` trait (AnnotationSession.suggestion_payload: mode, coder, the
// visible items, how many are hidden) as the panels show it, and what accepting hints sets.
// Calibration: the `feedback`, `score` and `result` traits as rows and lines of text.

import { isConv, parseSet, requiresEvidence, valueLabels } from "./state.js";

const sameUnit = (a, b) => (isConv(a) ? null : Number(a)) === (isConv(b) ? null : Number(b));

// the payload of the open conversation (another conversation's, in flight, counts as none)
export function payloadFor(payload, conversationId) {
  const p = payload || {};
  if (!p.conversation_id || p.conversation_id !== conversationId) return { mode: "off", coder: null, items: [], hidden: 0 };
  return { mode: p.mode || "off", coder: p.coder || null, items: p.items || [], hidden: p.hidden || 0 };
}

// the visible suggestion of one code on one unit (ti null: the conversation), or null
export function suggestionOf(payload, ti, codeId) {
  return (payload.items || []).find((x) => x.code_id === codeId && sameUnit(x.turn_index, ti)) || null;
}

// what a suggestion's line says: who, the value's label, and how it compares with the coder's
// own value (after: "same as yours" / "differs from yours"; before: nothing, it is a hint)
export function suggestionText(code, sug, current) {
  const value = code ? valueLabels(code, sug.value) : sug.value;
  let compare = "";
  if (sug.shown === "after" && current !== null && current !== undefined) {
    compare = current === sug.value ? "same as yours" : "differs from yours";
  }
  return { who: sug.coder, value, compare };
}

// the value a `set` message carries for a suggested stored value (a set code: its list)
export const messageValue = (code, stored) => (code.level === "set" ? parseSet(stored) : stored);

// accepting hints on one unit: only those shown `before`; with `only` (one code) even over the
// coder's own value, else only codes the coder has not set. Each change carries the LLM's
// evidence spans where the code takes evidence; a code that requires evidence and comes without
// it (and has none of the coder's) is left out.
// current(codeId) -> the coder's value or null; spans(codeId) -> the coder's spans
// Returns {changes: [{code, value, evidence}], needEvidence: [labels], none: why there is none}
export function acceptPlan(payload, ti, codes, current, spans, only) {
  const changes = [];
  const needEvidence = [];
  const hints = (payload.items || []).filter((x) => x.shown === "before" && sameUnit(x.turn_index, ti)
    && (!only || x.code_id === only));
  for (const sug of hints) {
    const code = codes[sug.code_id];
    if (!code) continue;
    const cur = current(code.id);
    if (cur === sug.value || (!only && cur !== null && cur !== undefined)) continue;
    const takes = !isConv(ti) && (code.evidence || "none") !== "none";
    const ev = takes && sug.evidence && sug.evidence.length
      ? sug.evidence.map((x) => ({ start: x.start, end: x.end })) : null;
    if (!isConv(ti) && requiresEvidence(code, sug.value) && !ev && !(spans(code.id) || []).length) {
      needEvidence.push(code.label);
      continue;
    }
    changes.push({ code, value: messageValue(code, sug.value), evidence: ev });
  }
  let none = "";
  if (!hints.length) {
    if (payload.mode === "off") none = "No LLM suggestions here.";
    else if (payload.mode === "after") none = "Suggestions show here only after you saved your own label: there is no hint to accept.";
    else none = only ? "No hint for this code here." : "No hint here.";
  } else if (!changes.length && !needEvidence.length) {
    none = only ? "You already have the suggested value." : "Every hint here is for a code you have set: press a code's key, then = to take its hint.";
  }
  return { changes, needEvidence, none };
}

// the line under the panels that says what the suggestions do here
export function suggestionStatus(payload, reliability) {
  if (payload.mode === "off" || !payload.coder) return "";
  const hidden = payload.hidden ? ` (${payload.hidden} hidden)` : "";
  if (payload.mode === "before") return `Hints from ${payload.coder}: = accepts them for the codes you have not set, / shows the reasons.`;
  const why = reliability ? "reliability sample: " : "";
  return `${why}${payload.coder}'s labels show after you save your own${hidden}.`;
}

// --- calibration ----------------------------------------------------------------------------------
// a feedback row as the widget shows it: where, which code, gold's and the coder's value labels
export function feedbackRow(row, codes) {
  const code = codes[row.code_id];
  const label = (v) => (v === null || v === undefined ? "not coded" : code ? valueLabels(code, v) : String(v));
  const where = isConv(row.turn_index) ? "Conversation" : `Turn ${row.turn_index}${row.role ? ` · ${row.role}` : ""}`;
  return {
    where,
    code: row.label || (code ? code.label : row.code_id),
    gold: label(row.gold),
    yours: label(row.yours),
    agree: !!row.agree,
    explanation: row.explanation || "",
  };
}

export const differences = (rows) => (rows || []).filter((r) => !r.agree).length;

const num = (x, d = 2) => (x === null || x === undefined || Number.isNaN(x) ? "–" : Number(x).toFixed(d));

// a score row: the code, its units, alpha with its interval, and the verdict
export function scoreRow(row, codes) {
  const code = codes[row.code_id];
  const name = (code ? code.label : row.code_id) + (row.role && row.unit === "turn" ? ` (${row.role})` : "");
  const interval = row.alpha_low === null || row.alpha_low === undefined ? "" : ` [${num(row.alpha_low)}, ${num(row.alpha_high)}]`;
  let verdict;
  if (!row.assessable) verdict = row.reason ? `not assessable: ${row.reason}` : `not assessable (${row.n_units} units)`;
  else verdict = row.passed ? "pass" : "fail";
  return {
    code: name,
    units: String(row.n_units ?? 0),
    alpha: row.alpha === null || row.alpha === undefined ? "–" : `${num(row.alpha)}${interval}`,
    verdict,
    state: !row.assessable ? "na" : row.passed ? "pass" : "fail",
  };
}

// the pass rule in words
export function ruleText(rule) {
  if (!rule || rule.threshold === undefined) return "";
  const what = rule.criterion === "alpha_low" ? "the lower end of alpha's 95 % interval" : "alpha";
  return `Pass rule: ${what} ≥ ${rule.threshold} against gold on every code with at least ${rule.min_units} units.`;
}

// the verdict of a certified attempt
export function resultText(result) {
  if (!result || result.passed === undefined) return "";
  const cb = result.codebook ? `${result.codebook.id} ${result.codebook.version}` : "";
  if (result.passed) return `Certified: attempt ${result.attempt} passed for codebook ${cb} (${result.codes_assessed} code(s) assessed).`;
  const failed = (result.failed_codes || []).join(", ");
  const why = result.codes_assessed ? `below the threshold: ${failed}` : "no code had enough units to assess";
  return `Not passed: attempt ${result.attempt} (codebook ${cb}), ${why}. Discuss the differences, then retake (new_attempt=True).`;
}
