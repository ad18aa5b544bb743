// The widgets' state rules: labels overlaid with changes in flight, the values actions set, the
// save indicator, the adjudication form. Run: node --test tests/widgets/js/
import assert from "node:assert/strict";
import { test } from "node:test";

import * as st from "../../../annotate/widgets/js/state.js";

const binary = { id: "b", level: "binary", values: [{ value: "0" }, { value: "1" }] };
const nominal = { id: "n", level: "nominal", values: [{ value: "x", label: "Ex" }, { value: "y", label: "y" }] };
const set = { id: "s", level: "set", values: [{ value: "a", label: "A" }, { value: "b" }, { value: "c" }] };

const labels = { conversation_id: "c1", c: { _status: "skipped", n: "x" },
  t: { 2: { b: "1", _memo: "m" } }, notes: { "c:_status": "off topic" }, unsaved: ["t:3:n"] };

test("keys name a unit and a code as the kernel does", () => {
  assert.equal(st.keyText(null, "n"), "c:n");
  assert.equal(st.keyText(undefined, "n"), "c:n");
  assert.equal(st.keyText(0, "n"), "t:0:n");
});

test("a change in flight shows over the synced labels until its reply", () => {
  const opt = new Map([["t:2:b", { value: null, seq: "v:1" }], ["t:2:n", { value: "y", seq: "v:2" }]]);
  assert.equal(st.labelValue(labels, new Map(), 2, "b"), "1");
  assert.equal(st.labelValue(labels, opt, 2, "b"), null);
  assert.equal(st.labelValue(labels, opt, null, "n"), "x");
  assert.equal(st.labelValue(labels, opt, 7, "n"), null);
  assert.deepEqual(st.turnLabels(labels, opt, 2), { _memo: "m", n: "y" });
  assert.deepEqual(st.turnLabels(labels, opt, 22), {}); // t:22 is not t:2
  assert.equal(st.chipText({ b: "1", n: "y", _flag: "1", _memo: "m" }, (id) => ({ b: { label: "Bee", level: "binary" } })[id]), "Bee · n · ⚑ · ✎");
  assert.ok(st.isUnsaved(labels, opt, 2, "n") && st.isUnsaved(labels, new Map(), 3, "n"));
  assert.ok(!st.isUnsaved(labels, new Map(), 2, "n"));
  assert.equal(st.statusText("skipped", labels.notes), "status: skipped (off topic)");
  assert.equal(st.statusText(null, {}), "status: open");
});

test("the chips on a turn: a choice code shows its value's label, not the code's name", () => {
  const codes = {
    emp: { id: "emp", label: "Expresses empathy", level: "binary", values: [] },
    move: { id: "move", label: "Assistant primary move", level: "nominal",
      values: [{ value: "listen", label: "Listen" }, { value: "ask", label: "Ask" }] },
    emo: { id: "emo", label: "Emotions expressed", level: "set",
      values: [{ value: "sadness", label: "Sadness" }, { value: "anxiety", label: "Anxiety" }] },
    warm: { id: "warm", label: "Warmth", level: "ordinal", values: [{ value: "1", label: "Cold" }] },
  };
  const of = (id) => codes[id];
  const chips = st.appliedChips({ move: "ask", emp: "1", emo: '["anxiety","sadness"]', _flag: "1" }, of, ["emp", "emo", "move"]);
  assert.deepEqual(chips.map((c) => c.text), ["Expresses empathy", "Sadness, Anxiety", "Ask", "⚑"]);
  assert.equal(chips[2].title, "Assistant primary move: Ask");
  assert.equal(chips[2].codeId, "move");
  assert.equal(st.chipText({ warm: "1", emo: "[]" }, of), "Cold · Emotions expressed: none");
  assert.equal(st.chipText({ gone: "3" }, of), "gone"); // a code no longer in the codebook
  assert.equal(st.valueLabels(codes.move, "other"), "other"); // a value the codebook lacks
});

test("values an action sets", () => {
  assert.equal(st.binaryNext(binary, null), "1");
  assert.equal(st.binaryNext(binary, "1"), null);
  assert.equal(st.binaryNext({ values: [] }, null), "1");
  assert.equal(st.chooseNext(nominal, null, "x"), "x");
  assert.equal(st.chooseNext(nominal, "x", "x"), null); // a second click clears
  assert.equal(st.chooseNext(nominal, "x", "y"), "y");
  assert.deepEqual(st.chooseNext(set, '["a"]', "b"), ["a", "b"]);
  assert.equal(st.chooseNext(set, '["a"]', "a"), null);
  assert.equal(st.cycleNext(nominal, null), "x");
  assert.equal(st.cycleNext(nominal, "x"), "y");
  assert.equal(st.cycleNext(nominal, "y"), null);
  assert.deepEqual(st.cycleNext(set, '["b"]'), ["a"]);
  assert.equal(st.keyNext(binary, "1"), null);
  assert.equal(st.storedForm(["b", "a"]), '["a","b"]');
  assert.equal(st.storedForm(3), "3");
  assert.equal(st.storedForm(undefined), null);
});

