// annotate: evidence spans (pure, no DOM). A span is [start, end) in code points of the turn's
// source text (turns.text, as the label store keeps it); the markdown tree says which source
// characters each shown character is (runs [d, s, dn, sn]: shown code points d..d+dn are
// source code points s..s+sn, one by one when dn === sn, else as a whole: an entity, an escape).
// JS strings count UTF-16 units, Python code points: every offset here is a code point, and the
// UTF-16 positions are computed where text is cut (an emoji is one code point, two units).

// runs <-> the compact text of a data-src attribute ("d,s,dn,sn;...")
export const encodeRuns = (runs) => runs.map((r) => r.join(",")).join(";");
export function decodeRuns(text) {
  if (!text) return [];
  return text.split(";").map((r) => r.split(",").map(Number));
}

// UTF-16 offset of every code point boundary of a string: out[i] is where code point i starts
// (out[n] = text.length)
export function codePointStarts(text) {
  const out = [];
  let u = 0;
  for (const ch of text) { out.push(u); u += ch.length; }
  out.push(u);
  return out;
}

export const cpLength = (text) => codePointStarts(text).length - 1;

// the source range [s, e) of each shown code point of a leaf (null: no offsets)
export function sourceOfChars(n, runs) {
  const out = new Array(n).fill(null);
  for (const [d, s, dn, sn] of runs || []) {
    for (let i = 0; i < dn && d + i < n; i++) out[d + i] = dn === sn ? [s + i, s + i + 1] : [s, s + sn];
  }
  return out;
}

// The shown code points of a leaf covered by a source range, as [lo, hi) intervals (an atomic
// run is taken whole when the range touches it).
function shownRanges(runs, start, end) {
  const out = [];
  for (const [d, s, dn, sn] of runs) {
    if (dn === sn) {
      const a = Math.max(start, s);
      const b = Math.min(end, s + sn);
      if (a < b) out.push([d + a - s, d + b - s]);
    } else if (start < s + sn && end > s) out.push([d, d + dn]);
  }
  return out;
}

// Cut a leaf's text at the marks (source ranges {start, end, id}): [{text, ids}] in order, ids
// the marks covering that piece (empty: plain text). Adjacent pieces with the same ids merge.
export function splitLeaf(text, runs, marks) {
  if (!marks || !marks.length || !runs || !runs.length) return [{ text, ids: [] }];
  const starts = codePointStarts(text);
  const n = starts.length - 1;
  const ivs = [];
  const cuts = new Set([0, n]);
  for (const m of marks) {
    for (const [lo, hi] of shownRanges(runs, m.start, m.end)) {
      const a = Math.max(0, lo);
      const b = Math.min(n, hi);
      if (a >= b) continue;
      ivs.push([a, b, m.id]);
      cuts.add(a); cuts.add(b);
    }
  }
  if (!ivs.length) return [{ text, ids: [] }];
  const points = [...cuts].sort((x, y) => x - y);
  const out = [];
  for (let k = 0; k + 1 < points.length; k++) {
    const [a, b] = [points[k], points[k + 1]];
    const ids = [...new Set(ivs.filter(([lo, hi]) => lo <= a && b <= hi).map((iv) => iv[2]))];
    const piece = text.slice(starts[a], starts[b]);
    const last = out[out.length - 1];
    if (last && last.ids.join(" ") === ids.join(" ")) last.text += piece;
    else out.push({ text: piece, ids });
  }
  return out;
}

// --- spans --------------------------------------------------------------------------------------
const sorted = (spans) => [...spans].sort((a, b) => a[0] - b[0] || a[1] - b[1]);

// a span added to a code's spans (the same span twice is kept once)
export function addSpan(spans, span) {
  const out = (spans || []).filter(([s, e]) => !(s === span[0] && e === span[1]));
  return sorted([...out, [span[0], span[1]]]);
}

// the spans that do not overlap [start, end)
export const withoutOverlap = (spans, start, end) => (spans || []).filter(([s, e]) => e <= start || s >= end);

export const overlaps = (spans, start, end) => (spans || []).some(([s, e]) => s < end && e > start);

// --- characters of a rendered turn: selection and words ------------------------------------------
// chars: [{ch, src: [s, e] | null, block}] in document order (annotator.js reads them from the
// DOM); a selection is [a, b) of char indexes.

