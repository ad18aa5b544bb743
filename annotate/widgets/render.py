"""Pure helpers that turn corpus turns and codebook codes into JSON payloads for the widget.

Markdown is parsed here into a tiny tree of blocks and inline runs whose leaves are plain
strings. The front end builds DOM nodes from that tree with ``textContent`` only, so no markup
from the corpus is ever interpreted by the browser: a ``<script>`` in a turn is shown as text.

Supported subset: paragraphs, headings (shown as bold paragraphs), bullet and numbered lists,
block quotes, fenced code blocks, and inline ``**bold**``, ``*italic*``/``_italic_`` and
```code```. Everything else is kept as literal text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

#: a turn longer than this (characters or lines) starts collapsed in the chat view
LONG_CHARS = 1200
LONG_LINES = 18

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)\s*$")
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s{0,3}\d{1,9}[.)]\s+(.*)$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_QUOTE = re.compile(r"^\s{0,3}>\s?(.*)$")
# inline: code first (its content is literal), then bold, then italic
_INLINE = re.compile(
    r"(?P<code>`+)(?P<codetext>.+?)(?P=code)"
    r"|\*\*(?P<bold>[^*\n].*?)\*\*"
    r"|(?<![\w*])\*(?P<ital>[^*\s](?:.*?[^*\s])?)\*(?![\w*])"
    r"|(?<![\w_])_(?P<ital2>[^_\s](?:.*?[^_\s])?)_(?![\w_])",
    re.DOTALL,
)


def inline_runs(text: str) -> list[list[str]]:
    """Split one paragraph's text into ``[kind, text]`` runs.

    Parameters
    ----------
    text : str
        Raw text of a paragraph, list item or heading.

    Returns
    -------
    list of [kind, text]
        ``kind`` is ``""`` (plain), ``"b"`` (bold), ``"i"`` (italic) or ``"code"``.

    Examples
    --------
    >>> inline_runs("a **b** `<c>`")
    [['', 'a '], ['b', 'b'], ['', ' '], ['code', '<c>']]
    """
    runs: list[list[str]] = []
    pos = 0
    for m in _INLINE.finditer(text):
        if m.start() > pos:
            runs.append(["", text[pos : m.start()]])
        if m.group("code"):
            runs.append(["code", m.group("codetext")])
        elif m.group("bold"):
            runs.append(["b", m.group("bold")])
        else:
            runs.append(["i", m.group("ital") or m.group("ital2")])
        pos = m.end()
    if pos < len(text):
        runs.append(["", text[pos:]])
    return runs


def markdown_blocks(text: str) -> list[dict[str, Any]]:
    """Parse the safe markdown subset into blocks.

    Parameters
    ----------
    text : str
        A turn's text as in the corpus.

    Returns
    -------
    list of dict
        Blocks: ``{"t": "p"|"h"|"quote", "c": runs}``, ``{"t": "ul"|"ol", "items": [runs]}``,
        ``{"t": "pre", "lang": str, "v": str}``; every leaf is a plain string.

    Examples
    --------
    >>> markdown_blocks("hi\\n\\n- a\\n- b")
    [{'t': 'p', 'c': [['', 'hi']]}, {'t': 'ul', 'items': [[['', 'a']], [['', 'b']]]}]
    """
    blocks: list[dict[str, Any]] = []
    para: list[str] = []
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")

    def flush() -> None:
        if para:
            blocks.append({"t": "p", "c": inline_runs("\n".join(para))})
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence:
            flush()
            marker, body = fence.group(1), []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                body.append(lines[i])
                i += 1
            blocks.append({"t": "pre", "lang": fence.group(2), "v": "\n".join(body)})
            i += 1
            continue
        kind, m = _list_kind(line)
        if kind:
            flush()
            items = []
            while i < len(lines) and m is not None:
                items.append(inline_runs(m.group(1)))
                i += 1
                m = _LIST_RE[kind].match(lines[i]) if i < len(lines) else None
            blocks.append({"t": kind, "items": items})
            continue
        heading, quote = _HEADING.match(line), _QUOTE.match(line)
        if heading:
            flush()
            blocks.append({"t": "h", "c": inline_runs(heading.group(1))})
        elif quote:
            flush()
            body = []
            while i < len(lines) and (q := _QUOTE.match(lines[i])):
                body.append(q.group(1))
                i += 1
            blocks.append({"t": "quote", "c": inline_runs("\n".join(body))})
            continue
        elif not line.strip():
            flush()
        else:
            para.append(line)
        i += 1
    flush()
    return blocks


_LIST_RE = {"ul": _BULLET, "ol": _NUMBERED}


def _list_kind(line: str) -> tuple[str, re.Match[str] | None]:
    """Whether a line starts a bullet (``ul``) or numbered (``ol``) list."""
    for kind, rx in _LIST_RE.items():
        m = rx.match(line)
        if m:
            return kind, m
    return "", None


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
        "blocks": markdown_blocks(text),
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
