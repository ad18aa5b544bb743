// The markdown tree (made by annotate/widgets/render.py) as a view tree, cue highlighting, and
// the DOM builder's refusal of anything but text. Run: node --test tests/widgets/js/
import assert from "node:assert/strict";
import { test } from "node:test";

import { cueMatcher, splitCues } from "../../../annotate/widgets/js/cues.js";
import { materialize, SAFE_ATTRS, SAFE_TAGS } from "../../../annotate/widgets/js/dom.js";
import { plainText, treeToView } from "../../../annotate/widgets/js/markdown.js";

// a minimal stand-in for `document`: records elements, never parses HTML
class FakeNode {
  constructor(tag, text) { this.tag = tag; this.attrs = {}; this.children = []; this.text = text; }
  setAttribute(k, v) { this.attrs[k] = v; }
  append(c) { this.children.push(c); }
  set textContent(t) { this.children = [new FakeNode("#text", t)]; }
  set innerHTML(_t) { throw new Error("innerHTML used"); }
}
const doc = {
  createElement: (tag) => new FakeNode(tag),
  createTextNode: (t) => new FakeNode("#text", t),
};
// HTML-ish text of a fake node, to compare whole structures at a glance
const html = (n) => n.tag === "#text" ? n.text
  : `<${n.tag}${n.className ? ` class="${n.className}"` : ""}${Object.entries(n.attrs).map(([k, v]) => ` ${k}="${v}"`).join("")}>` +
    n.children.map(html).join("") + `</${n.tag}>`;
const render = (tree, cue = null) => treeToView(tree, cue).map((v) => html(materialize(v, doc))).join("");

test("paragraphs, emphasis, inline code, breaks", () => {
  const tree = [{ t: "p", c: ["a ", { t: "strong", c: ["b"] }, " ", { t: "em", c: ["i"] }, " ",
    { t: "code", v: "<x>" }, { t: "br" }, { t: "s", c: ["gone"] }, "\nnext"] }];
  assert.equal(render(tree),
    '<p>a <strong>b</strong> <em>i</em> <code class="aa-icode"><x></code><br></br><s>gone</s>\nnext</p>');
});

test("headings keep their level, code blocks their language", () => {
  assert.equal(render([{ t: "h", n: 2, c: ["Title"] }]),
    '<div class="aa-h aa-h2" role="heading" aria-level="2">Title</div>');
  assert.equal(render([{ t: "h", n: 99, c: ["x"] }]),
    '<div class="aa-h aa-h6" role="heading" aria-level="6">x</div>');
  assert.equal(render([{ t: "pre", lang: "py", v: "x = '<b>'" }, { t: "hr" }]),
    '<pre class="aa-pre" data-lang="py"><code>x = \'<b>\'</code></pre><hr></hr>');
  assert.equal(render([{ t: "pre", lang: "", v: "indented" }]), '<pre class="aa-pre"><code>indented</code></pre>');
});

test("nested and numbered lists (the start number is kept)", () => {
  const tree = [{ t: "ol", start: 3, c: [{ t: "li", c: ["three"] }, { t: "li", c: ["four",
    { t: "ul", c: [{ t: "li", c: ["sub", { t: "ol", c: [{ t: "li", c: ["deep"] }] }] }] }] }] }];
  assert.equal(render(tree),
    '<ol start="3"><li>three</li><li>four<ul><li>sub<ol><li>deep</li></ol></li></ul></li></ol>');
  assert.equal(render([{ t: "ol", start: "3; x", c: [] }]), "<ol></ol>"); // not a number: dropped
});

test("quotes and tables with alignment", () => {
  assert.equal(render([{ t: "blockquote", c: [{ t: "p", c: ["q"] }] }]), "<blockquote><p>q</p></blockquote>");
  const table = [{ t: "table", c: [
    { t: "thead", c: [{ t: "tr", c: [{ t: "th", align: "right", c: ["n"] }, { t: "th", c: ["w"] }] }] },
    { t: "tbody", c: [{ t: "tr", c: [{ t: "td", align: "right", c: ["1"] }, { t: "td", align: "evil", c: [] }] }] },
  ] }];
  assert.equal(render(table),
    '<div class="aa-table-wrap"><table class="aa-table"><thead><tr><th data-align="right">n</th><th>w</th></tr></thead>' +
    '<tbody><tr><td data-align="right">1</td><td></td></tr></tbody></table></div>');
});

