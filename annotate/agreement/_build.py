"""Unit-labels table (docs/internals.md) → one reliability-data matrix per report row.

A report row is a (code, unit, role) triple: a turn-level code gets one row per role it
applies to (user, assistant) and, when it applies to more than one role, a pooled row with
role ``"all"`` (every turn a coder could code, whatever its speaker). A conversation-level
code gets one row with role ``None``.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.errors import AgreementError, Errors

if TYPE_CHECKING:
    from annotate.codebook import Code, Codebook

COLUMNS = ("annotator_id", "unit", "conversation_id", "turn_index", "role", "code_id", "value")
POOLED = "all"
#: annotator ids that are not independent coders (adjudicated gold labels)
NOT_CODERS = ("gold",)


@dataclass(frozen=True)
class UnitKeys:
    """Where each unit of a row comes from, kept as integer arrays until asked for."""

    conv_names: np.ndarray  #: conversation ids (all of the labels table)
    role_names: np.ndarray  #: role names (all of the labels table)
    clusters: np.ndarray  #: (n_units,) index into conv_names
    turn: np.ndarray  #: (n_units,) turn index, -1 for conversation units
    unit_of_label: np.ndarray  #: (n_labels,) unit of each label of the row, in table order
    role_of_label: np.ndarray  #: (n_labels,) index into role_names, -1 = missing

    def frame(self) -> pd.DataFrame:
        """(n_units, 3): conversation_id, turn_index, role (of the unit's first label)."""
        first = np.full(len(self.clusters), len(self.unit_of_label), dtype=np.int64)
        np.minimum.at(first, self.unit_of_label, np.arange(len(self.unit_of_label)))
        role = _names(self.role_names, self.role_of_label[first])
        return pd.DataFrame(
            {
                "conversation_id": self.conv_names[self.clusters],
                "turn_index": pd.array(np.where(self.turn < 0, pd.NA, self.turn), dtype="Int32"),
                "role": role,
            }
        )


@dataclass(frozen=True)
class RowData:
    """Reliability data of one report row."""

    code: Code  #: the codebook Code
    unit: str
    role: str | None
    codes: np.ndarray  #: (n_units, n_coders) int, -1 = not coded
    domain: tuple[Any, ...]  #: value ids (sets: the distinct frozensets observed)
    coders: tuple[str, ...]
    unit_keys: UnitKeys | None  #: None for a row without labels
    clusters: np.ndarray  #: (n_units,) int: conversation of each unit
    reason: str | None = None  #: why the row has no data
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.code.id}|{self.unit}|{self.role}"

    @cached_property
    def keys(self) -> pd.DataFrame:
        """(n_units, 3): conversation_id, turn_index, role (built on first use)."""
        if self.unit_keys is None:
            return pd.DataFrame(columns=["conversation_id", "turn_index", "role"])
        return self.unit_keys.frame()

    def conversation_ids(self, units: np.ndarray) -> np.ndarray:
        """The conversation id of each of ``units`` (indices or a mask) as str."""
        if self.unit_keys is None:
            return np.zeros(0, dtype=str)
        return np.asarray(self.unit_keys.conv_names[self.clusters[units]]).astype(str)


