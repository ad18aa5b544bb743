// annotate: cue highlighting (pure). The codebook's cue phrases become one case-insensitive
// regular expression; text is split into plain strings and <mark> view nodes.

export function escapeRx(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// codes: the codebook's code payloads ({label, cues}). Returns null when there is no cue.
export function cueMatcher(codes) {
  const byCue = new Map();
  for (const code of codes)
    for (const c of code.cues || []) {
      const k = c.toLowerCase();
      byCue.set(k, [...(byCue.get(k) || []), code.label]);
    }
  if (!byCue.size) return null;
  // longest first, so that "you need to" wins over "you"; word boundaries where a cue has them
  const alts = [...byCue.keys()].sort((a, b) => b.length - a.length).map((c) => {
    const e = escapeRx(c);
    return (/^\w/.test(c) ? "\\b" : "") + e + (/\w$/.test(c) ? "\\b" : "");
  });
  return { rx: new RegExp(alts.join("|"), "gi"), codes: byCue };
}

// text -> [string | {tag: "mark", ...}], one left-to-right scan (linear in the text)
export function splitCues(text, cue) {
  if (!cue || !text) return text ? [text] : [];
  const out = [];
  let pos = 0;
  for (const m of text.matchAll(cue.rx)) {
    if (m.index > pos) out.push(text.slice(pos, m.index));
    out.push({ tag: "mark", cls: "aa-cue", text: m[0],
      attrs: { title: "cue: " + (cue.codes.get(m[0].toLowerCase()) || []).join(", ") } });
    pos = m.index + m[0].length;
  }
  if (pos < text.length) out.push(text.slice(pos));
  return out;
}
