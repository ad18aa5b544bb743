"""Where the text of a markdown-it token stream is in its source: offsets for evidence spans.

markdown-it gives blocks their lines (``map``) but inline tokens no position. ``Locator``
walks the tokens in order with a cursor and finds each token's source from the cursor on,
within its block: text as it is, an escape or entity as its markup (``\\*``, ``&amp;``),
emphasis markers and code-span backticks stepped over, a link's destination and title skipped
with markdown-it's own parsers, a code block line by line. What is found is the source by
construction (the shown text equals the source there, or is the markup it came from); what is
not found within a window stays without offsets, never with wrong ones. The offsets are then
moved from markdown-it's normalised text (``\\r\\n`` and ``\\r`` read as ``\\n``) to the turn's
own. Everything is in code points (Python string offsets), as the label store keeps spans.

A *run* ``[d, s, dn, sn]`` says that the shown characters ``d .. d+dn`` of a string are the
source characters ``s .. s+sn``: character by character when ``dn == sn``, else as a whole
(an entity or an escape).
"""

from __future__ import annotations

from markdown_it.helpers import parseLinkDestination, parseLinkTitle
from markdown_it.token import Token

#: shown characters [d, d+dn) are source characters [s, s+sn)
Run = list[int]

#: how far past the cursor a token's source is looked for (block prefixes, indentation, table
#: pipes); farther away it stays without offsets. This also keeps the walk linear.
WINDOW = 512
_PAIRS = {"em_open", "em_close", "strong_open", "strong_close", "s_open", "s_close"}
_SPACE = " \t\n"