const SPACE = /^\s$/u;

// a selection of chars as a source span: whitespace at its ends left out, chars without offsets
// skipped; null when nothing selected has offsets
export function charsToSpan(chars, a, b) {
  while (a < b && (SPACE.test(chars[a].ch) || !chars[a].src)) a++;
  while (b > a && (SPACE.test(chars[b - 1].ch) || !chars[b - 1].src)) b--;
  if (a >= b) return null;
  return { start: chars[a].src[0], end: chars[b - 1].src[1], a, b };
}

// the visible text of the chars whose source lies in [start, end) (a quote, as shown); a line
// break between blocks (paragraphs, list items)
export function visibleText(chars, start, end) {
  let out = "";
  let block = null;
  for (const c of chars) {
    if (!c.src || c.src[0] < start || c.src[1] > end) continue;
    if (out && c.block !== block) out += "\n";
    out += c.ch;
    block = c.block;
  }
  return out;
}

const WORD = /[\p{L}\p{N}\p{M}\p{Extended_Pictographic}_'’-]/u;

// the words of the chars: [[a, b), ...] char index ranges of word-like segments, never across
// two blocks (paragraphs, list items, cells); Intl.Segmenter where the runtime has it
export function words(chars) {
  const out = [];
  let k = 0;
  while (k < chars.length) {
    let j = k;
    while (j < chars.length && chars[j].block === chars[k].block) j++;
    const text = chars.slice(k, j).map((c) => c.ch).join("");
    for (const [a, b] of wordRanges(text)) out.push([k + a, k + b]);
    k = j;
  }
  return out.filter(([a, b]) => chars.slice(a, b).some((c) => c.src));
}

// word-like segments of a text, as code point ranges
export function wordRanges(text) {
  const starts = codePointStarts(text);
  const cpAt = new Map(starts.map((u, i) => [u, i]));
  const out = [];
  if (typeof Intl !== "undefined" && Intl.Segmenter) {
    for (const seg of new Intl.Segmenter(undefined, { granularity: "word" }).segment(text)) {
      const word = seg.isWordLike || /\p{Extended_Pictographic}/u.test(seg.segment);
      if (word) out.push([cpAt.get(seg.index), cpAt.get(seg.index + seg.segment.length)]);
    }
    return out;
  }
  const cps = [...text];
  let i = 0;
  while (i < cps.length) {
    if (!WORD.test(cps[i])) { i++; continue; }
    const a = i;
    while (i < cps.length && WORD.test(cps[i])) i++;
    out.push([a, i]);
  }
  return out;
}

// Keyboard selection word by word. ws: words ([a, b) char ranges); sel: {a, b} chars or null;
// op: "next" (the word after the selection, alone), "prev" (the word before it, alone),
// "extend" (one more word at the end), "shrink" (one word less at the end). Returns {a, b} or
// null (no word there: the selection stays as it was).
export function moveSelection(ws, sel, op) {
  if (!ws.length) return null;
  if (!sel) return op === "prev" ? { a: ws[ws.length - 1][0], b: ws[ws.length - 1][1] } : { a: ws[0][0], b: ws[0][1] };
  const first = ws.findIndex(([, b]) => b > sel.a);
  let last = -1;
  ws.forEach(([a], i) => { if (a < sel.b) last = i; });
  if (first < 0 || last < 0) return { a: ws[0][0], b: ws[0][1] };
  switch (op) {
    case "next": return last + 1 < ws.length ? { a: ws[last + 1][0], b: ws[last + 1][1] } : null;
    case "prev": return first > 0 ? { a: ws[first - 1][0], b: ws[first - 1][1] } : null;
    case "extend": return last + 1 < ws.length ? { a: sel.a, b: ws[last + 1][1] } : null;
    case "shrink": return last > first ? { a: sel.a, b: ws[last - 1][1] } : null;
    default: return null;
  }
}

// a quote for messages and the span list: “first words … last words” when long
export function shortQuote(text, max = 60) {
  const t = text.replace(/\s+/gu, " ").trim();
  if ([...t].length <= max) return `“${t}”`;
  const cps = [...t];
  const half = Math.floor((max - 1) / 2);
  return `“${cps.slice(0, half).join("")}…${cps.slice(cps.length - half).join("")}”`;
}
