"""Model inputs: outcomes per unit, scores of ordinal codes, covariates and design matrices.

Covariates (``covariates=``) are looked up by name, in order, as

* ``position``: the turn's normalised position in its conversation (0 = first, 1 = last
  user/assistant turn; turn-level models only),
* ``session`` / ``days``: the conversation's session index for its user, or days since the
  user's first session (needs user_id and started_at),
* a column of the ``users=`` table (one row per ``user_id``: survey variables such as age or
  a loneliness score), joined by the conversation's user_id,
* a conversation attribute as in ``by=`` (a conversation-level code, ``model``, a
  conversations column, a key of conversations.meta such as ``persona`` or ``context``).

A covariate whose known values all parse as numbers enters as a number; otherwise as a set of
0/1 indicators against its most frequent value (the reference level). Rows where a covariate is
unknown are left out of the model (``model_n`` says how many rows were used).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.analysis._frame import LabelFrame
from annotate.analysis._groups import conversation_groups
from annotate.analysis._nesting import user_ids
from annotate.errors import AnalysisError, Errors

if TYPE_CHECKING:
    from annotate.codebook import Code


def scores(code: Code) -> np.ndarray:
    """Numeric score of each value of an ordinal or interval code: the value itself when all
    values are numbers (a 1-5 rating), else its rank 1..K in codebook order."""
    try:
        return np.array([float(v) for v in code.value_ids])
    except ValueError:
        return np.arange(1, len(code.value_ids) + 1, dtype=float)


def code_block(frame: LabelFrame, code_id: str, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """(category index 0..K-1 or -1 if not coded, score or NaN) of every turn (unit="turn")
    or conversation row for an ordinal/interval/nominal code."""
    items = frame.items if unit == "turn" else frame.conv_items
    M = frame.X if unit == "turn" else frame.C
    idx = [k for k, it in enumerate(items) if it.code_id == code_id]
    code = frame.codebook.code(code_id)
    n = M.shape[0]
    cat = np.full(n, -1, dtype=np.int64)
    if idx:
        block = M[:, idx]
        hit = (block == 1).any(axis=1)
        values = [items[k].value for k in idx]
        pos = np.array([code.value_ids.index(v) for v in values])
        cat[hit] = pos[np.argmax(block[hit] == 1, axis=1)]
    sc = scores(code)
    score = np.where(cat >= 0, sc[np.maximum(cat, 0)], np.nan)
    return cat, score


def positions(frame: LabelFrame) -> np.ndarray:
    """Normalised position of each turn row (NaN where unknown)."""
    seq = frame.turns["seq"].to_numpy().astype(float)
    n_seq = frame.turns["n_seq"].to_numpy().astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        pos = np.where(n_seq > 1, seq / np.maximum(n_seq - 1, 1), 0.0)
    return np.where(seq >= 0, pos, np.nan)


def _numeric(values: np.ndarray) -> np.ndarray | None:
    known = [v for v in values.tolist() if v is not None and not _isnan(v)]
    if not known:
        return None
    try:
        [float(v) for v in known]
    except (TypeError, ValueError):
        return None
    return np.array([np.nan if v is None or _isnan(v) else float(v) for v in values.tolist()])


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and np.isnan(v)


def session_columns(frame: LabelFrame) -> pd.DataFrame | None:
    """Per conversation row: ``session`` (1-based per user by started_at) and ``days`` since
    the user's first session; None without user_id/started_at."""
    convs = frame.corpus.conversations if frame.corpus is not None else None
    if convs is None or not {"conversation_id", "user_id", "started_at"} <= set(convs.columns):
        return None
    c = convs[["conversation_id", "user_id", "started_at"]].copy()
    c = c[c["user_id"].notna()]
    c["started_at"] = pd.to_datetime(c["started_at"], utc=True, errors="coerce")
    c = c.sort_values(["user_id", "started_at", "conversation_id"])
    c["session"] = c.groupby("user_id").cumcount() + 1
    first = c.groupby("user_id")["started_at"].transform("min")
    c["days"] = (c["started_at"] - first).dt.total_seconds() / 86400.0
    ids = frame.conversations["conversation_id"].astype(str)
    c["conversation_id"] = c["conversation_id"].astype(str)
    out = pd.DataFrame({"conversation_id": ids}).merge(c, on="conversation_id", how="left")
    return out[["session", "days"]].reset_index(drop=True)