test("the save indicator: saved only when nothing is outstanding or pending", () => {
  const S = { outstanding: new Set(["v:1", "v:2"]), error: false,
    optimistic: new Map([["c:n", { value: "x", seq: "v:1" }], ["c:b", { value: "1", seq: "v:2" }]]) };
  let r = st.onReply(S, { type: "ack", seq: "v:1", pending: 0 }, {});
  assert.deepEqual([...r.outstanding], ["v:2"]);
  assert.deepEqual([...r.optimistic.keys()], ["c:b"]);
  assert.equal(r.save, null); // v:2 still on its way
  assert.equal(S.outstanding.size, 2); // pure: the old state is unchanged
  r = st.onReply(r, { type: "ack", seq: "v:2", pending: 0 }, {});
  assert.deepEqual(r.save, ["saved", ""]);
  assert.equal(r.error, false);
  r = st.onReply({ ...r, outstanding: new Set(["v:3"]) }, { type: "ack", seq: "v:3", pending: 2 }, { message: "disk full" });
  assert.deepEqual([r.error, r.save], [true, ["error", "disk full"]]); // earlier changes still unsaved
  r = st.onReply({ ...r, outstanding: new Set(["v:4"]) }, { type: "error", seq: "v:4", message: "E605" }, {});
  assert.deepEqual([r.error, r.save, r.outstanding.size], [true, ["error", "E605"], 0]);
});

test("adjudication form: pick, take a coder's value, kind, message", () => {
  let F = st.formFor({ gold: null }, nominal);
  assert.deepEqual(st.missing(F), ["a gold value", "the kind of disagreement"]);
  F = st.formReducer(F, { type: "pick", value: "y" }, nominal);
  F = st.formReducer(F, { type: "kind", kind: "coder_error" }, nominal);
  F = st.formReducer(F, { type: "memo", text: "  clear case " }, nominal);
  assert.deepEqual(st.missing(F), []);
  assert.ok(st.isPicked(F, nominal, "y") && !st.isPicked(F, nominal, "x"));
  assert.deepEqual(st.decideMessage(F, { index: 4 }, nominal),
    { type: "decide", index: 4, value: "y", kind: "coder_error", memo: "clear case", codebook_change: null });
  assert.equal(st.formReducer(F, { type: "coder", value: undefined }, nominal), F); // a coder with a memo only
});

test("adjudication form: set codes toggle members and send a sorted list", () => {
  let F = st.formFor({ gold: '["c","a"]', decision: { kind: "other", memo: "m", codebook_change: "1.0.1" } }, set);
  assert.deepEqual([F.set, F.kind, F.memo, F.change], [["a", "c"], "other", "m", "1.0.1"]);
  F = st.formReducer(F, { type: "pick", value: "b" }, set);
  F = st.formReducer(F, { type: "pick", value: "a" }, set);
  assert.deepEqual(F.set, ["b", "c"]);
  assert.equal(F.value, '["b","c"]');
  F = st.formReducer(F, { type: "coder", value: '["c","b","a"]' }, set);
  assert.deepEqual(st.decideMessage(F, { index: 0 }, set).value, ["a", "b", "c"]);
  assert.deepEqual(st.parseSet("not json"), []);
});

test("value labels and who chose a value", () => {
  assert.equal(st.valueLabel(nominal, "x"), "Ex (x)");
  assert.equal(st.valueLabel(nominal, "y"), "y");
  assert.equal(st.valueLabel(nominal, null), "—");
  assert.equal(st.valueLabel(set, '["a","b"]'), "A (a), b");
  assert.equal(st.valueLabel(set, "[]"), "(none)");
  assert.equal(st.valueLabel(set, "oops"), "oops");
  const values = { alice: '["a","b"]', bob: '["b"]', carol: "broken" };
  assert.deepEqual(st.chosenBy(set, values, "b"), ["alice", "bob"]);
  assert.deepEqual(st.chosenBy(nominal, { alice: "x", bob: "y" }, "x"), ["alice"]);
});
