// Evidence spans in the front end: offsets as code points (an emoji is one, JS counts two
// units), marks cut into text with source offsets, keyboard selection word by word, span sets,
// and the state rules (spans in flight, required evidence, the value saved on attaching).
// Run: node --test tests/widgets/js/
import assert from "node:assert/strict";
import { test } from "node:test";

import { materialize } from "../../../annotate/widgets/js/dom.js";
import * as evd from "../../../annotate/widgets/js/evidence.js";
import { treeToView } from "../../../annotate/widgets/js/markdown.js";
import * as st from "../../../annotate/widgets/js/state.js";

class FakeNode {
  constructor(tag, text) { this.tag = tag; this.attrs = {}; this.children = []; this.text = text; }
  setAttribute(k, v) { this.attrs[k] = v; }
  append(c) { this.children.push(c); }
  set textContent(t) { this.children = [new FakeNode("#text", t)]; }
}
const doc = { createElement: (tag) => new FakeNode(tag), createTextNode: (t) => new FakeNode("#text", t) };
const html = (n) => n.tag === "#text" ? n.text
  : `<${n.tag}${n.className ? ` class="${n.className}"` : ""}${Object.entries(n.attrs).map(([k, v]) => ` ${k}="${v}"`).join("")}>` +
    n.children.map(html).join("") + `</${n.tag}>`;
const render = (tree, ev = null) => treeToView(tree, null, ev).map((v) => html(materialize(v, doc))).join("");
const ev = (marks) => ({ marks, mark: (ids) => ({ cls: "m", attrs: { "data-codes": ids.join(" ") } }) });

test("code points, not UTF-16 units: an emoji is one", () => {
  assert.deepEqual(evd.codePointStarts("a😀b"), [0, 1, 3, 4]);
  assert.equal(evd.cpLength("😀🙏🏽"), 3); // the skin tone modifier is its own code point
  assert.deepEqual(evd.sourceOfChars(4, [[0, 10, 2, 2], [2, 20, 1, 5]]), [[10, 11], [11, 12], [20, 25], null]);
  assert.deepEqual(evd.decodeRuns(evd.encodeRuns([[0, 4, 3, 3], [3, 9, 1, 5]])), [[0, 4, 3, 3], [3, 9, 1, 5]]);
});

test("a leaf is cut at the marks by its source offsets", () => {
  // shown "ab😀cd" is source [10, 15): marks in source offsets, cut at UTF-16 positions
  const runs = [[0, 10, 5, 5]];
  assert.deepEqual(evd.splitLeaf("ab😀cd", runs, [{ start: 11, end: 13, id: "x" }]),
    [{ text: "a", ids: [] }, { text: "b😀", ids: ["x"] }, { text: "cd", ids: [] }]);
  // overlapping marks of two codes: the overlap carries both
  assert.deepEqual(evd.splitLeaf("abcdef", [[0, 0, 6, 6]], [{ start: 0, end: 4, id: "x" }, { start: 2, end: 6, id: "y" }]),
    [{ text: "ab", ids: ["x"] }, { text: "cd", ids: ["x", "y"] }, { text: "ef", ids: ["y"] }]);
  // an entity (shown "&", source "&amp;") is marked whole when a mark touches it
  assert.deepEqual(evd.splitLeaf("a & b", [[0, 0, 2, 2], [2, 2, 1, 5], [3, 7, 2, 2]], [{ start: 3, end: 8, id: "x" }]),
    [{ text: "a ", ids: [] }, { text: "& ", ids: ["x"] }, { text: "b", ids: [] }]);
  assert.deepEqual(evd.splitLeaf("abc", [[0, 0, 3, 3]], [{ start: 5, end: 9, id: "x" }]), [{ text: "abc", ids: [] }]);
});

