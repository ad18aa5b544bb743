"""Pure helpers that turn corpus turns and codebook codes into JSON payloads for the widget.

Markdown is parsed here with markdown-it-py (CommonMark with tables and strikethrough; raw HTML
off, so a ``<script>`` is text) into a compact tree whose leaves are plain strings. The front end
(``annotate/widgets/js/markdown.js``) builds DOM nodes from that tree with ``textContent`` only, so
no markup from the corpus is ever interpreted by the browser.

The tree (``markdown_tree``) is a list of nodes; a node is a string (text) or a dict:

- blocks: ``{"t": "p" | "blockquote" | "ul" | "li" | "table" | "thead" | "tbody" | "tr",
  "c": [nodes]}``; ``{"t": "h", "n": 1..6, "c": [...]}``; ``{"t": "ol", "start": n, "c": [...]}``
  (``start`` only when it is not 1); ``{"t": "th" | "td", "align": "left" | "center" |
  "right", "c": [...]}`` (``align`` only when given); ``{"t": "pre", "lang": str, "v": str}``
  (fenced and indented code); ``{"t": "hr"}``.
- inline: ``{"t": "strong" | "em" | "s", "c": [...]}``; ``{"t": "code", "v": str}``;
  ``{"t": "a", "href": str, "c": [...]}`` (shown as text with its URL, never as a live link);
  ``{"t": "img", "alt": str, "src": str}`` (shown as text); ``{"t": "br"}``.

Paragraphs of tight list items are not wrapped (their inline nodes sit in the ``li`` directly),
as markdown-it renders them. Soft line breaks are ``"\\n"`` inside the text.

With ``offsets=True`` (the widget's turns) the tree also says where its text is in the turn's
source, so that evidence spans selected in the browser are offsets into ``turns.text``: a
container whose children hold text gets ``"o"``, a list parallel to ``"c"`` (``None`` for a
child that is not text), and a ``code`` or ``pre`` node gets ``"o"`` for its ``"v"``. Each is a
list of runs ``[d, s, dn, sn]`` in code points: the shown characters ``d .. d+dn`` of the string
are the source characters ``s .. s+sn``. A run with ``dn == sn`` maps character by character; an
other one is atomic (``&amp;`` shown as ``&``, ``\\*`` shown as ``*``). Characters in no run
(a link's URL, an image, text markdown-it rewrote) cannot be the edge of a span.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token

from annotate.widgets._sourcemap import Locator, Run

#: a turn longer than this (characters or lines) starts collapsed in the chat view
LONG_CHARS = 1200
LONG_LINES = 18
#: the deepest the markdown tree goes (deeper containers keep their text, not their nesting)
MAX_DEPTH = 32

# CommonMark, raw HTML off (``<b>`` stays literal text), GFM tables and ~~strikethrough~~;
# text_join off: escapes and entities stay their own tokens, which keep their source (markup)
_MD = (
    MarkdownIt("commonmark", {"html": False})
    .enable(["table", "strikethrough"])
    .disable("text_join")
)

# block and inline containers, by markdown-it token type (``*_open``) -> tree tag
_CONTAINERS = {
    "paragraph": "p",
    "blockquote": "blockquote",
    "bullet_list": "ul",
    "ordered_list": "ol",
    "list_item": "li",
    "table": "table",
    "thead": "thead",
    "tbody": "tbody",
    "tr": "tr",
    "th": "th",
    "td": "td",
    "heading": "h",
    "strong": "strong",
    "em": "em",
    "s": "s",
    "link": "a",
}
# block containers whose content markdown-it parses one level deeper
_NESTING_BLOCKS = {"blockquote_open", "list_item_open"}
_ALIGN = {f"text-align:{a}": a for a in ("left", "center", "right")}

Node = str | dict[str, Any]


def markdown_tree(text: str, *, offsets: bool = False) -> list[Node]:
    """Parse a turn's markdown into the widget's tree of plain strings (see the module doc).

    Parameters
    ----------
    text : str
        A turn's text as in the corpus.
    offsets : bool
        Also give the source offsets of the text (``"o"``, see the module doc).

    Returns
    -------
    list of node
        Block nodes; every leaf is a plain string, nothing in it is markup.

    Examples
    --------
    >>> markdown_tree("hi *you*")
    [{'t': 'p', 'c': ['hi ', {'t': 'em', 'c': ['you']}]}]
    >>> markdown_tree("- a\\n- b")
    [{'t': 'ul', 'c': [{'t': 'li', 'c': ['a']}, {'t': 'li', 'c': ['b']}]}]
    """
    tokens = _MD.parse(text or "")
    if _cut(tokens):  # shown whole as plain text rather than with its deepest part left out
        node: dict[str, Any] = {"t": "p", "c": [text]}
        if offsets and text:
            node["o"] = [[[0, 0, len(text), len(text)]]]
        return [node]
    root: list[Node] = []
    offs = _Offsets(Locator(text).locate(tokens)) if offsets and text else None
    _build(tokens, root, 0, offs)
    if offs is not None:
        offs.attach()
    return root


def _cut(tokens: list[Token]) -> bool:
    """Whether markdown-it left content out: it does not parse inside block containers nested
    ``maxNesting`` deep (``> > > ... x``), and the text in them is dropped."""
    deepest = _MD.options.maxNesting - 1
    return any(t.level >= deepest and t.type in _NESTING_BLOCKS for t in tokens)


class _Offsets:
    """Where the text of the tree being built comes from (``markdown_tree(offsets=True)``).

    ``runs``: token id -> the runs of its text (from :class:`_Locator`); ``lists``: id of a
    container's ``"c"`` list -> its parallel list of runs; ``owners``: id of a ``"c"`` list ->
    its node, which gets ``"o"`` at the end (:meth:`attach`).
    """

    def __init__(self, runs: dict[int, list[Run]]) -> None:
        self.runs = runs
        self.lists: dict[int, list[list[Run] | None]] = {}
        self.owners: dict[int, dict[str, Any]] = {}

    def of(self, out: list[Node]) -> list[list[Run] | None]:
        """The runs list parallel to ``out``, padded to its length."""
        o = self.lists.setdefault(id(out), [])
        o.extend([None] * (len(out) - len(o)))
        return o

    def attach(self) -> None:
        for key, node in self.owners.items():
            o = self.lists.get(key)
            if o and any(o):
                o.extend([None] * (len(node["c"]) - len(o)))
                node["o"] = o


def _build(tokens: list[Token], root: list[Node], depth: int, offs: _Offsets | None = None) -> None:
    """Fold a flat markdown-it token stream (block or inline) into ``root``, ``depth`` levels
    below the top of the tree.

    One pass with an explicit stack. markdown-it caps the nesting of blocks but not of
    emphasis (``*****a*****``); below ``MAX_DEPTH`` levels containers are left out and their
    text joins the level above, so the tree stays shallow enough for JSON and the browser."""
    stack = [root]
    for tok in tokens:
        out = stack[-1]
        if tok.nesting == 1:
            # a tight list item's paragraph (hidden): its inline nodes join the item
            if tok.hidden or depth + len(stack) > MAX_DEPTH:
                stack.append(out)
                continue
            node = _open(tok)
            out.append(node)
            stack.append(node["c"])
            if offs is not None:
                offs.owners[id(node["c"])] = node
        elif tok.nesting == -1:
            if len(stack) > 1:  # markdown-it balances its tokens; never pop the root
                stack.pop()
        elif tok.type == "inline":
            _build(tok.children or [], out, depth + len(stack) - 1, offs)
        else:
            _leaf(tok, out, offs)


def _leaf(tok: Token, out: list[Node], offs: _Offsets | None) -> None:
    """A token that is not a container: text, code, a break, a rule, an image."""
    runs = offs.runs.get(id(tok)) if offs is not None else None
    if tok.type in ("text", "text_special", "softbreak"):
        _add_text(out, "\n" if tok.type == "softbreak" else tok.content, offs, runs or [])
    elif tok.type in ("fence", "code_block", "code_inline"):
        if tok.type == "code_inline":
            node: dict[str, Any] = {"t": "code", "v": tok.content}
        else:
            lang = tok.info.split()[0] if tok.info.strip() else ""
            node = {"t": "pre", "lang": lang, "v": tok.content.removesuffix("\n")}
        if runs:
            node["o"] = runs
        out.append(node)
    elif tok.type == "hardbreak":
        out.append({"t": "br"})
    elif tok.type == "hr":
        out.append({"t": "hr"})
    elif tok.type == "image":
        alt = "".join(c.content for c in tok.children or [] if c.type != "softbreak")
        out.append({"t": "img", "alt": alt, "src": _MD.normalizeLinkText(_attr(tok, "src"))})
    elif tok.content:  # anything else (never markup with html off): its text as it came
        _add_text(out, tok.content, offs, [])


def _open(tok: Token) -> dict[str, Any]:
    """The tree node a markdown-it ``*_open`` token starts."""
    tag = _CONTAINERS.get(tok.type.removesuffix("_open"), "p")
    node: dict[str, Any] = {"t": tag}
    if tag == "h":
        node["n"] = int(tok.tag[1]) if tok.tag[1:].isdigit() else 1
    elif tag == "ol" and int(_attr(tok, "start") or 1) != 1:
        node["start"] = int(_attr(tok, "start"))
    elif tag in ("th", "td") and _attr(tok, "style") in _ALIGN:
        node["align"] = _ALIGN[_attr(tok, "style")]
    elif tag == "a":
        node["href"] = _MD.normalizeLinkText(_attr(tok, "href"))
    node["c"] = []
    return node


def _attr(tok: Token, name: str) -> str:
    value = tok.attrs.get(name)
    return "" if value is None else str(value)


def _add_text(out: list[Node], text: str, offs: _Offsets | None, runs: list[Run]) -> None:
    """Append text, merged with the text before it (one string per run of plain text); with
    offsets, its runs join the string's (shifted by the length of the text before it)."""
    if out and isinstance(out[-1], str):
        shift = len(out[-1])
        out[-1] += text
        if offs is not None and runs:
            o = offs.of(out)
            merged = o[-1] if o[-1] is not None else []
            merged.extend([d + shift, s, dn, sn] for d, s, dn, sn in runs)  # in place: linear
            o[-1] = merged
    elif text:
        out.append(text)
        if offs is not None:
            offs.of(out)[-1] = [list(r) for r in runs] or None