def _names(names: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``names[index]`` as objects, pd.NA where the index is -1 (missing)."""
    out = np.append(np.asarray(names, dtype=object), pd.NA)
    return out[np.where(index < 0, len(names), index)]


def check_columns(labels: pd.DataFrame) -> None:
    missing = [c for c in COLUMNS if c not in labels.columns]
    if missing:
        raise AgreementError(Errors.E403.format(missing=", ".join(missing), expected=COLUMNS))


def select_codes(
    codebook: Codebook, codes: str | Sequence[str] | None, unit: str | None, role: str | None
) -> list[Code]:
    """The codebook codes the report covers, in codebook order."""
    if isinstance(codes, str):
        codes = [codes]
    chosen = [codebook.code(c) for c in codes] if codes is not None else list(codebook.codes)
    if unit is not None:
        if unit not in ("turn", "conversation"):
            raise AgreementError(
                Errors.E404.format(option="unit", value=unit, allowed="turn, conversation")
            )
        chosen = [c for c in chosen if c.unit == unit]
    if role is not None:
        if role not in ("user", "assistant"):
            raise AgreementError(
                Errors.E404.format(option="role", value=role, allowed="user, assistant")
            )
        chosen = [c for c in chosen if c.unit == "turn" and role in c.applies_to]
    return chosen


@dataclass(frozen=True)
class Prepared:
    """The labels as integer arrays, factorised once for every code: each column is an index
    into its ``*_names`` (the distinct values, in order of appearance), -1 where missing."""

    code: np.ndarray  #: (n,) index into code_names
    code_names: np.ndarray
    conv: np.ndarray  #: (n,) index into conv_names
    conv_names: np.ndarray
    coder: np.ndarray  #: (n,) index into coder_names
    coder_names: np.ndarray
    turn: np.ndarray  #: (n,) int, -1 for conversation units
    unit: np.ndarray  #: (n,) index into unit_names
    unit_names: np.ndarray
    role: np.ndarray  #: (n,) index into role_names
    role_names: np.ndarray
    value: np.ndarray  #: (n,) index into value_names
    value_names: np.ndarray
    span: int  #: turn indexes + 2: a unit's key is conv * span + turn + 1


def _factorize(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1 = missing) and the distinct values (objects) of a column."""
    try:
        codes, names = pd.factorize(column)
    except TypeError:  # unhashable cells (label sets given as lists): compare them as sets
        hashable = [v if v is None or isinstance(v, Hashable) else frozenset(v) for v in column]
        codes, names = pd.factorize(pd.Series(hashable, dtype=object, index=column.index))
    return np.asarray(codes, dtype=np.int64), np.asarray(names, dtype=object)


def _at(flags: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``flags[index]`` with False where the index is -1 (missing)."""
    return np.append(flags, False)[np.where(index < 0, len(flags), index)]


def prepare(labels: pd.DataFrame, codebook: Codebook) -> Prepared:
    """Validate and factorise the labels: system codes and gold out, unknown codes refused."""
    check_columns(labels)
    code, code_names = _factorize(labels["code_id"])
    coder, coder_names = _factorize(labels["annotator_id"])
    keep = labels["value"].notna().to_numpy().copy()  # may be a read-only view (copy-on-write)
    keep &= code >= 0
    system = np.array([str(c).startswith("_") for c in code_names], dtype=bool)
    if system.any():
        keep &= ~_at(system, code)
    gold = np.isin(coder_names, NOT_CODERS)
    if gold.any():
        keep &= ~_at(gold, coder)
    known = set(codebook.code_ids)
    used = np.bincount(code[keep], minlength=len(code_names)) > 0
    unknown = sorted(str(c) for c in code_names[used] if c not in known)
    if unknown:
        raise AgreementError(Errors.E402.format(codes=", ".join(unknown), codebook_id=codebook.id))
    conv, conv_names = _factorize(labels["conversation_id"])
    anonymous = int(np.count_nonzero(keep & ((coder < 0) | (conv < 0))))
    if anonymous:
        raise AgreementError(
            Errors.E406.format(
                expected="labels with an annotator_id and a conversation_id on every row",
                got=f"{anonymous} label(s) without",
            )
        )
    unit, unit_names = _factorize(labels["unit"])
    role, role_names = _factorize(labels["role"])
    value, value_names = _factorize(labels["value"])
    turns = labels["turn_index"]
    if pd.api.types.is_integer_dtype(turns.dtype):
        turn = turns.to_numpy(dtype=np.int64, na_value=-1)
    else:
        turn = pd.to_numeric(turns, errors="coerce").fillna(-1).to_numpy(np.int64)
    columns = [code, conv, coder, turn, unit, role, value]
    if not keep.all():
        columns = [c[keep] for c in columns]
    code, conv, coder, turn, unit, role, value = columns
    return Prepared(
        code=code,
        code_names=code_names,
        conv=conv,
        conv_names=conv_names,
        coder=coder,
        coder_names=coder_names,
        turn=turn,
        unit=unit,
        unit_names=unit_names,
        role=role,
        role_names=role_names,
        value=value,
        value_names=value_names,
        span=int(turn.max()) + 2 if len(turn) else 1,
    )


def _position(names: np.ndarray, name: object) -> int:
    """Index of ``name`` among ``names``; -2 (no label's index, not even -1) if absent."""
    for i, found in enumerate(names):
        if found == name:
            return i
    return -2


def _encode_values(
    code: Code, values: np.ndarray, names: np.ndarray
) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Value codes (into ``names``) → indices into the code's domain; refuse values outside
    it (E401). Each distinct value is looked up once."""
    ids = tuple(code.value_ids)
    present = np.flatnonzero(np.bincount(values, minlength=len(names)))
    distinct = names[present]
    lut = np.full(len(names), -1, dtype=np.int64)
    if code.level == "set":
        parsed = [_label_set(v) for v in distinct]
        malformed = sorted(repr(str(v)) for v, s in zip(distinct, parsed, strict=True) if s is None)
        if malformed:  # not a list of value ids
            raise AgreementError(
                Errors.E401.format(
                    values=", ".join(malformed[:10]), code_id=code.id, allowed=", ".join(ids)
                )
            )
        sets = [s for s in parsed if s is not None]
        bad = sorted({x for s in sets for x in s} - set(ids))
        if bad:
            raise AgreementError(
                Errors.E401.format(values=bad, code_id=code.id, allowed=", ".join(ids))
            )
        domain = sorted(set(sets), key=lambda s: (len(s), sorted(ids.index(x) for x in s)))
        lookup = {s: i for i, s in enumerate(domain)}
        lut[present] = [lookup[s] for s in sets]
        return lut[values], tuple(domain)
    as_str = pd.Series(distinct, dtype=object).astype(str)
    idx = pd.Index(list(ids)).get_indexer(as_str).astype(np.int64)  # -1: not in ids
    if code.level == "interval" and (idx < 0).any():  # "3.0" for "3": compare as numbers
        numeric = np.array([float(v) for v in ids])
        as_float = pd.to_numeric(pd.Series(distinct, dtype=object), errors="coerce")
        match = as_float.to_numpy(dtype=float)[:, None] == numeric[None, :]
        idx = np.where(match.any(axis=1), match.argmax(axis=1), -1)
    if (idx < 0).any():
        bad = sorted(set(as_str[idx < 0]))[:10]
        raise AgreementError(
            Errors.E401.format(values=", ".join(bad), code_id=code.id, allowed=", ".join(ids))
        )
    lut[present] = idx
    return lut[values], ids


def _label_set(value: Any) -> frozenset[Any] | None:
    """A set code's value (a JSON list of value ids, or a list) as a frozenset; None if it is
    not one."""
    try:
        items = json.loads(value) if isinstance(value, str) else value
        if isinstance(items, str | bytes) or not isinstance(items, Iterable):
            return None
        return frozenset(items)
    except (ValueError, TypeError):  # not JSON, or unhashable items
        return None


def _dense_rank(key: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(key, return_inverse=True)`` for keys in ``0..size-1``: without a sort when
    the key range is not much larger than the number of keys."""
    if size > 4 * len(key) + 4096 or (len(key) and key.min() < 0):
        uniq, inverse = np.unique(key, return_inverse=True)
        return uniq, inverse.ravel()
    seen = np.zeros(size, dtype=bool)
    seen[key] = True
    rank = np.cumsum(seen) - 1
    return np.flatnonzero(seen), rank[key]


def _matrix(
    p: Prepared, rows: np.ndarray, idx: np.ndarray, code_id: str
) -> tuple[np.ndarray, tuple[str, ...], UnitKeys, np.ndarray]:
    """Pivot one row's labels into (units × coders) codes, coders, unit keys, clusters."""
    span = p.span
    # labels of one code often are one block of the table: a slice reads without copying
    contiguous = len(rows) and rows[-1] - rows[0] == len(rows) - 1
    sel: np.ndarray | slice = slice(rows[0], rows[-1] + 1) if contiguous else rows
    key = p.conv[sel] * span + (p.turn[sel] + 1)
    uniq, u = _dense_rank(key, len(p.conv_names) * span)
    c = p.coder[sel]
    present = np.flatnonzero(np.bincount(c, minlength=len(p.coder_names)))
    if len(present) < len(p.coder_names):  # number the coders of this row 0..k-1
        c = _dense_rank(c, len(p.coder_names))[1]
    k = len(present)
    codes = np.full((len(uniq), k), -1, dtype=np.int64)
    codes[u, c] = idx  # (idx >= 0): fewer cells filled than labels means a cell has two
    if np.count_nonzero(codes >= 0) < len(idx):
        cells = np.bincount(u * k + c, minlength=len(uniq) * k)
        at = int(np.flatnonzero(cells > 1)[0])
        uk, ck = divmod(at, k)
        example = (
            f"{p.coder_names[present[ck]]} / {p.conv_names[uniq[uk] // span]} / "
            f"{uniq[uk] % span - 1} / {code_id}"
        )
        raise AgreementError(Errors.E405.format(n=int((cells - 1).clip(0).sum()), example=example))
    clusters = uniq // span
    keys = UnitKeys(p.conv_names, p.role_names, clusters, uniq % span - 1, u, p.role[sel])
    return codes, tuple(map(str, p.coder_names[present])), keys, clusters


def build_rows(p: Prepared, chosen: list[Code], role: str | None) -> list[RowData]:
    """One :class:`RowData` per (code, unit, role) row of the report."""
    order = np.argsort(p.code, kind="stable")
    bounds = np.searchsorted(p.code[order], np.arange(len(p.code_names) + 1))
    position = {str(name): i for i, name in enumerate(p.code_names)}
    rows: list[RowData] = []
    for code in chosen:
        i = position.get(code.id)
        sel = order[bounds[i] : bounds[i + 1]] if i is not None else order[:0]
        wrong = p.unit[sel] != _position(p.unit_names, code.unit)
        if wrong.any():
            got = ", ".join(sorted(map(str, set(_names(p.unit_names, p.unit[sel][wrong])))))
            raise AgreementError(
                Errors.E408.format(code_id=code.id, expected=code.unit, n=int(wrong.sum()), got=got)
            )
        if len(sel) == 0:
            for r in _row_roles(code, None, role):
                rows.append(_empty(code, r, "no labels for this code"))
            continue
        idx, domain = _encode_values(code, p.value[sel], p.value_names)
        parts: list[tuple[str | None, np.ndarray | None]]
        if code.unit == "conversation":
            parts = [(None, None)]
        else:
            roles = p.role[sel]
            observed = np.flatnonzero(np.bincount(roles + 1, minlength=len(p.role_names) + 1)[1:])
            parts = [
                (r, roles == _position(p.role_names, r))
                for r in _row_roles(code, p.role_names[observed], role)
                if r != POOLED
            ]
            if role is None and len(parts) > 1:
                parts.append((POOLED, None))
        for r, mask in parts:
            if mask is None or mask.all():
                part, part_idx = sel, idx
            elif not mask.any():
                rows.append(_empty(code, r, f"no labels on {r} turns"))
                continue
            else:
                part, part_idx = sel[mask], idx[mask]
            codes, coders, keys, clusters = _matrix(p, part, part_idx, code.id)
            rows.append(RowData(code, code.unit, r, codes, domain, coders, keys, clusters))
    return rows


def _row_roles(code: Code, observed: np.ndarray | None, role: str | None) -> list[str | None]:
    if code.unit == "conversation":
        return [None]
    if role is not None:
        return [role]
    roles: list[str | None] = list(code.applies_to)
    if observed is not None:
        roles += sorted({r for r in observed if isinstance(r, str)} - set(roles))
    return roles


def _empty(code: Code, role: str | None, reason: str) -> RowData:
    return RowData(
        code=code,
        unit=code.unit,
        role=role,
        codes=np.zeros((0, 0), dtype=np.int64),
        domain=tuple(code.value_ids),
        coders=(),
        unit_keys=None,
        clusters=np.zeros(0, dtype=np.int64),
        reason=reason,
    )