class Locator:
    """The source offsets of the text tokens of one turn (see the module doc)."""

    def __init__(self, text: str) -> None:
        self.text = text
        # markdown-it's normalize rule: the text its tokens were parsed from
        self.src = src = text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")
        starts = [0]
        pos = src.find("\n")
        while pos >= 0:
            starts.append(pos + 1)
            pos = src.find("\n", pos + 1)
        self.starts = starts
        self.runs: dict[int, list[Run]] = {}

    def line(self, n: int) -> int:
        """The offset where line ``n`` starts (the end of the text past the last line)."""
        return self.starts[n] if n < len(self.starts) else len(self.src)

    def find(self, what: str, cur: int, end: int) -> int:
        if not what:
            return -1
        return self.src.find(what, cur, min(end, cur + WINDOW + len(what)))

    def locate(self, tokens: list[Token]) -> dict[int, list[Run]]:
        """Runs by token id (``id(token)``), in the offsets of the turn's own text."""
        cur = 0
        for tok in tokens:
            if tok.map is None:
                continue
            cur = max(cur, self.line(tok.map[0]))
            if tok.type == "inline":
                cur = self.inline(tok.children or [], cur, self.line(tok.map[1]))
            elif tok.type in ("fence", "code_block"):
                self.code_block(tok)
        if len(self.src) != len(self.text):
            self.to_original()
        return self.runs

    def inline(self, children: list[Token], cur: int, end: int) -> int:
        links: list[bool] = []  # open links: autolink or not
        for tok in children:
            kind = tok.type
            if kind in ("text", "text_special"):
                cur = self.text_token(tok, cur, end)
            elif kind in ("softbreak", "hardbreak"):
                pos = self.find("\n", cur, end)
                if pos >= 0:
                    if kind == "softbreak":
                        self.runs[id(tok)] = [[0, pos, 1, 1]]
                    cur = pos + 1
            elif kind in _PAIRS:
                pos = self.find(tok.markup, cur, end)
                cur = cur if pos < 0 else pos + len(tok.markup)
            elif kind == "code_inline":
                cur = self.code_inline(tok, cur, end)
            elif kind in ("link_open", "link_close"):
                cur = self.link(tok, links, cur, end)
            elif kind == "image":
                pos = self.find("![", cur, end)
                if pos >= 0:
                    cur = self.after_label(self.inline(tok.children or [], pos + 2, end), end)
        return cur

    def text_token(self, tok: Token, cur: int, end: int) -> int:
        """Text as it is; an escape or an entity (``text_special``) shown as its content."""
        source = tok.content if tok.type == "text" else tok.markup
        pos = self.find(source, cur, end)
        if pos < 0:
            return cur
        self.runs[id(tok)] = [[0, pos, len(tok.content), len(source)]]
        return pos + len(source)

    def link(self, tok: Token, links: list[bool], cur: int, end: int) -> int:
        if tok.type == "link_open":
            links.append(tok.markup == "autolink")
            pos = self.find("<" if links[-1] else "[", cur, end)
            return cur if pos < 0 else pos + 1
        if links and links.pop():
            pos = self.find(">", cur, end)
            return cur if pos < 0 else pos + 1
        return self.after_label(cur, end)

    def code_inline(self, tok: Token, cur: int, end: int) -> int:
        """A code span: its content is the source between the backticks (newlines shown as
        spaces, one space trimmed at each end as CommonMark says)."""
        mark = tok.markup
        opened = self.find(mark, cur, end)
        if opened < 0:
            return cur
        start = opened + len(mark)
        close = self.src.find(mark, start, end)
        while close >= 0 and self.src[close + len(mark) : close + len(mark) + 1] == "`":
            close = self.src.find(mark, close + len(mark) + 1, end)  # a longer run: not ours
        if close < 0:
            return start
        inner, shift = self.src[start:close].replace("\n", " "), 0
        if inner.startswith(" ") and inner.endswith(" ") and inner.strip(" "):
            inner, shift = inner[1:-1], 1
        if inner and inner == tok.content:
            self.runs[id(tok)] = [[0, start + shift, len(inner), len(inner)]]
        return close + len(mark)

    def after_label(self, cur: int, end: int) -> int:
        """Past a link's ``]`` and its ``(destination "title")`` or ``[label]``."""
        src = self.src
        pos = self.find("]", cur, end)
        if pos < 0:
            return cur
        pos += 1
        if src[pos : pos + 1] == "[":
            close = src.find("]", pos + 1, end)
            return pos if close < 0 else close + 1
        if src[pos : pos + 1] != "(":
            return pos
        at = self.skip_space(pos + 1, end)
        dest = parseLinkDestination(src, at, end)
        if dest.ok:
            at = self.skip_space(dest.pos, end)
            title = parseLinkTitle(src, at, end)
            if title.ok:
                at = self.skip_space(title.pos, end)
        close = src.find(")", at, end)
        return pos if close < 0 else close + 1

    def skip_space(self, pos: int, end: int) -> int:
        while pos < end and self.src[pos] in _SPACE:
            pos += 1
        return pos

    def code_block(self, tok: Token) -> None:
        """A fenced or indented code block: each shown line is the end of its source line."""
        assert tok.map is not None
        content = tok.content.removesuffix("\n")
        first = tok.map[0] + (1 if tok.type == "fence" else 0)
        runs: list[Run] = []
        shown = 0
        lines = content.split("\n")
        for k, line in enumerate(lines):
            begin = self.line(first + k)
            end = self.line(first + k + 1)
            end = end - 1 if self.src[end - 1 : end] == "\n" else end
            if line and self.src[begin:end].endswith(line):
                runs.append([shown, end - len(line), len(line), len(line)])
            if k + 1 < len(lines) and self.src[end : end + 1] == "\n":
                runs.append([shown + len(line), end, 1, 1])
            shown += len(line) + 1
        if runs:
            self.runs[id(tok)] = runs

    def to_original(self) -> None:
        """Offsets in markdown-it's text (``\\r\\n`` and ``\\r`` made ``\\n``) -> the turn's."""
        text, orig = self.text, []
        i = 0
        while i < len(text):
            orig.append(i)
            i += 2 if text[i] == "\r" and text[i + 1 : i + 2] == "\n" else 1
        orig.append(len(text))
        for key, runs in self.runs.items():
            out: list[Run] = []
            for d, s, dn, sn in runs:
                if dn != sn or orig[s + sn] - orig[s] == sn:
                    out.append([d, orig[s], dn, orig[s + sn] - orig[s]])
                else:  # a run over a line break that was \r\n: character by character
                    out += [
                        [d + i, orig[s + i], 1, orig[s + i + 1] - orig[s + i]] for i in range(sn)
                    ]
            self.runs[key] = out
