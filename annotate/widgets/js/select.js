// annotate: the characters of a rendered turn and where they are in its source (DOM, reading
// only). Every shown text that has source offsets sits in an element with data-src (its runs,
// markdown.js); its text nodes may be cut by cue and evidence marks. chars() lists the shown
// code points in document order with their source range; boundary() says where a DOM point
// (a Selection's anchor or focus) falls among them.

import { decodeRuns, sourceOfChars } from "./evidence.js";

const BLOCKS = "p, li, td, th, pre, blockquote, .aa-h, .aa-bubble";

// [{ch, src: [s, e] | null, block, node, u16}] of a turn's bubble: u16 is where the code point
// starts in its text node (UTF-16 units)
export function chars(bubble) {
  const out = [];
  for (const leaf of bubble.querySelectorAll("[data-src]")) {
    const text = leaf.textContent;
    const src = sourceOfChars([...text].length, decodeRuns(leaf.dataset.src));
    const block = leaf.closest(BLOCKS);
    const walk = leaf.ownerDocument.createTreeWalker(leaf, 4 /* NodeFilter.SHOW_TEXT */);
    let i = 0;
    for (let node = walk.nextNode(); node; node = walk.nextNode()) {
      let u = 0;
      for (const ch of node.data) {
        out.push({ ch, src: src[i] || null, block, node, u16: u });
        u += ch.length;
        i += 1;
      }
    }
  }
  return out;
}

// how many chars start before the DOM point (node, offset): the selection boundary there
export function boundary(list, node, offset) {
  const doc = node.ownerDocument || node;
  const at = doc.createRange();
  at.setStart(node, offset);
  at.collapse(true);
  let lo = 0;
  let hi = list.length;
  while (lo < hi) { // first char whose start is at or after the point
    const mid = (lo + hi) >> 1;
    if (at.comparePoint(list[mid].node, list[mid].u16) < 0) lo = mid + 1; else hi = mid;
  }
  return lo;
}
