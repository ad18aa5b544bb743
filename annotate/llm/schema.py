"""The answer's JSON schema, generated from the codebook, and our own check of every answer.

One schema per kind of unit (``turn/user``, ``turn/assistant``, ``conversation``): an object
with one required property per code that applies, and nothing else. A code's value is one of
its value ids (a string enum: binary, nominal, ordinal and interval codes) or, for set codes,
an array of value ids. With ``rationale`` each property is ``{"rationale": str, "value": ...}``
(the rationale first, so a model reasons before it answers).

Each backend asks for the schema its own way (llama.cpp turns it into a grammar; OpenAI-style
servers take ``response_format``), but no backend is trusted: :func:`check_answer` validates
every raw answer against the codebook and says exactly what is wrong, so an invalid answer is
retried and, if it stays invalid, recorded as missing with that reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: longest rationale the schema allows (characters)
RATIONALE_CHARS = 300
KINDS: tuple[tuple[str, str, str | None], ...] = (
    ("turn/user", "turn", "user"),
    ("turn/assistant", "turn", "assistant"),
    ("conversation", "conversation", None),
)


def value_schema(code: Any) -> dict[str, Any]:
    """The schema of one code's value."""
    enum = {"type": "string", "enum": list(code.value_ids)}
    if code.level == "set":
        # maxItems: a grammar cannot forbid repeats (uniqueItems), but it can stop a small
        # model from listing values for ever; repeats are then dropped (and noted)
        n = len(code.value_ids)
        return {"type": "array", "items": enum, "uniqueItems": True, "maxItems": n}
    return enum


def unit_schema(codes: list[Any], *, rationale: bool = False) -> dict[str, Any]:
    """The schema of an answer for a unit coded with ``codes`` (in codebook order)."""
    props: dict[str, Any] = {}
    for code in codes:
        value = value_schema(code)
        if rationale:
            why = {"type": "string", "maxLength": RATIONALE_CHARS}
            value = {
                "type": "object",
                "properties": {"rationale": why, "value": value},
                "required": ["rationale", "value"],
                "additionalProperties": False,
            }
        props[code.id] = value
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }


def coder_schemas(
    codebook: Any, *, rationale: bool = False, codes: Any = None
) -> dict[str, dict[str, Any]]:
    """The schema of every kind of unit that has codes (only ``codes``, when given)."""
    out = {}
    only = None if codes is None else set(codes)
    for kind, unit, role in KINDS:
        found = list(codebook.codes_for(unit, role) if role else codebook.codes_for(unit))
        found = [c for c in found if only is None or c.id in only]
        if found:
            codes_ = found
            out[kind] = unit_schema(codes_, rationale=rationale)
    return out


def token_budget(schema: dict[str, Any]) -> int:
    """A generous ``max_tokens`` for an answer to ``schema`` (keys, longest values, rationales)."""
    chars = 4
    for name, prop in schema["properties"].items():
        chars += len(name) + 8
        value = prop["properties"]["value"] if prop.get("type") == "object" else prop
        if prop.get("type") == "object":
            chars += RATIONALE_CHARS + 30
        enum = value.get("enum") or value.get("items", {}).get("enum") or []
        longest = max((len(v) + 4 for v in enum), default=8)
        chars += longest * (len(enum) if value.get("type") == "array" else 1)
    return max(64, chars // 2 + 32)  # ~2 characters per token at worst for JSON


@dataclass
class Answer:
    """A checked answer: a stored value per code (sets encoded), and rationales."""

    values: dict[str, str]
    rationales: dict[str, str] = field(default_factory=dict)
    #: what was repaired on the way (duplicates in a set), for the audit log
    notes: list[str] = field(default_factory=list)


class InvalidAnswerError(ValueError):
    """An answer that does not fit the schema; ``str(exc)`` says why."""


def parse_json(text: str) -> Any:
    """The JSON object in a raw answer: the text itself, or the outermost ``{...}`` in it
    (servers that do not enforce a schema may wrap it in a code fence or prose)."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        raise InvalidAnswerError(f"no JSON object in the answer ({_excerpt(text)})") from None
    try:
        return json.loads(text[start : end + 1])
    except ValueError as exc:
        raise InvalidAnswerError(f"not valid JSON ({exc.args[0]}; {_excerpt(text)})") from None


def _excerpt(text: str, n: int = 80) -> str:
    text = " ".join(str(text).split())
    return repr(text if len(text) <= n else text[:n] + "...")


def _value(code: Any, raw: Any, notes: list[str]) -> str:
    """The stored value of one code's raw value, or InvalidAnswerError."""
    ids = code.value_ids
    if code.level == "set":
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise InvalidAnswerError(f"{code.id}: expected a list of values, got {_excerpt(raw)}")
        bad = [v for v in raw if v not in ids]
        if bad:
            raise InvalidAnswerError(f"{code.id}: {bad} not among the values {list(ids)}")
        if len(set(raw)) != len(raw):
            notes.append(f"{code.id}: duplicate values dropped")
        return str(code.encode_set(raw))
    if isinstance(raw, int | float) and not isinstance(raw, bool) and str(raw) in ids:
        notes.append(f"{code.id}: number {raw} read as the value {str(raw)!r}")
        raw = str(raw)
    if not isinstance(raw, str) or raw not in ids:
        raise InvalidAnswerError(f"{code.id}: {_excerpt(raw)} is not one of {list(ids)}")
    return raw


def check_answer(text: str, codes: list[Any], *, rationale: bool = False) -> Answer:
    """Validate a raw answer against the codes of its unit.

    Parameters
    ----------
    text : str
        The model's raw answer.
    codes : list of Code
        The codes the unit is coded with (the schema's properties).
    rationale : bool
        Whether each code's entry is ``{"rationale", "value"}``.

    Returns
    -------
    Answer

    Raises
    ------
    InvalidAnswerError
        Naming the first problem: not JSON, a missing or unknown code, a value outside the
        code's values, a missing rationale.
    """
    doc = parse_json(text)
    if not isinstance(doc, dict):
        raise InvalidAnswerError(f"expected a JSON object, got {_excerpt(doc)}")
    want = [c.id for c in codes]
    missing = [c for c in want if c not in doc]
    if missing:
        raise InvalidAnswerError(f"code(s) missing from the answer: {', '.join(missing)}")
    extra = [k for k in doc if k not in want]
    if extra:
        raise InvalidAnswerError(f"unknown key(s) in the answer: {', '.join(map(str, extra))}")
    out = Answer(values={})
    for code in codes:
        raw = doc[code.id]
        if rationale:
            if not isinstance(raw, dict) or "value" not in raw:
                raise InvalidAnswerError(f"{code.id}: expected {{'rationale', 'value'}}")
            why = raw.get("rationale")
            if not isinstance(why, str):
                raise InvalidAnswerError(f"{code.id}: the rationale is not text")
            if why.strip():
                out.rationales[code.id] = " ".join(why.split())[: 2 * RATIONALE_CHARS]
            raw = raw["value"]
        out.values[code.id] = _value(code, raw, out.notes)
    return out
