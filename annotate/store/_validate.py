"""Validate label events against the codebook (and the corpus, when the project knows it).

Validation is row-wise plain Python on purpose: a coder's save is one to a few events, where a
handful of dict look-ups cost microseconds and any pandas call would cost more than the fsync.
A rejected batch raises :class:`~annotate.errors.LabelStoreError` whose ``failure_cases`` is a
DataFrame of the failing rows (``row`` = position in the batch, the row's fields, ``reason``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from annotate.clock import CLOCK
from annotate.errors import Errors, LabelStoreError
from annotate.store._schema import EXPOSURES, LABEL_COLUMNS
from annotate.types import ANNOTATOR_ID_RE, CONTEXTS, OPS, SYSTEM_CODES, UNITS

if TYPE_CHECKING:
    from annotate.codebook import Codebook

_INT32_MAX = 2**31 - 1
_SYSTEM_UNITS = {"_status": ("conversation",), "_flag": UNITS, "_memo": UNITS}
_STATUS_VALUES = ("done", "skipped")


class TurnLookup(Protocol):
    """What the store needs to know about the corpus (the project provides it)."""

    def has_conversation(self, conversation_id: str) -> bool:
        """Whether the corpus holds this conversation."""

    def role(self, conversation_id: str, turn_index: int) -> str | None:
        """The role of a turn, or None when the conversation has no such turn."""


class TextLookup(Protocol):
    """The text of the corpus's turns, to check evidence spans (the project provides it)."""

    def text(self, conversation_id: str, turn_index: int) -> str | None:
        """A turn's text, or None when the corpus has no such turn."""


def evidence_span(text: str, start: int, end: int) -> dict[str, Any]:
    """The evidence span ``[start, end)`` of a turn's ``text`` as stored in label events.

    Parameters
    ----------
    text : str
        The turn's text as in ``turns.text``.
    start, end : int
        Python string offsets (code points), ``0 <= start < end <= len(text)``.

    Returns
    -------
    dict
        ``{"start", "end", "sha256"}``: the hash is of ``text[start:end]`` as UTF-8, so that a
        later change of the corpus text is detected.

    Examples
    --------
    >>> evidence_span("you decide", 4, 10)["sha256"][:12]
    '5589aa5863c2'
    """
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
        raise LabelStoreError(Errors.E307.format(start=start, end=end, n=len(text)))
    quoted = text[start:end].encode("utf-8", "surrogatepass")
    return {"start": start, "end": end, "sha256": hashlib.sha256(quoted).hexdigest()}


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _records(events: Any) -> list[dict[str, Any]]:
    """A DataFrame, a list of dicts or one dict -> a list of plain dicts."""
    if isinstance(events, pd.DataFrame):
        frame = events.astype(object).where(events.notna(), None)
        records: list[dict[str, Any]] = frame.to_dict("records")
        return records
    if isinstance(events, Mapping):
        return [dict(events)]
    if isinstance(events, Iterable) and not isinstance(events, str | bytes):
        rows = list(events)
        if all(isinstance(r, Mapping) for r in rows):
            return [dict(r) for r in rows]
    got = type(events).__name__
    raise LabelStoreError(Errors.E302.format(got=got, columns=", ".join(LABEL_COLUMNS)))


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    return None


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return None


#: created_at must lie in this range (microseconds since the epoch): 1970 to 2200
_US_RANGE = (0, 7_258_118_400_000_000)
#: an integer created_at is microseconds: before 2000-01-01 it is taken for another unit
_MIN_INT_US = 946_684_800_000_000


