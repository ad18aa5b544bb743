"""Unit-labels table (docs/internals.md) → one reliability-data matrix per report row.

A report row is a (code, unit, role) triple: a turn-level code gets one row per role it
applies to (user, assistant) and, when it applies to more than one role, a pooled row with
role ``"all"`` (every turn a coder could code, whatever its speaker). A conversation-level
code gets one row with role ``None``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from annotate.errors import AgreementError, Errors

COLUMNS = ("annotator_id", "unit", "conversation_id", "turn_index", "role", "code_id", "value")
POOLED = "all"
#: annotator ids that are not independent coders (adjudicated gold labels)
NOT_CODERS = ("gold",)


@dataclass(frozen=True)
class RowData:
    """Reliability data of one report row."""

    code: Any  #: the codebook Code
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


def select_codes(codebook: Any, codes: Any, unit: str | None, role: str | None) -> list[Any]:
    """The codebook codes the report covers, in codebook order."""
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


def prepare(labels: pd.DataFrame, codebook: Any) -> pd.DataFrame:
    """Validate and clean the labels: system codes and gold out, unknown codes refused."""
    check_columns(labels)
    df = labels.loc[:, list(COLUMNS)]
    df = df[~df["code_id"].astype(str).str.startswith("_")]
    df = df[~df["annotator_id"].isin(NOT_CODERS) & df["value"].notna()]
    unknown = sorted(set(df["code_id"].unique()) - set(codebook.code_ids))
    if unknown:
        raise AgreementError(Errors.E402.format(codes=", ".join(unknown), codebook_id=codebook.id))
    dup = df.duplicated(["annotator_id", "unit", "conversation_id", "turn_index", "code_id"])
    if dup.any():
        ex = df[dup].iloc[0]
        example = f"{ex.annotator_id} / {ex.conversation_id} / {ex.turn_index} / {ex.code_id}"
        raise AgreementError(Errors.E405.format(n=int(dup.sum()), example=example))
    return df


def _encode_values(code: Any, values: pd.Series) -> tuple[np.ndarray, tuple[Any, ...]]:
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
    idx = pd.Categorical(values.astype(str), categories=list(ids)).codes.astype(np.int64)
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
    frame: pd.DataFrame, idx: np.ndarray, conv_index: pd.Index
) -> tuple[np.ndarray, tuple[str, ...], pd.DataFrame, np.ndarray]:
    """Pivot one row's labels into (units × coders) codes, coders, unit keys, clusters."""
    turn = (
        pd.to_numeric(frame["turn_index"], errors="coerce").fillna(-1).astype(np.int64).to_numpy()
    )
    unit_key = pd.MultiIndex.from_arrays([frame["conversation_id"].to_numpy(), turn])
    u, uniq = pd.factorize(unit_key, sort=True)
    c, coders = pd.factorize(frame["annotator_id"], sort=True)
    codes = np.full((len(uniq), len(coders)), -1, dtype=np.int64)
    codes[u, c] = idx
    conv = uniq.get_level_values(0)
    first_role = frame.groupby(u, sort=True)["role"].first().to_numpy()
    keys = pd.DataFrame(
        {
            "conversation_id": conv,
            "turn_index": pd.array(
                np.where(uniq.get_level_values(1) < 0, pd.NA, uniq.get_level_values(1)),
                dtype="Int32",
            ),
            "role": first_role,
        }
    )
    clusters = conv_index.get_indexer(conv)
    return codes, tuple(map(str, coders)), keys, clusters


def build_rows(
    labels: pd.DataFrame, codebook: Any, chosen: list[Any], role: str | None
) -> list[RowData]:
    """One :class:`RowData` per (code, unit, role) row of the report."""
    conv_index = pd.Index(pd.unique(labels["conversation_id"]))
    by_code = dict(tuple(labels.groupby("code_id", sort=False)))
    rows: list[RowData] = []
    for code in chosen:
        frame = by_code.get(code.id)
        if frame is not None:
            frame = frame[frame["unit"] == code.unit]
        if frame is None or frame.empty:
            for r in _row_roles(code, None, role):
                rows.append(_empty(code, r, "no labels for this code"))
            continue
        idx, domain = _encode_values(code, frame["value"])
        if code.unit == "conversation":
            parts = [(None, np.ones(len(frame), dtype=bool))]
        else:
            roles = frame["role"].astype(object).to_numpy()
            parts = [(r, roles == r) for r in _row_roles(code, roles, role) if r != POOLED]
            if role is None and len(parts) > 1:
                parts.append((POOLED, np.ones(len(frame), dtype=bool)))
        for r, mask in parts:
            if not mask.any():
                rows.append(_empty(code, r, f"no labels on {r} turns"))
                continue
            codes, coders, keys, clusters = _matrix(frame[mask], idx[mask], conv_index)
            rows.append(RowData(code, code.unit, r, codes, domain, coders, keys, clusters))
    return rows


def _row_roles(code: Any, observed: np.ndarray | None, role: str | None) -> list[str | None]:
    if code.unit == "conversation":
        return [None]
    if role is not None:
        return [role]
    roles = list(code.applies_to)
    if observed is not None:
        roles += sorted({r for r in observed if isinstance(r, str)} - set(roles))
    return roles


def _empty(code: Any, role: str | None, reason: str) -> RowData:
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