test("the view: text with offsets in data-src, marks cut in, across formatting", () => {
  // "Honestly, **just tell** me" shown as "Honestly, " + strong("just tell") + " me"
  const tree = [{ t: "p", c: ["Honestly, ", { t: "strong", c: ["just tell"], o: [[[0, 12, 9, 9]]] }, " me"],
    o: [[[0, 0, 10, 10]], null, [[0, 23, 3, 3]]] }];
  assert.equal(render(tree),
    '<p><span class="aa-src" data-src="0,0,10,10">Honestly, </span><strong><span class="aa-src" data-src="0,12,9,9">just tell</span></strong>' +
    '<span class="aa-src" data-src="0,23,3,3"> me</span></p>');
  assert.equal(render(tree, ev([{ start: 0, end: 16, id: "user_defers" }])),
    '<p><span class="aa-src" data-src="0,0,10,10"><mark class="m" data-codes="user_defers">Honestly, </mark></span>' +
    '<strong><span class="aa-src" data-src="0,12,9,9"><mark class="m" data-codes="user_defers">just</mark> tell</span></strong>' +
    '<span class="aa-src" data-src="0,23,3,3"> me</span></p>');
  // code keeps its offsets and marks, never cue marks
  const code = [{ t: "p", c: [{ t: "code", v: "x = 1", o: [[0, 1, 5, 5]] }] }];
  assert.equal(render(code, ev([{ start: 1, end: 2, id: "c" }])),
    '<p><code class="aa-icode aa-src" data-src="0,1,5,5"><mark class="m" data-codes="c">x</mark> = 1</code></p>');
  // a tree without offsets renders as before (the adjudicator, old payloads)
  assert.equal(render([{ t: "p", c: ["plain"] }], ev([{ start: 0, end: 3, id: "x" }])), "<p>plain</p>");
});

const chars = (text, block = "p", base = 0) => [...text].map((ch, i) => ({ ch, src: [base + i, base + i + 1], block }));

test("a selection of characters is a source span, whitespace and unmapped characters left out", () => {
  const list = chars("  hi 😀 there ");
  assert.deepEqual(evd.charsToSpan(list, 0, list.length), { start: 2, end: 12, a: 2, b: 12 }); // "hi 😀 there"
  const withUrl = [...chars("see "), { ch: "<", src: null, block: "p" }, ...chars("x", "p", 9)];
  assert.deepEqual(evd.charsToSpan(withUrl, 4, 5), null); // only a URL character: nothing
  assert.deepEqual(evd.charsToSpan(withUrl, 0, 6), { start: 0, end: 10, a: 0, b: 6 });
  assert.equal(evd.visibleText([...chars("one", "p1"), ...chars("two", "p2", 5)], 1, 7), "ne\ntw");
});

test("words: never across blocks, an emoji is a word, RTL words in logical order", () => {
  const list = [...chars("Sure 😀 it's your"), ...chars("next", "li", 20)];
  const words = evd.words(list);
  const shown = words.map(([a, b]) => list.slice(a, b).map((c) => c.ch).join(""));
  assert.deepEqual(shown, ["Sure", "😀", "it's", "your", "next"]);
  const rtl = chars("אני לא יודע מה");
  assert.deepEqual(evd.words(rtl).map(([a, b]) => rtl.slice(a, b).map((c) => c.ch).join("")), ["אני", "לא", "יודע", "מה"]);
});

