// The widgets' key maps (README "Annotating in a notebook" key table). Run: node --test tests/widgets/js/
import assert from "node:assert/strict";
import { test } from "node:test";

import { adjudicatorKey, annotatorKey, codeKeyMap, PASS, RESERVED, SWALLOW } from "../../../annotate/widgets/js/keys.js";

const turnCodes = [{ id: "a", key: "e" }, { id: "b" }, { id: "c", key: "j" }];
const convCodes = [{ id: "conv", key: "x" }, { id: "conv2", key: "e" }];
const ctx = (over = {}) => ({ active: true, coding: true, turn: 4, turnCodes: turnCodes.map((c) => c.id),
  codeKeys: codeKeyMap(turnCodes, convCodes, 4), ...over });
const key = (k, over = {}) => ({ key: k, ctrlKey: false, metaKey: false, altKey: false, typing: false, ...over });

test("annotator: the README's key table", () => {
  assert.deepEqual(annotatorKey(key("j"), ctx()), { type: "focus", by: 1 });
  assert.deepEqual(annotatorKey(key("ArrowDown"), ctx()), { type: "focus", by: 1 });
  assert.deepEqual(annotatorKey(key("k"), ctx()), { type: "focus", by: -1 });
  assert.deepEqual(annotatorKey(key("ArrowUp"), ctx()), { type: "focus", by: -1 });
  assert.deepEqual(annotatorKey(key("n"), ctx()), { type: "nav", to: "finish" });
  assert.deepEqual(annotatorKey(key("p"), ctx()), { type: "nav", to: "prev" });
  assert.deepEqual(annotatorKey(key("u"), ctx()), { type: "undo" });
  assert.deepEqual(annotatorKey(key("?"), ctx()), { type: "help" });
  assert.deepEqual(annotatorKey(key("Escape"), ctx()), { type: "help", show: false });
});

test("annotator: number keys pick the focused turn's n-th code", () => {
  assert.deepEqual(annotatorKey(key("2"), ctx()), { type: "code", id: "b", ti: 4 });
  assert.deepEqual(annotatorKey(key("9"), ctx()), { type: "ignored" }); // no 9th code
  assert.deepEqual(annotatorKey(key("0"), ctx()), SWALLOW);
  assert.deepEqual(annotatorKey(key("1"), ctx({ coding: false })), SWALLOW); // behind a content note
});

test("annotator: codebook keys, the turn's codes before the conversation's, reserved keys win", () => {
  assert.deepEqual(annotatorKey(key("e"), ctx()), { type: "code", id: "a", ti: 4 });
  assert.deepEqual(annotatorKey(key("x"), ctx()), { type: "code", id: "conv", ti: null });
  assert.deepEqual(annotatorKey(key("x"), ctx({ coding: false })), { type: "code", id: "conv", ti: null });
  assert.deepEqual(annotatorKey(key("e"), ctx({ coding: false })), { type: "ignored" });
  assert.deepEqual(annotatorKey(key("j"), ctx()), { type: "focus", by: 1 }); // code c's key "j" is reserved
  assert.ok(RESERVED.has("j") && RESERVED.has("?"));
  assert.deepEqual(annotatorKey(key("z"), ctx()), SWALLOW);
});

test("annotator: modifiers pass to the notebook, typing stays in the field", () => {
  for (const mod of ["ctrlKey", "metaKey", "altKey"]) assert.equal(annotatorKey(key("j", { [mod]: true }), ctx()), PASS);
  assert.deepEqual(annotatorKey(key("j", { typing: true }), ctx()), SWALLOW);
  assert.deepEqual(annotatorKey(key("1", { typing: true }), ctx()), SWALLOW);
  assert.deepEqual(annotatorKey(key("Escape", { typing: true }), ctx()), { type: "leave-field" });
  assert.deepEqual(annotatorKey(key("j"), ctx({ active: false })), SWALLOW); // no coder picked yet
});

test("adjudicator: values, navigation, submit", () => {
  const c = { nValues: 3, hasItem: true };
  assert.deepEqual(adjudicatorKey(key("2"), c), { type: "pick", n: 1 });
  assert.deepEqual(adjudicatorKey(key("4"), c), { type: "ignored" });
  assert.deepEqual(adjudicatorKey(key("1"), { nValues: 3, hasItem: false }), { type: "ignored" });
  assert.deepEqual(adjudicatorKey(key("n"), c), { type: "nav", to: "next" });
  assert.deepEqual(adjudicatorKey(key("p"), c), { type: "nav", to: "prev" });
  assert.deepEqual(adjudicatorKey(key("Enter"), c), { type: "submit" });
  assert.deepEqual(adjudicatorKey(key("Enter", { ctrlKey: true, typing: true }), c), { type: "submit" });
  assert.deepEqual(adjudicatorKey(key("Enter", { metaKey: true }), c), { type: "submit" });
  assert.deepEqual(adjudicatorKey(key("Enter", { typing: true }), c), SWALLOW); // a newline in the memo
  assert.deepEqual(adjudicatorKey(key("Escape", { typing: true }), c), { type: "leave-field" });
  assert.equal(adjudicatorKey(key("n", { altKey: true }), c), PASS);
  assert.deepEqual(adjudicatorKey(key("?"), c), { type: "help" });
  assert.deepEqual(adjudicatorKey(key("Escape"), c), { type: "help", show: false });
});