def _as_us(value: Any) -> int | None:
    """A timestamp as microseconds since the epoch (UTC); None when it is not one.

    An integer is taken as microseconds (the store's own unit, as returned by
    :meth:`LabelStore.validate`); one before 2000 is refused, since it is more likely seconds or
    milliseconds than a microsecond time.
    """
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        us = int(value)
        return us if _MIN_INT_US <= us <= _US_RANGE[1] else None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError, OverflowError):  # OutOfBoundsDatetime is a ValueError
        return None
    if ts is pd.NaT:
        return None
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    try:
        us = int(ts.tz_convert("UTC").value // 1_000)
    except (TypeError, ValueError, OverflowError):
        return None
    return us if _US_RANGE[0] <= us <= _US_RANGE[1] else None


def _bad_text(row: dict[str, Any]) -> list[str]:
    """Text fields that cannot be stored as UTF-8 (a lone surrogate from a broken decoder)."""
    reasons = []
    for col, value in row.items():
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                reasons.append(
                    f"{col}: {value[max(0, exc.start - 10) : exc.end + 10]!r} holds a character "
                    f"that is not valid Unicode text (a lone surrogate at position {exc.start}); "
                    "fix the text's decoding"
                )
    return reasons


_SHA256 = frozenset("0123456789abcdef")


def _exposure(row: dict[str, Any], reasons: list[str]) -> None:
    """What the coder saw of a suggestion: none, before or after (or not recorded: null)."""
    if row["exposure"] is not None and row["exposure"] not in EXPOSURES:
        reasons.append(f"exposure: {row['exposure']!r} is not one of {', '.join(EXPOSURES)}")


def _evidence(row: dict[str, Any], code: Any, reasons: list[str]) -> None:
    """Evidence spans: a list of {start, end, sha256} on a turn unit's ``set`` event of a code
    that takes evidence.

    Accepted as a list of mappings or its JSON text; normalised to a list of plain dicts
    sorted by (start, end), without duplicates. Bounds and hashes against the turn's text are
    checked by :meth:`Validator._evidence_text` when the store knows the corpus.
    """
    spans = row["evidence"]
    if spans is None:
        return
    if isinstance(spans, str):
        try:
            spans = json.loads(spans)
        except ValueError:
            spans = None
    if isinstance(spans, np.ndarray | tuple):
        spans = list(spans)
    out: list[dict[str, Any]] = []
    ok = isinstance(spans, list)
    for span in spans if ok else []:
        start = _as_int(span.get("start")) if isinstance(span, Mapping) else None
        end = _as_int(span.get("end")) if isinstance(span, Mapping) else None
        sha = span.get("sha256") if isinstance(span, Mapping) else None
        if (
            start is None or end is None or not 0 <= start < end <= _INT32_MAX
            or not isinstance(sha, str) or len(sha) != 64 or not set(sha) <= _SHA256
        ):  # fmt: skip
            ok = False
            break
        out.append({"start": start, "end": end, "sha256": sha})
    if not ok:
        reasons.append(
            f"evidence: {row['evidence']!r} is not a list of spans "
            '{"start": int, "end": int, "sha256": 64 lower-case hex} with 0 <= start < end'
        )
        return
    if row["unit"] != "turn" or row["op"] != "set":
        reasons.append("evidence: spans belong to a 'set' event of a turn unit")
        return
    if code is None or code.evidence == "none":
        what = f"code {row['code_id']!r}" if code is not None else f"{row['code_id']!r}"
        reasons.append(
            f"evidence: {what} takes no evidence spans (its codebook entry says evidence: "
            "none); drop the spans, or mark the code evidence: optional in the codebook"
        )
        return
    unique = {(d["start"], d["end"], d["sha256"]): d for d in out}
    row["evidence"] = [unique[k] for k in sorted(unique)] or None


class Validator:
    """Checks and normalises label events for one codebook (and optionally one corpus).

    A project that moved to a new codebook version also holds its older versions
    (``versions``): an event is validated against the version it names (``codebook_id``,
    ``codebook_version``); events that name none get the current ``codebook``.
    """

    def __init__(
        self,
        codebook: Codebook,
        *,
        session_id: str,
        turns: TurnLookup | None = None,
        annotator: str | None = None,
        versions: Iterable[Codebook] = (),
        texts: TextLookup | None = None,
    ) -> None:
        self.codebook = codebook
        self.codes = {c.id: c for c in codebook.codes}
        self.session_id = session_id
        self.turns = turns
        self.texts = texts
        self.annotator = annotator
        self.version = str(codebook.version)
        #: (codebook id, version) -> (codebook, its codes by id), the current one included
        self.books: dict[tuple[str, str], tuple[Codebook, dict[str, Any]]] = {
            (cb.id, str(cb.version)): (cb, {c.id: c for c in cb.codes}) for cb in versions
        }
        self.books[(codebook.id, self.version)] = (codebook, self.codes)

    def __call__(self, events: Any) -> list[dict[str, Any]]:
        """Normalised events, or LabelStoreError (with failure_cases) naming every bad row."""
        rows = _records(events)
        unknown = sorted({k for r in rows for k in r} - set(LABEL_COLUMNS))
        if unknown:
            raise LabelStoreError(
                Errors.E303.format(unknown=", ".join(unknown), columns=", ".join(LABEL_COLUMNS))
            )
        out: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        seen: set[str] = set()
        for i, raw in enumerate(rows):
            row, reasons = self._row(raw)
            if isinstance(row["event_id"], str):
                if row["event_id"] in seen:
                    reasons.append(f"event_id: {row['event_id']!r} appears twice in the batch")
                seen.add(row["event_id"])
            if reasons:
                failures.append({"row": i, **{c: raw.get(c) for c in LABEL_COLUMNS}})
                failures[-1]["reason"] = "; ".join(reasons)
            out.append(row)
        if failures:
            self._reject(failures, len(rows))
        return out

    def _reject(self, failures: list[dict[str, Any]], total: int) -> None:
        # object columns: the rows are shown as given (no inference of Arrow strings, which
        # would fail on the very text being reported, e.g. a lone surrogate)
        table = pd.DataFrame(failures, columns=["row", *LABEL_COLUMNS, "reason"], dtype=object)
        first = failures[0]
        err = LabelStoreError(
            Errors.E301.format(
                n=len(failures), total=total, row=first["row"], reason=first["reason"]
            )
        )
        err.failure_cases = table
        raise err

    def _row(self, raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """One event: normalised fields and the list of problems (empty when valid)."""
        row = {c: (None if _missing(raw.get(c)) else raw.get(c)) for c in LABEL_COLUMNS}
        reasons: list[str] = _bad_text(row)
        self._fill(row, reasons)
        self._identity(row, reasons)
        code = self._code(row, reasons)
        if code is not None or row["code_id"] in SYSTEM_CODES:
            self._unit(row, code, reasons)
            self._value(row, code, reasons)
        _exposure(row, reasons)
        if row["evidence"] is not None:
            before = len(reasons)
            _evidence(row, code, reasons)
            if len(reasons) == before and row["evidence"] is not None:
                self._evidence_text(row, reasons)
        return row, reasons

    def _evidence_text(self, row: dict[str, Any], reasons: list[str]) -> None:
        """Each span lies inside the turn's text and its hash is that of the text there."""
        cid, ti = row["conversation_id"], row["turn_index"]
        if self.texts is None or not isinstance(cid, str) or not isinstance(ti, int):
            return
        text = self.texts.text(cid, ti)
        if text is None:  # no such turn: reported by the unit check
            return
        for span in row["evidence"]:
            start, end = span["start"], span["end"]
            if end > len(text):
                reasons.append(
                    f"evidence: span [{start}, {end}) ends past turn {ti} of {cid!r}, whose "
                    f"text has {len(text)} characters (offsets count code points of turns.text)"
                )
                continue
            quoted = text[start:end].encode("utf-8", "surrogatepass")
            if hashlib.sha256(quoted).hexdigest() != span["sha256"]:
                shown = text[start:end]
                shown = shown if len(shown) <= 40 else shown[:37] + "..."
                reasons.append(
                    f"evidence: span [{start}, {end}) of turn {ti} of {cid!r} has sha256 "
                    f"{span['sha256'][:12]}..., but the turn's text there ({shown!r}) hashes "
                    "otherwise: the corpus text changed since the span was made, or the offsets "
                    "or hash were not computed on turns.text (annotate.store.evidence_span "
                    "makes a span from the text)"
                )

    def _fill(self, row: dict[str, Any], reasons: list[str]) -> None:
        self._stamp(row, reasons)
        self._defaults(row, reasons)

    def _stamp(self, row: dict[str, Any], reasons: list[str]) -> None:
        """Event id and time: made here when missing, checked when given."""
        if row["event_id"] is None:
            row["event_id"] = CLOCK.event_id()
        elif not isinstance(row["event_id"], str) or not 0 < len(row["event_id"]) <= 64:
            reasons.append(f"event_id: {row['event_id']!r} must be a string of 1-64 characters")
        if row["created_at"] is None:
            row["created_at"] = CLOCK.now_us()
        else:
            us = _as_us(row["created_at"])
            if us is None:
                reasons.append(
                    f"created_at: {row['created_at']!r} is not a timestamp between 1970 and 2200"
                )
            row["created_at"] = us

    def _defaults(self, row: dict[str, Any], reasons: list[str]) -> None:
        """Session, codebook, context and op defaults; the optional fields checked."""
        cb = self.codebook
        for col, default in (
            ("annotator_id", self.annotator),
            ("session_id", self.session_id),
            ("codebook_id", cb.id),
            ("codebook_version", self.version),
            ("context", "full"),
            ("op", "set"),
        ):
            if row[col] is None:
                row[col] = default
            elif isinstance(row[col], str):
                row[col] = str(row[col])  # e.g. the codebook's Version (a str subclass)
        if (row["codebook_id"], row["codebook_version"]) not in self.books:
            ids = {i for i, _ in self.books}
            col = "codebook_version" if row["codebook_id"] in ids else "codebook_id"
            held = ", ".join(f"{i} {v}" for i, v in self.books)
            reasons.append(
                f"{col}: {row[col]!r} is not the project's codebook ({cb.id} {self.version})"
                + (f"; the project holds {held}" if len(self.books) > 1 else "")
            )
        if not isinstance(row["session_id"], str) or not row["session_id"]:
            reasons.append(f"session_id: {row['session_id']!r} must be a non-empty string")
        if row["context"] not in CONTEXTS:
            reasons.append(f"context: {row['context']!r} is not one of {', '.join(CONTEXTS)}")
        if row["note"] is not None and not isinstance(row["note"], str):
            reasons.append(f"note: {row['note']!r} must be text")
        if row["elapsed_ms"] is not None:
            ms = _as_int(row["elapsed_ms"])
            if ms is None or not 0 <= ms <= _INT32_MAX:
                reasons.append(f"elapsed_ms: {row['elapsed_ms']!r} must be a whole number >= 0")
            row["elapsed_ms"] = ms

    def _identity(self, row: dict[str, Any], reasons: list[str]) -> None:
        ann = row["annotator_id"]
        if not isinstance(ann, str) or not ANNOTATOR_ID_RE.fullmatch(ann):
            reasons.append(
                f"annotator_id: {ann!r} is not a valid id (1-64 of a-z 0-9 _ . -, starting "
                "with a letter or digit)"
            )
        elif self.annotator is not None and ann != self.annotator:
            reasons.append(
                f"annotator_id: {ann!r} is not this session's coder ({self.annotator!r})"
            )
        conv = row["conversation_id"]
        if not isinstance(conv, str) or not conv:
            reasons.append(f"conversation_id: {conv!r} must be a non-empty string")
        elif self.turns is not None and not self.turns.has_conversation(conv):
            reasons.append(f"conversation_id: {conv!r} is not in the project's corpus")
        if row["op"] not in OPS:
            reasons.append(f"op: {row['op']!r} is not one of {', '.join(OPS)}")

    def _code(self, row: dict[str, Any], reasons: list[str]) -> Any:
        code_id = row["code_id"]
        if code_id in SYSTEM_CODES:
            return None
        book = self.books.get((row["codebook_id"], row["codebook_version"]))
        if book is None:  # an unknown version, reported already
            return None
        cb, codes = book
        code = codes.get(code_id) if isinstance(code_id, str) else None
        if code is None:
            available = ", ".join([*codes, *SYSTEM_CODES])
            reasons.append(
                f"code_id: {code_id!r} is not a code of codebook '{cb.id}' "
                f"{cb.version} (available: {available})"
            )
        return code

    def _unit(self, row: dict[str, Any], code: Any, reasons: list[str]) -> None:
        unit = row["unit"]
        allowed = _SYSTEM_UNITS[row["code_id"]] if code is None else (code.unit,)
        if unit not in allowed:
            reasons.append(
                f"unit: {unit!r} does not fit code {row['code_id']!r} (unit {' or '.join(allowed)})"
            )
            return
        if unit == "conversation":
            if row["turn_index"] is not None:
                reasons.append(
                    f"turn_index: {row['turn_index']!r} must be empty for a conversation unit"
                )
            return
        idx = _as_int(row["turn_index"])
        if idx is None or not 0 <= idx <= _INT32_MAX:
            reasons.append(f"turn_index: {row['turn_index']!r} must be a whole number >= 0")
            return
        row["turn_index"] = idx
        if self.turns is None or not isinstance(row["conversation_id"], str):
            return
        if not self.turns.has_conversation(row["conversation_id"]):
            return
        role = self.turns.role(row["conversation_id"], idx)
        if role is None:
            reasons.append(f"turn_index: conversation {row['conversation_id']!r} has no turn {idx}")
        elif code is not None and role not in code.applies_to:
            reasons.append(
                f"code_id: {code.id!r} applies to {'/'.join(code.applies_to)} turns, but turn "
                f"{idx} of {row['conversation_id']!r} is a {role} turn"
            )

    def _value(self, row: dict[str, Any], code: Any, reasons: list[str]) -> None:
        value = row["value"]
        if row["op"] == "clear":
            if value is not None:
                reasons.append(f"value: {value!r} must be empty when op is 'clear'")
            return
        if value is None:
            reasons.append("value: missing (a 'set' event needs a value)")
            return
        if code is None:
            self._system_value(row, reasons)
            return
        if code.level == "set":
            self._set_value(row, code, reasons)
            return
        text = _as_text(value)
        if text is None or text not in code.value_ids:
            reasons.append(
                f"value: {value!r} is not allowed for {code.id!r} ({code.level}); "
                f"allowed: {', '.join(code.value_ids)}"
            )
        row["value"] = text

    def _set_value(self, row: dict[str, Any], code: Any, reasons: list[str]) -> None:
        value = row["value"]
        items: Any = value
        if isinstance(value, str):
            try:
                items = json.loads(value)
            except ValueError:
                items = None
        elif isinstance(value, np.ndarray | tuple):
            items = list(value)
        ok = isinstance(items, list) and all(isinstance(v, str) for v in items)
        if not ok or len(set(items)) != len(items) or not set(items) <= set(code.value_ids):
            reasons.append(
                f"value: {value!r} is not a JSON list of distinct values of {code.id!r} "
                f"(set of: {', '.join(code.value_ids)}), e.g. '[\"{code.value_ids[0]}\"]'"
            )
            return
        row["value"] = json.dumps(sorted(items), separators=(",", ":"))

    def _system_value(self, row: dict[str, Any], reasons: list[str]) -> None:
        code_id, value = row["code_id"], row["value"]
        if code_id == "_status" and value not in _STATUS_VALUES:
            reasons.append(f"value: {value!r} is not a _status value (done or skipped)")
        elif code_id == "_flag" and _as_text(value) != "1":
            reasons.append(f"value: {value!r} is not a _flag value (1)")
        elif code_id == "_memo" and (not isinstance(value, str) or not value.strip()):
            reasons.append(f"value: {value!r} must be the memo text")
        else:
            row["value"] = _as_text(value) if code_id == "_flag" else value
