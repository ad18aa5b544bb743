// annotate: markdown tree -> view tree (pure, no DOM).
// The tree comes from annotate/widgets/render.py (markdown-it-py, raw HTML off): a list of
// nodes, each a string (text) or {t, c | v, ...}; see docs/internals.md, "Widget front end".
// The view tree is plain objects {tag, cls, attrs, text, children} that dom.js materializes with
// textContent only. Links and images are shown as text with their URL, never as live links.
// Text with source offsets (the tree's "o", see render.py) is put in an element with data-src
// (its runs), so that a selection can be turned into offsets of the turn's text (select.js), and
// evidence marks (source ranges) are cut into it as <mark> elements.

import { splitCues } from "./cues.js";
import { encodeRuns, splitLeaf } from "./evidence.js";

// tree tags that become the same HTML element (anything else is handled below or kept as text)
const SAME = new Set(["p", "blockquote", "ul", "li", "thead", "tbody", "tr", "strong", "em", "s"]);
const ALIGN = new Set(["left", "center", "right"]);

// blocks: the tree of one turn; cue: a cueMatcher result or null; ev: evidence marks or null,
// {marks: [{start, end, id}] (source ranges), mark(ids) -> {cls, attrs}} (how a piece covered
// by the marks with these ids is shown)
export function treeToView(blocks, cue, ev) {
  const out = [];
  for (const node of blocks || []) for (const v of nodeToView(node, cue, ev)) out.push(v);
  return out;
}

function kids(node, cue, ev) {
  const out = [];
  (node.c || []).forEach((child, k) => {
    const runs = node.o && node.o[k];
    if (typeof child === "string" && runs && runs.length) out.push(leafView(child, runs, cue, ev));
    else for (const v of nodeToView(child, cue, ev)) out.push(v);
  });
  return out;
}

// a string with source offsets: <span data-src> holding its text, cut at evidence marks and cues
function leafView(text, runs, cue, ev) {
  return { tag: "span", cls: "aa-src", attrs: { "data-src": encodeRuns(runs) },
    children: marked(text, runs, ev, (piece) => splitCues(piece, cue)) };
}

function marked(text, runs, ev, inner) {
  const out = [];
  for (const piece of ev ? splitLeaf(text, runs, ev.marks) : [{ text, ids: [] }]) {
    if (!piece.ids.length) { out.push(...inner(piece.text)); continue; }
    const m = ev.mark(piece.ids);
    out.push({ tag: "mark", cls: m.cls, attrs: m.attrs, children: inner(piece.text) });
  }
  return out;
}

// code (inline or a block) with source offsets: its text cut at evidence marks, never at cues
function codeView(node, cls, ev) {
  const text = String(node.v ?? "");
  if (!node.o || !node.o.length) return { tag: "code", cls, text };
  return { tag: "code", cls: cls ? `${cls} aa-src` : "aa-src", attrs: { "data-src": encodeRuns(node.o) },
    children: marked(text, node.o, ev, (piece) => (piece ? [piece] : [])) };
}

// one tree node -> a list of view nodes (text may split around cues; links add their URL)
export function nodeToView(node, cue, ev) {
  if (typeof node === "string") return splitCues(node, cue);
  if (!node || typeof node !== "object") return [];
  const t = node.t;
  if (SAME.has(t)) return [{ tag: t, children: kids(node, cue, ev) }];
  switch (t) {
    case "h": {
      const n = Math.min(6, Math.max(1, Number(node.n) || 1));
      return [{ tag: "div", cls: `aa-h aa-h${n}`, attrs: { role: "heading", "aria-level": n },
        children: kids(node, cue, ev) }];
    }
    case "ol": {
      const start = Number.isInteger(node.start) ? { start: node.start } : undefined;
      return [{ tag: "ol", attrs: start, children: kids(node, cue, ev) }];
    }
    case "table":
      return [{ tag: "div", cls: "aa-table-wrap", children: [{ tag: "table", cls: "aa-table",
        children: kids(node, cue, ev) }] }];
    case "th": case "td":
      return [{ tag: t, attrs: ALIGN.has(node.align) ? { "data-align": node.align } : undefined,
        children: kids(node, cue, ev) }];
    case "pre":
      return [{ tag: "pre", cls: "aa-pre", attrs: node.lang ? { "data-lang": String(node.lang) } : undefined,
        children: [codeView(node, undefined, ev)] }];
    case "code":
      return [codeView(node, "aa-icode", ev)];
    case "br": return [{ tag: "br" }];
    case "hr": return [{ tag: "hr" }];
    case "a": {
      const label = kids(node, cue, ev);
      const href = String(node.href ?? "");
      const shown = { tag: "span", cls: "aa-link", attrs: { title: href }, children: label };
      // an autolink's text is its URL: show it once
      return href && plainText(node.c) !== href ? [shown, urlNode(href)] : [shown];
    }
    case "img":
      return [{ tag: "span", cls: "aa-img", text: `[image${node.alt ? ": " + node.alt : ""}]` },
        urlNode(String(node.src ?? ""))];
    default: // a node this view does not know: its text, never its markup
      return node.c ? [{ tag: "span", children: kids(node, cue, ev) }]
        : node.v !== undefined ? [String(node.v)] : [];
  }
}

function urlNode(href) {
  return { tag: "span", cls: "aa-url", text: ` <${href}>` };
}

// the text of a list of tree nodes (for comparing a link's text with its URL)
export function plainText(nodes) {
  let s = "";
  for (const n of nodes || []) {
    if (typeof n === "string") s += n;
    else if (n && typeof n === "object") s += n.v !== undefined ? String(n.v) : plainText(n.c);
  }
  return s;
}
