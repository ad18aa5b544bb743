"""Unit-labels table (docs/internals.md) → one reliability-data matrix per report row.

A report row is a (code, unit, role) triple: a turn-level code gets one row per role it
applies to (user, assistant) and, when it applies to more than one role, a pooled row with
role ``"all"`` (every turn a coder could code, whatever its speaker). A conversation-level
code gets one row with role ``None``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
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
class RowData:
    """Reliability data of one report row."""

    code: Code  #: the codebook Code
    unit: str
    role: str | None
    codes: np.ndarray  #: (n_units, n_coders) int, -1 = not coded
    domain: tuple[Any, ...]  #: value ids (sets: the distinct frozensets observed)
    coders: tuple[str, ...]
    keys: pd.DataFrame  #: (n_units, 3): conversation_id, turn_index, role
    clusters: np.ndarray  #: (n_units,) int: conversation of each unit
    reason: str | None = None  #: why the row has no data
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.code.id}|{self.unit}|{self.role}"


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
    """The labels as integer arrays (factorised once for every code)."""

    code: np.ndarray  #: (n,) index into code_names
    code_names: np.ndarray
    conv: np.ndarray  #: (n,) index into conv_names
    conv_names: np.ndarray
    coder: np.ndarray  #: (n,) index into coder_names
    coder_names: np.ndarray
    turn: np.ndarray  #: (n,) int, -1 for conversation units
    unit: np.ndarray  #: (n,) object
    role: np.ndarray  #: (n,) object
    value: np.ndarray  #: (n,) object


def prepare(labels: pd.DataFrame, codebook: Codebook) -> Prepared:
    """Validate and factorise the labels: system codes and gold out, unknown codes refused."""
    check_columns(labels)
    code, code_names = pd.factorize(labels["code_id"])
    coder, coder_names = pd.factorize(labels["annotator_id"])
    code_names = np.asarray(code_names, dtype=object)
    system = np.flatnonzero([str(c).startswith("_") for c in code_names])
    gold = np.flatnonzero(np.isin(np.asarray(coder_names, dtype=object), NOT_CODERS))
    keep = labels["value"].notna().to_numpy().copy()  # may be a read-only view (copy-on-write)
    if len(system):
        keep &= ~np.isin(code, system)
    if len(gold):
        keep &= ~np.isin(coder, gold)
    known = set(codebook.code_ids)
    used = np.unique(code[keep])
    unknown = sorted(str(c) for c in code_names[used] if c not in known)
    if unknown:
        raise AgreementError(Errors.E402.format(codes=", ".join(unknown), codebook_id=codebook.id))
    conv, conv_names = pd.factorize(labels["conversation_id"])
    turn = pd.to_numeric(labels["turn_index"], errors="coerce").fillna(-1).to_numpy(np.int64)
    return Prepared(
        code=code[keep],
        code_names=code_names,
        conv=conv[keep],
        conv_names=np.asarray(conv_names, dtype=object),
        coder=coder[keep],
        coder_names=np.asarray(coder_names, dtype=object),
        turn=turn[keep],
        unit=labels["unit"].to_numpy(dtype=object)[keep],
        role=labels["role"].to_numpy(dtype=object)[keep],
        value=labels["value"].to_numpy(dtype=object)[keep],
    )


def _encode_values(code: Code, values: pd.Series) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Value strings → indices into the code's domain; refuse values outside it (E401)."""
    ids = tuple(code.value_ids)
    if code.level == "set":
        sets = [frozenset(json.loads(v)) if isinstance(v, str) else frozenset(v) for v in values]
        bad = sorted({x for s in sets for x in s} - set(ids))
        if bad:
            raise AgreementError(
                Errors.E401.format(values=bad, code_id=code.id, allowed=", ".join(ids))
            )
        domain = sorted(set(sets), key=lambda s: (len(s), sorted(ids.index(x) for x in s)))
        lookup = {s: i for i, s in enumerate(domain)}
        return np.fromiter((lookup[s] for s in sets), np.int64, len(sets)), tuple(domain)
    idx = pd.Index(list(ids)).get_indexer(values.astype(str)).astype(np.int64)  # -1: not in ids
    if code.level == "interval" and (idx < 0).any():  # "3.0" for "3": compare as numbers
        numeric = np.array([float(v) for v in ids])
        as_float = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        match = as_float[:, None] == numeric[None, :]
        idx = np.where(match.any(axis=1), match.argmax(axis=1), -1)
    if (idx < 0).any():
        bad = sorted(values[idx < 0].astype(str).unique())[:10]
        raise AgreementError(
            Errors.E401.format(values=", ".join(bad), code_id=code.id, allowed=", ".join(ids))
        )
    return idx, ids