test("keyboard selection moves and grows word by word", () => {
  const ws = [[0, 4], [5, 6], [7, 11], [12, 16]];
  assert.deepEqual(evd.moveSelection(ws, null, "next"), { a: 0, b: 4 });
  assert.deepEqual(evd.moveSelection(ws, null, "prev"), { a: 12, b: 16 });
  assert.deepEqual(evd.moveSelection(ws, { a: 0, b: 4 }, "next"), { a: 5, b: 6 });
  assert.deepEqual(evd.moveSelection(ws, { a: 5, b: 6 }, "extend"), { a: 5, b: 11 });
  assert.deepEqual(evd.moveSelection(ws, { a: 5, b: 11 }, "extend"), { a: 5, b: 16 });
  assert.equal(evd.moveSelection(ws, { a: 5, b: 16 }, "extend"), null); // no more words
  assert.deepEqual(evd.moveSelection(ws, { a: 5, b: 16 }, "shrink"), { a: 5, b: 11 });
  assert.equal(evd.moveSelection(ws, { a: 5, b: 6 }, "shrink"), null); // one word stays
  assert.deepEqual(evd.moveSelection(ws, { a: 7, b: 11 }, "prev"), { a: 5, b: 6 });
  assert.equal(evd.moveSelection([], null, "next"), null);
});

test("span sets: add once, remove what overlaps", () => {
  assert.deepEqual(evd.addSpan([[10, 20]], [0, 5]), [[0, 5], [10, 20]]);
  assert.deepEqual(evd.addSpan([[0, 5]], [0, 5]), [[0, 5]]);
  assert.deepEqual(evd.withoutOverlap([[0, 5], [10, 20], [30, 40]], 4, 12), [[30, 40]]);
  assert.ok(evd.overlaps([[0, 5]], 4, 9) && !evd.overlaps([[0, 5]], 5, 9));
  assert.equal(evd.shortQuote("a  b\nc"), "“a b c”");
  assert.equal([...evd.shortQuote("x".repeat(100), 11)].length, 13);
});

const defers = { id: "user_defers", level: "binary", evidence: "required", values: [{ value: "0" }, { value: "1" }] };
const emotions = { id: "user_emotions", level: "set", evidence: "required", values: [{ value: "anger" }, { value: "sadness" }] };
const move = { id: "ai_move", level: "nominal", evidence: "optional", values: [{ value: "ask" }, { value: "advise" }] };

test("state: spans in flight, required evidence, the value attached words save", () => {
  const labels = { t: { 2: { user_defers: "1" } }, ev: { "t:2:user_defers": [[30, 40]] } };
  assert.deepEqual(st.labelEvidence(labels, new Map(), 2, "user_defers"), [[30, 40]]);
  const changed = new Map([["t:2:user_defers", { value: "1", seq: "v:1", ev: [[0, 4], [30, 40]] }]]);
  assert.deepEqual(st.labelEvidence(labels, changed, 2, "user_defers"), [[0, 4], [30, 40]]);
  const kept = new Map([["t:2:user_defers", { value: "1", seq: "v:2" }]]); // a value change keeps them
  assert.deepEqual(st.labelEvidence(labels, kept, 2, "user_defers"), [[30, 40]]);
  const cleared = new Map([["t:2:user_defers", { value: null, seq: "v:3" }]]);
  assert.deepEqual(st.turnEvidence(labels, cleared, 2), {});
  assert.deepEqual(st.turnEvidence(labels, changed, 2), { user_defers: [[0, 4], [30, 40]] });

  assert.ok(st.requiresEvidence(defers, "1") && !st.requiresEvidence(defers, "0") && !st.requiresEvidence(defers, null));
  assert.ok(st.requiresEvidence(emotions, '["anger"]') && !st.requiresEvidence(emotions, "[]"));
  assert.ok(!st.requiresEvidence(move, "ask"));

  assert.equal(st.attachValue(defers, null), "1");
  assert.equal(st.attachValue(defers, "1"), "1"); // attaching never switches a code off
  assert.deepEqual(st.attachValue(emotions, '["sadness"]', "anger"), ["anger", "sadness"]);
  assert.deepEqual(st.attachValue(emotions, '["anger"]', "anger"), ["anger"]); // never unticks
  assert.equal(st.attachValue(move, "ask", "advise"), "advise");
  assert.equal(st.attachValue(move, "ask"), "ask"); // Enter: keeps the value
  assert.equal(st.attachValue(move, null), null); // needs a value first
});
