// The annotator's suggestions and calibration texts (suggest.js). Run: node --test tests/widgets/js/
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  acceptPlan, differences, feedbackRow, payloadFor, resultText, ruleText, scoreRow, suggestionOf,
  suggestionStatus, suggestionText,
} from "../../../annotate/widgets/js/suggest.js";

const bin = (id, label, evidence = "none") => ({ id, label, level: "binary", evidence,
  values: [{ value: "0", label: "absent" }, { value: "1", label: "present" }] });
const CODES = {
  emp: bin("emp", "Empathy"),
  defers: bin("defers", "Defers", "required"),
  move: { id: "move", label: "Move", level: "nominal", evidence: "optional",
    values: [{ value: "listen", label: "Listen" }, { value: "ask", label: "Ask" }] },
  emo: { id: "emo", label: "Emotions", level: "set", evidence: "none",
    values: [{ value: "joy", label: "Joy" }, { value: "anger", label: "Anger" }] },
  warm: { id: "warm", label: "Warmth", level: "interval", evidence: "none",
    values: [{ value: "1", label: "Cold" }, { value: "2", label: "Warm" }] },
};
const sug = (turn_index, code_id, value, shown = "before", extra = {}) =>
  ({ coder: "gpt-x", turn_index, code_id, value, shown, rationale: null, evidence: null, ...extra });
const PAYLOAD = {
  conversation_id: "c1", mode: "before", coder: "gpt-x", hidden: 0,
  items: [sug(1, "emp", "1"), sug(1, "move", "listen", "before", { evidence: [{ start: 0, end: 4, sha256: "x" }] }),
    sug(1, "defers", "1"), sug(1, "emo", '["anger","joy"]'), sug(null, "warm", "2"), sug(3, "emp", "0")],
};

test("payload: only the open conversation's counts", () => {
  assert.equal(payloadFor(PAYLOAD, "c1").items.length, 6);
  assert.deepEqual(payloadFor(PAYLOAD, "c2"), { mode: "off", coder: null, items: [], hidden: 0 });
  assert.deepEqual(payloadFor(null, "c1").items, []);
  assert.equal(suggestionOf(PAYLOAD, 1, "emp").value, "1");
  assert.equal(suggestionOf(PAYLOAD, null, "warm").value, "2");
  assert.equal(suggestionOf(PAYLOAD, 2, "emp"), null);
  assert.equal(suggestionOf(PAYLOAD, undefined, "emp"), null);
});

test("text: the value's label, and how it compares with the coder's once revealed", () => {
  assert.deepEqual(suggestionText(CODES.emo, sug(1, "emo", '["anger","joy"]'), null),
    { who: "gpt-x", value: "Joy, Anger", compare: "" });
  assert.equal(suggestionText(CODES.emp, sug(1, "emp", "1", "after"), "1").compare, "same as yours");
  assert.equal(suggestionText(CODES.move, sug(1, "move", "listen", "after"), "ask").compare, "differs from yours");
  assert.equal(suggestionText(CODES.move, sug(1, "move", "listen", "before"), "ask").compare, "");
});

test("accept: hints of one unit, for codes not set; evidence carried; required evidence checked", () => {
  const mine = { move: "ask" };
  const plan = acceptPlan(PAYLOAD, 1, CODES, (id) => mine[id] ?? null, () => [], undefined);
  assert.deepEqual(plan.changes.map((c) => [c.code.id, c.value, c.evidence]), [
    ["emp", "1", null],
    ["emo", ["anger", "joy"], null],
  ]);
  assert.deepEqual(plan.needEvidence, ["Defers"]);
  // one code: even over the coder's value, with the LLM's spans
  const one = acceptPlan(PAYLOAD, 1, CODES, (id) => mine[id] ?? null, () => [], "move");
  assert.deepEqual(one.changes.map((c) => [c.code.id, c.value, c.evidence]), [["move", "listen", [{ start: 0, end: 4 }]]]);
  // the coder's own spans satisfy required evidence
  const withSpans = acceptPlan(PAYLOAD, 1, CODES, () => null, (id) => (id === "defers" ? [[0, 2]] : []), "defers");
  assert.equal(withSpans.changes.length, 1);
  // the conversation unit
  assert.deepEqual(acceptPlan(PAYLOAD, null, CODES, () => null, () => [], undefined).changes.map((c) => c.code.id), ["warm"]);
});