def _matrix(
    p: Prepared, sel: np.ndarray, idx: np.ndarray, code_id: str
) -> tuple[np.ndarray, tuple[str, ...], pd.DataFrame, np.ndarray]:
    """Pivot one row's labels into (units × coders) codes, coders, unit keys, clusters."""
    span = int(p.turn.max()) + 2 if len(p.turn) else 1
    key = p.conv[sel].astype(np.int64) * span + (p.turn[sel] + 1)
    uniq, first, u = np.unique(key, return_index=True, return_inverse=True)
    present, c = np.unique(p.coder[sel], return_inverse=True)
    cells = np.bincount(u * len(present) + c, minlength=len(uniq) * len(present))
    if (cells > 1).any():
        at = int(np.flatnonzero(cells > 1)[0])
        uk, ck = divmod(at, len(present))
        example = (
            f"{p.coder_names[present[ck]]} / {p.conv_names[uniq[uk] // span]} / "
            f"{uniq[uk] % span - 1} / {code_id}"
        )
        raise AgreementError(Errors.E405.format(n=int((cells - 1).clip(0).sum()), example=example))
    codes = np.full((len(uniq), len(present)), -1, dtype=np.int64)
    codes[u.ravel(), c.ravel()] = idx
    clusters = uniq // span
    turn = uniq % span - 1
    keys = pd.DataFrame(
        {
            "conversation_id": p.conv_names[clusters],
            "turn_index": pd.array(np.where(turn < 0, pd.NA, turn), dtype="Int32"),
            "role": p.role[sel][first],
        }
    )
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
        wrong = p.unit[sel] != code.unit
        if wrong.any():
            got = ", ".join(sorted(map(str, set(p.unit[sel][wrong]))))
            raise AgreementError(
                Errors.E408.format(code_id=code.id, expected=code.unit, n=int(wrong.sum()), got=got)
            )
        if len(sel) == 0:
            for r in _row_roles(code, None, role):
                rows.append(_empty(code, r, "no labels for this code"))
            continue
        idx, domain = _encode_values(code, pd.Series(p.value[sel]))
        parts: list[tuple[str | None, np.ndarray]]
        if code.unit == "conversation":
            parts = [(None, np.ones(len(sel), dtype=bool))]
        else:
            roles = p.role[sel]
            parts = [(r, roles == r) for r in _row_roles(code, roles, role) if r != POOLED]
            if role is None and len(parts) > 1:
                parts.append((POOLED, np.ones(len(sel), dtype=bool)))
        for r, mask in parts:
            if not mask.any():
                rows.append(_empty(code, r, f"no labels on {r} turns"))
                continue
            codes, coders, keys, clusters = _matrix(p, sel[mask], idx[mask], code.id)
            rows.append(RowData(code, code.unit, r, codes, domain, coders, keys, clusters))
    return rows


def _row_roles(code: Code, observed: np.ndarray | None, role: str | None) -> list[str | None]:
    if code.unit == "conversation":
        return [None]
    if role is not None:
        return [role]
    roles: list[str | None] = list(code.applies_to)
    if observed is not None:
        roles += sorted({r for r in pd.unique(observed) if isinstance(r, str)} - set(roles))
    return roles


def _empty(code: Code, role: str | None, reason: str) -> RowData:
    return RowData(
        code=code,
        unit=code.unit,
        role=role,
        codes=np.zeros((0, 0), dtype=np.int64),
        domain=tuple(code.value_ids),
        coders=(),
        keys=pd.DataFrame(columns=["conversation_id", "turn_index", "role"]),
        clusters=np.zeros(0, dtype=np.int64),
        reason=reason,
    )
