"""Unit labels -> the indicator matrices every analysis works on.

A :class:`LabelFrame` holds one coder's (or gold) labels as two small integer matrices:

* ``X`` (turns x turn items) and ``C`` (conversations x conversation items), ``int8`` with
  ``1`` = the item is present, ``0`` = the unit was coded for the item's code and the item is
  absent, ``-1`` = the unit was not coded for that code (it does not count in any denominator).
* An *item* is a binary code (present = its ``present_value``) or one value of a nominal,
  ordinal, interval or set code (``CODE=VALUE``). The values of one nominal code on one unit
  are mutually exclusive and exhaustive; the members of a set code are not.

Turns are sorted by (conversation, turn_index); ``seq`` is the position of a turn, which is
what lags and normalised positions count: with a corpus, the rank of its turn_index among the
user and assistant turns of the conversation (system and tool turns are skipped); without
one, its turn_index itself, so that a turn nobody labelled still sits between its neighbours
(lag 1 never jumps over it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.analysis._corpus import _conversation_table, _parse_meta, _turn_table
from annotate.errors import AnalysisError, Errors
from annotate.project import UNIT_LABEL_COLUMNS

if TYPE_CHECKING:
    from annotate.codebook import Code, Codebook
    from annotate.corpus import Corpus

#: the unit-labels table the analyses read (declared once, by the project)
LABEL_COLUMNS = UNIT_LABEL_COLUMNS


@dataclass(frozen=True, slots=True)
class Item:
    """One indicator: a binary code, or one value of a multi-valued code."""

    code_id: str
    value: str
    level: str

    @property
    def name(self) -> str:
        """``CODE`` for binary codes, ``CODE=VALUE`` otherwise."""
        return self.code_id if self.level == "binary" else f"{self.code_id}={self.value}"


@dataclass(eq=False)
class LabelFrame:
    """One coder's labels as indicator matrices (see the module docstring)."""

    codebook: Codebook
    annotator: str | None
    turns: pd.DataFrame
    X: np.ndarray
    items: tuple[Item, ...]
    conversations: pd.DataFrame
    C: np.ndarray
    conv_items: tuple[Item, ...]
    corpus: Corpus | None = None
    _meta: list[dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def conv(self) -> np.ndarray:
        """Conversation row (0..n_conv-1) of each turn row."""
        return self.turns["conv"].to_numpy()

    @property
    def n_conversations(self) -> int:
        return len(self.conversations)

    def item_names(self, unit: str = "turn") -> list[str]:
        return [i.name for i in (self.items if unit == "turn" else self.conv_items)]

    def meta(self) -> list[dict[str, Any]]:
        """conversations.meta parsed from JSON (empty dicts where missing), cached."""
        if self._meta is None:
            raw = self.conversations.get("meta")
            self._meta = [_parse_meta(v) for v in raw] if raw is not None else []
            if not self._meta:
                self._meta = [{} for _ in range(self.n_conversations)]
        return self._meta


def prepare(
    labels: pd.DataFrame | LabelFrame,
    codebook: Codebook,
    *,
    corpus: Corpus | None = None,
    annotator: str | None = None,
) -> LabelFrame:
    """Validate a unit-labels table and build its :class:`LabelFrame` (idempotent).

    Parameters
    ----------
    labels
        The unit-labels table (docs/internals.md: ``annotator_id, unit, conversation_id,
        turn_index, role, code_id, value``) of one coder or of gold labels, or a LabelFrame
        (returned unchanged).
    codebook
        The :class:`~annotate.codebook.Codebook` the labels were coded with.
    corpus
        Optional corpus (anything with ``turns`` and ``conversations`` DataFrames): supplies
        positions, models, users, session times and ``meta`` for grouping.
    annotator
        Which coder to analyse when the table holds several.

    Raises
    ------
    AnalysisError
        E450 several coders and none chosen, E451 unknown coder, E452 missing columns, E453
        codes outside the codebook, E454 values outside a code's values, E461 no labels.
    """
    if isinstance(labels, LabelFrame):
        return labels
    missing = [c for c in LABEL_COLUMNS if c not in labels.columns]
    if missing:
        raise AnalysisError(
            Errors.E452.format(missing=", ".join(missing), expected=", ".join(LABEL_COLUMNS))
        )
    labels, annotator = _one_annotator(labels, annotator)
    labels = labels[labels["value"].notna()]  # e.g. gold units without a value (a tie)
    if labels.empty:
        raise AnalysisError(Errors.E461.format(unit="turn- or conversation", detail=""))
    is_turn = (labels["unit"] == "turn").to_numpy()
    conv_codes, conv_ids = pd.factorize(labels["conversation_id"], sort=True)
    conv_ids = np.asarray(conv_ids, dtype=object)
    conversations = _conversation_table(conv_ids, corpus)
    code_of, code_ids = pd.factorize(labels["code_id"])
    code_ids = [str(c) for c in code_ids]
    _check_codes(code_ids, codebook)
    value_of, value_ids = pd.factorize(labels["value"])
    value_ids = [None if v is None else str(v) for v in value_ids]

    turn_part = _unit_part(
        labels, is_turn, conv_codes, code_of, code_ids, value_of, value_ids, codebook, "turn"
    )
    conv_part = _unit_part(
        labels, ~is_turn, conv_codes, code_of, code_ids, value_of, value_ids, codebook, "conv"
    )
    turns = _turn_table(turn_part["keys"], turn_part["roles"], conv_ids, corpus)
    return LabelFrame(
        codebook=codebook,
        annotator=annotator,
        turns=turns,
        X=turn_part["matrix"],
        items=turn_part["items"],
        conversations=conversations,
        C=_conv_matrix(conv_part, len(conv_ids)),
        conv_items=conv_part["items"],
        corpus=corpus,
    )


def _one_annotator(labels: pd.DataFrame, annotator: str | None) -> tuple[pd.DataFrame, str | None]:
    present = sorted(str(a) for a in pd.unique(labels["annotator_id"].dropna()))
    if annotator is not None:
        if annotator not in present:
            raise AnalysisError(
                Errors.E451.format(annotator=annotator, available=", ".join(present) or "(none)")
            )
        if len(present) > 1:
            labels = labels[labels["annotator_id"] == annotator]
        return labels, annotator
    if len(present) > 1:
        raise AnalysisError(Errors.E450.format(n=len(present), annotators=", ".join(present)))
    return labels, (present[0] if present else None)


def _check_codes(code_ids: Sequence[str], codebook: Codebook) -> None:
    known = set(codebook.code_ids)
    bad = [c for c in code_ids if c not in known and not c.startswith("_")]
    if bad:
        raise AnalysisError(
            Errors.E453.format(
                codes=", ".join(sorted(bad)),
                codebook=codebook.id,
                available=", ".join(codebook.code_ids),
            )
        )


def code_items(code: Code) -> list[Item]:
    """The items of one code (binary: one; otherwise one per value, in codebook order)."""
    if code.level == "binary":
        return [Item(code.id, code.present_value, "binary")]
    return [Item(code.id, v, code.level) for v in code.value_ids]


def _members(code: Code, value: str | None) -> list[str] | None:
    """The value ids a stored value stands for (None if not allowed)."""
    if value is None:
        return None
    if code.level == "set":
        try:
            members = json.loads(value)
        except ValueError:
            return None
        ok = isinstance(members, list) and all(m in code.value_ids for m in members)
        return members if ok else None
    if value not in code.value_ids:
        return None
    if code.level == "binary":
        return [value] if value == code.present_value else []
    return [value]


def _unit_part(
    labels: pd.DataFrame,
    mask: np.ndarray,
    conv_codes: np.ndarray,
    code_of: np.ndarray,
    code_ids: list[str],
    value_of: np.ndarray,
    value_ids: list[str | None],
    codebook: Codebook,
    which: str,
) -> dict[str, Any]:
    """Rows of one unit -> (unit keys, items, matrix) with every value checked."""
    code_rows = code_of[mask]
    system = np.array([c.startswith("_") for c in code_ids] + [True], dtype=bool)
    keep = ~system[code_rows]
    code_rows = code_rows[keep]
    values = value_of[mask][keep]
    conv = conv_codes[mask][keep]
    if which == "turn":
        tidx = _int_array(labels["turn_index"])[mask][keep]
        width = int(tidx.max(initial=0)) + 1
        keys = conv.astype(np.int64) * width + tidx
        uniq, rows, first = _dense_unique(keys, int(conv_codes.max(initial=0) + 1) * width)
        role_codes, role_names = pd.factorize(labels["role"])
        role_names = np.asarray([*role_names, None], dtype=object)
        unit_keys = (uniq // width, uniq % width)
        roles = role_names[role_codes[mask][keep][first]] if len(first) else role_names[:0]
    else:
        rows, unit_keys, roles = conv, None, None
    used = sorted(
        set(np.unique(code_rows).tolist()), key=lambda c: codebook.code_ids.index(code_ids[c])
    )
    items: list[Item] = []
    spans: dict[int, tuple[int, int]] = {}
    for c in used:
        its = code_items(codebook.code(code_ids[c]))
        spans[c] = (len(items), len(items) + len(its))
        items.extend(its)
    n_units = int(rows.max(initial=-1)) + 1 if which == "turn" else None
    matrix = np.full((n_units or 0, len(items)), -1, dtype=np.int8) if which == "turn" else None
    entries: list[tuple[np.ndarray, int, int, list[int]]] = []
    pair = code_rows.astype(np.int64) * (len(value_ids) + 1) + np.where(
        values < 0, len(value_ids), values
    )
    upairs, pair_inv, _ = _dense_unique(pair, len(code_ids) * (len(value_ids) + 1))
    # few distinct (code, value) pairs: a 16-bit key makes numpy's stable sort a radix sort
    small = pair_inv.astype(np.int16) if len(upairs) < 2**15 else pair_inv
    order = np.argsort(small, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(pair_inv, minlength=len(upairs)))]
    bad: dict[str, set[str]] = {}
    for k, p in enumerate(upairs.tolist()):
        c, v = divmod(p, len(value_ids) + 1)
        value = value_ids[v] if v < len(value_ids) else None
        code = codebook.code(code_ids[c])
        members = _members(code, value)
        if members is None:
            bad.setdefault(code.id, set()).add(str(value))
            continue
        start, stop = spans[c]
        pos = (
            [start + code.value_ids.index(m) for m in members]
            if code.level != "binary"
            else ([start] if members else [])
        )
        entries.append((rows[order[bounds[k] : bounds[k + 1]]], start, stop, pos))
    if bad:
        code_id = sorted(bad)[0]
        raise AnalysisError(
            Errors.E454.format(
                code_id=code_id,
                values=", ".join(repr(v) for v in sorted(bad[code_id])),
                allowed=", ".join(codebook.code(code_id).value_ids),
            )
        )
    if matrix is not None:
        _fill(matrix, entries)
    return {
        "keys": unit_keys,
        "roles": roles,
        "items": tuple(items),
        "entries": entries,
        "matrix": matrix,
    }


def _int_array(values: pd.Series) -> np.ndarray:
    """An integer column (possibly nullable) as int64, nulls as -1."""
    if isinstance(values.dtype, pd.api.extensions.ExtensionDtype):
        return values.to_numpy(dtype=np.int64, na_value=-1)
    return pd.to_numeric(values).fillna(-1).to_numpy().astype(np.int64)


def _dense_unique(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """np.unique(keys, return_inverse) plus each key's first position, without sorting when
    the keys are small non-negative integers (a lookup table of ``size`` slots)."""
    if len(keys) == 0:
        empty = np.array([], dtype=np.int64)
        return empty, empty, empty
    if size > 50_000_000:
        uniq, inv = np.unique(keys, return_inverse=True)
    else:
        seen = np.zeros(size, dtype=bool)
        seen[keys] = True
        uniq = np.flatnonzero(seen)
        lookup = np.full(size, -1, dtype=np.int64)
        lookup[uniq] = np.arange(len(uniq))
        inv = lookup[keys]
    first = np.full(len(uniq), -1, dtype=np.int64)
    first[inv[::-1]] = np.arange(len(inv))[::-1]
    return uniq, inv.ravel(), first


def _fill(matrix: np.ndarray, entries: list[tuple[np.ndarray, int, int, list[int]]]) -> None:
    for unit_rows, start, stop, _ in entries:
        matrix[unit_rows, start:stop] = 0
    for unit_rows, _, _, pos in entries:
        for p in pos:
            matrix[unit_rows, p] = 1


def _conv_matrix(part: dict[str, Any], n_conv: int) -> np.ndarray:
    matrix = np.full((n_conv, len(part["items"])), -1, dtype=np.int8)
    _fill(matrix, part["entries"])
    return matrix


def conv_sums(
    frame: LabelFrame, row_mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per conversation and turn item: (number of turns present, number of turns coded).

    Returns two ``float64`` arrays of shape (n_conversations, n_items).
    """
    X, conv = frame.X, frame.conv
    if row_mask is not None:
        X, conv = X[row_mask], conv[row_mask]
    n_conv, n_items = frame.n_conversations, X.shape[1]
    num = np.zeros((n_conv, n_items))
    den = np.zeros((n_conv, n_items))
    if len(conv) == 0:
        return num, den
    starts = np.flatnonzero(np.r_[True, conv[1:] != conv[:-1]])
    present = conv[starts]
    num[present] = np.add.reduceat((X == 1).astype(np.int32), starts, axis=0)
    den[present] = np.add.reduceat((X >= 0).astype(np.int32), starts, axis=0)
    return num, den


def resolve_items(frame: LabelFrame, wanted: Sequence[str] | None, unit: str = "turn") -> list[int]:
    """Indices of items named ``CODE`` (all its items) or ``CODE=VALUE``; E457 if unknown."""
    items = frame.items if unit == "turn" else frame.conv_items
    if wanted is None:
        return list(range(len(items)))
    out: list[int] = []
    for name in wanted:
        hits = [k for k, it in enumerate(items) if it.name == name or it.code_id == name]
        if not hits:
            available = sorted({it.code_id for it in items} | {it.name for it in items})
            raise AnalysisError(Errors.E457.format(item=name, available=", ".join(available)))
        out.extend(h for h in hits if h not in out)
    return out