test("links and images are text with their URL, never live links", () => {
  const out = render([{ t: "p", c: [{ t: "a", href: "https://e.org/x", c: ["docs"] }, " ",
    { t: "a", href: "https://e.org", c: ["https://e.org"] }, " ", { t: "img", alt: "cat", src: "c.png" }] }]);
  assert.equal(out, '<p><span class="aa-link" title="https://e.org/x">docs</span><span class="aa-url"> &lt;https://e.org/x&gt;</span> '
    .replace("&lt;", "<").replace("&gt;", ">") +
    '<span class="aa-link" title="https://e.org">https://e.org</span> ' + // an autolink: once
    '<span class="aa-img">[image: cat]</span><span class="aa-url"> <c.png></span></p>');
  assert.ok(!out.includes("<a ") && !out.includes("href") && !out.includes("<img"));
});

test("markup in the text stays text; unknown nodes keep only their text", () => {
  const hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">';
  const node = materialize(treeToView([{ t: "p", c: [hostile] }])[0], doc);
  assert.deepEqual(node.children.map((c) => [c.tag, c.text]), [["#text", hostile]]);
  assert.equal(render([{ t: "script", c: ["x"] }, { t: "iframe", v: "y" }, { t: "a", href: "javascript:x", c: [] }, 7, null]),
    '<span>x</span>y<span class="aa-link" title="javascript:x"></span><span class="aa-url"> <javascript:x></span>');
});

test("materialize refuses tags and attributes outside its lists", () => {
  assert.throws(() => materialize({ tag: "script", text: "x" }, doc), /tag script/);
  assert.throws(() => materialize({ tag: "a", attrs: { href: "x" } }, doc), /tag a/);
  assert.throws(() => materialize({ tag: "span", attrs: { onclick: "x" } }, doc), /attribute onclick/);
  assert.throws(() => materialize({ tag: "span", attrs: { style: "x" } }, doc), /attribute style/);
  for (const t of ["script", "iframe", "a", "img", "style", "object", "svg"]) assert.ok(!SAFE_TAGS.has(t));
  for (const a of SAFE_ATTRS) assert.ok(!a.startsWith("on") && a !== "href" && a !== "src");
});

test("cues are marked in text, not in code", () => {
  const cue = cueMatcher([{ label: "Pressure", cues: ["you need to", "must"] }, { label: "Other", cues: ["Must"] }]);
  assert.deepEqual(splitCues("You need to go; you must.", cue), [
    { tag: "mark", cls: "aa-cue", text: "You need to", attrs: { title: "cue: Pressure" } },
    " go; you ",
    { tag: "mark", cls: "aa-cue", text: "must", attrs: { title: "cue: Pressure, Other" } },
    ".",
  ]);
  assert.deepEqual(splitCues("mustard", cue), ["mustard"]); // whole words only
  assert.equal(render([{ t: "p", c: ["must ", { t: "code", v: "must" }] }], cue),
    '<p><mark class="aa-cue" title="cue: Pressure, Other">must</mark> <code class="aa-icode">must</code></p>');
  assert.equal(cueMatcher([{ label: "x", cues: [] }]), null);
  assert.deepEqual(splitCues("a (b) [c]", cueMatcher([{ label: "p", cues: ["(b)"] }])).length, 3); // escaped
});

test("plainText joins text and code", () => {
  assert.equal(plainText(["a", { t: "em", c: ["b", { t: "code", v: "c" }] }]), "abc");
});

// time(f(big)) / time(f(small)): CPU time of this process (other processes on a shared machine do
// not count), the best of `rounds` each, measured interleaved
function doublingRatio(f, small, big, rounds = 5) {
  const b = [Infinity, Infinity];
  for (let i = 0; i < rounds; i++)
    [small, big].forEach((x, k) => {
      const t0 = process.cpuUsage();
      f(x);
      const d = process.cpuUsage(t0);
      b[k] = Math.min(b[k], d.user + d.system);
    });
  return b[1] / b[0];
}

test("view building and cue marking take linear time (doubling the input ~doubles the time)", () => {
  const cue = cueMatcher([{ label: "P", cues: ["you need to"] }]);
  // many nodes (the walk), and one long text with a cue every ~100 characters (the scan)
  const para = (n) => [{ t: "p", c: Array.from({ length: n }, (_, i) => (i % 2 ? " *a you need to a" : { t: "em", c: ["a"] })) }];
  const text = (n) => [{ t: "p", c: [(" *a".repeat(30) + " you need to").repeat(n / 10)] }];
  for (const make of [para, text]) {
    const small = make(80000);
    const big = make(160000);
    treeToView(small, cue); // warm up
    // a quadratic walk shows 4x every time; a linear one 2x, now and then more on a busy machine
    const ratios = [];
    for (let i = 0; i < 3 && !(ratios.at(-1) < 3); i++)
      ratios.push(doublingRatio((x) => treeToView(x, cue), small, big));
    assert.ok(Math.min(...ratios) < 3, `doubling took ${ratios.map((r) => r.toFixed(1))}x the time`);
  }
});