test("accept: nothing to accept says why (after, off, already set)", () => {
  const after = { ...PAYLOAD, mode: "after", items: [sug(1, "emp", "1", "after")] };
  assert.match(acceptPlan(after, 1, CODES, () => null, () => [], undefined).none, /only after you saved your own label/);
  assert.equal(acceptPlan(after, 1, CODES, () => null, () => [], undefined).changes.length, 0);
  const off = payloadFor(null, "c1");
  assert.equal(acceptPlan(off, 1, CODES, () => null, () => [], undefined).none, "No LLM suggestions here.");
  const set = acceptPlan(PAYLOAD, 3, CODES, () => "1", () => [], undefined);
  assert.match(set.none, /for a code you have set/);
  assert.equal(acceptPlan(PAYLOAD, 1, CODES, () => "1", () => [], "emp").none, "You already have the suggested value.");
});

test("status line: hints, or how many are hidden until the coder's own label", () => {
  assert.equal(suggestionStatus(payloadFor(null, "c1"), false), "");
  assert.match(suggestionStatus(PAYLOAD, false), /^Hints from gpt-x: = accepts/);
  assert.equal(suggestionStatus({ mode: "after", coder: "gpt-x", hidden: 5, items: [] }, true),
    "reliability sample: gpt-x's labels show after you save your own (5 hidden).");
});

test("calibration: feedback rows, score rows, the rule and the verdict", () => {
  const r = feedbackRow({ turn_index: null, role: null, code_id: "warm", label: "Warmth", gold: "2", yours: "1", agree: false,
    explanation: "warm throughout" }, CODES);
  assert.deepEqual(r, { where: "Conversation", code: "Warmth", gold: "Warm", yours: "Cold", agree: false, explanation: "warm throughout" });
  assert.equal(feedbackRow({ turn_index: 1, role: "assistant", code_id: "emp", gold: "1", yours: null, agree: false }, CODES).yours, "not coded");
  assert.equal(feedbackRow({ turn_index: 1, role: "assistant", code_id: "emp", gold: "1", yours: null }, CODES).where, "Turn 1 · assistant");
  assert.equal(differences([{ agree: true }, { agree: false }, { agree: false }]), 2);
  assert.deepEqual(scoreRow({ code_id: "emp", unit: "turn", role: "assistant", n_units: 8, alpha: 0.7333, alpha_low: 0.2, alpha_high: 1,
    assessable: true, passed: false }, CODES), { code: "Empathy (assistant)", units: "8", alpha: "0.73 [0.20, 1.00]", verdict: "fail", state: "fail" });
  assert.equal(scoreRow({ code_id: "warm", unit: "conversation", n_units: 3, alpha: null, assessable: false }, CODES).verdict, "not assessable (3 units)");
  assert.equal(ruleText({ threshold: 0.8, criterion: "alpha_low", min_units: 10 }),
    "Pass rule: the lower end of alpha's 95 % interval ≥ 0.8 against gold on every code with at least 10 units.");
  assert.match(resultText({ passed: true, attempt: 1, codebook: { id: "toy", version: "1.0.0" }, codes_assessed: 2 }), /^Certified: attempt 1 passed for codebook toy 1.0.0/);
  assert.match(resultText({ passed: false, attempt: 2, codebook: { id: "toy", version: "1.0.0" }, codes_assessed: 2, failed_codes: ["emp"] }), /Not passed.*below the threshold: emp/);
  assert.match(resultText({ passed: false, attempt: 1, codebook: { id: "toy", version: "1.0.0" }, codes_assessed: 0 }), /no code had enough units/);
});