def conversation_attribute(frame: LabelFrame, name: str, users: pd.DataFrame | None) -> np.ndarray:
    """One value per conversation row of a covariate (object array; None/NaN unknown)."""
    if name in ("session", "days"):
        sc = session_columns(frame)
        if sc is None:
            raise AnalysisError(
                Errors.E458.format(
                    analysis=f"Covariate {name!r}",
                    need="conversations with user_id and started_at",
                    hint="Pass corpus= (a corpus whose conversations carry them).",
                )
            )
        return sc[name].to_numpy(dtype=float)
    if users is not None and name in users.columns and name != "user_id":
        if "user_id" not in users.columns:
            raise AnalysisError(
                Errors.E460.format(
                    option="users", value="(table)", problem="needs a user_id column"
                )
            )
        uid = user_ids(frame)
        table = users.drop_duplicates("user_id").set_index(users["user_id"].astype(str))[name]
        vals = [table.get(u) if u is not None else None for u in (uid if uid is not None else [])]
        if uid is None:
            vals = [None] * frame.n_conversations
        return np.array([None if v is None or pd.isna(v) else v for v in vals], dtype=object)
    try:
        return conversation_groups(frame, name)
    except AnalysisError:
        available = ["position", "session", "days"]
        if users is not None:
            available += [c for c in users.columns if c != "user_id"]
        raise AnalysisError(
            Errors.E463.format(name=name, available=", ".join(available) + ", or a `by=` name")
        ) from None


def indicator_columns(
    values: np.ndarray, name: str, reference: Any = None, levels: Sequence[Any] | None = None
) -> tuple[pd.DataFrame, Any]:
    """0/1 columns ``name[level]`` for every level but the reference (NaN where unknown)."""
    vals = np.asarray(values, dtype=object)
    known = [v for v in vals.tolist() if v is not None and not _isnan(v)]
    if levels is None:
        counts = pd.Series(known, dtype=object).value_counts(sort=False)
        levels = sorted(counts.index.tolist(), key=str)
        if reference is None and len(counts):
            reference = max(levels, key=lambda v: (counts[v], -levels.index(v)))
    if reference is None and levels:
        reference = levels[0]
    unknown = np.array([v is None or _isnan(v) for v in vals.tolist()], dtype=bool)
    cols = {}
    for lev in levels:
        if lev == reference:
            continue
        col = np.array([v == lev for v in vals.tolist()], dtype=float)
        col[unknown] = np.nan
        cols[f"{name}[{lev}]"] = col
    return pd.DataFrame(cols, index=range(len(vals))), reference


def covariate_design(
    frame: LabelFrame,
    covariates: Sequence[str],
    users: pd.DataFrame | None,
    conv_rows: np.ndarray,
    turn_rows: np.ndarray | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Design columns of the covariates for model rows, and their formula terms.

    ``conv_rows`` gives the conversation row of each model row; ``turn_rows`` the turn row
    (turn-level models, for ``position``).
    """
    parts: list[pd.DataFrame] = []
    terms: list[str] = []
    n = len(conv_rows)
    for name in covariates:
        if name == "position":
            if turn_rows is None:
                raise AnalysisError(
                    Errors.E460.format(
                        option="covariates",
                        value=name,
                        problem="'position' is a turn-level covariate (use a turn-level unit)",
                    )
                )
            parts.append(pd.DataFrame({"position": positions(frame)[turn_rows]}))
            terms.append("position")
            continue
        per_conv = conversation_attribute(frame, name, users)
        num = _numeric(per_conv)
        if num is not None:
            parts.append(pd.DataFrame({name: num[conv_rows]}))
            terms.append(name)
        else:
            cols, ref = indicator_columns(per_conv[conv_rows], name)
            parts.append(cols)
            terms.append(f"C({name}, reference={ref!r})")
    if not parts:
        return pd.DataFrame(index=range(n)), terms
    out = pd.concat([p.reset_index(drop=True) for p in parts], axis=1)
    return out, terms