def is_long(text: str) -> bool:
    """Whether a turn starts collapsed (long turns stay readable, one click expands them)."""
    text = text or ""
    return len(text) > LONG_CHARS or text.count("\n") >= LONG_LINES


def turn_payload(row: dict[str, Any]) -> dict[str, Any]:
    """One turn (a row of the corpus turns table) as the widget shows it."""
    text = row.get("text") or ""
    return {
        "i": int(row["turn_index"]),
        "role": str(row["role"]),
        "speaker": _str_or_none(row.get("speaker")),
        "model": _str_or_none(row.get("model")),
        "blocks": markdown_tree(text, offsets=True),
        "long": is_long(text),
    }


def code_payload(code: Any) -> dict[str, Any]:
    """One codebook code with the guidance the coder sees (definition, when (not) to use...)."""
    cues = [c for c in (code.cues or ()) if isinstance(c, str) and c.strip()]
    return {
        "id": code.id,
        "label": code.label,
        "unit": code.unit,
        "applies_to": list(code.applies_to),
        "level": code.level,
        "values": [
            {"value": v.value, "label": v.label, "definition": v.definition} for v in code.values
        ],
        "definition": code.definition or "",
        "when_to_use": _text(code.when_to_use),
        "when_not_to_use": _text(code.when_not_to_use),
        "examples": _texts(code.examples),
        "near_misses": _texts(code.near_misses),
        "cues": cues,
        "key": code.key or None,
        "evidence": getattr(code, "evidence", "none"),
    }


def _str_or_none(value: Any) -> str | None:
    """A plain string, or None for missing values (None, NaN, pandas NA)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value)
    return None if text in ("", "<NA>", "nan", "None") else text


def _text(value: Any) -> str:
    """Guidance fields may be a string or a list of strings; show them as one string."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return "\n".join(_texts(value))


def _texts(value: Any) -> list[str]:
    """Examples and near misses as a list of strings (dict items shown as compact JSON)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [_example_text(item) for item in (value if isinstance(value, Iterable) else [value])]


def _example_text(item: Any) -> str:
    """An example or near miss (a string, or an object/dict with text, context, why)."""
    if isinstance(item, str):
        return item
    get = item.get if isinstance(item, dict) else lambda k: getattr(item, k, None)
    text = get("text")
    if text is None:
        return json.dumps(item, ensure_ascii=False, default=str)
    extra = [f"context: {get('context')}" if get("context") else "", get("why") or ""]
    return " — ".join([f"“{text}”", *[e for e in extra if e]])
