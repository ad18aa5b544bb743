"""Conversation attributes to group by: codes, corpus columns, ``meta`` keys; the bootstrap."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from annotate.analysis._frame import LabelFrame
from annotate.analysis._stats import bootstrap_weights
from annotate.errors import AnalysisError, Errors

_NOT_GROUPS = {"conversation_id", "meta", "source_id", "started_at", "n_turns"}


def as_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def conversation_groups(frame: LabelFrame, by: str) -> np.ndarray:
    """The value of ``by`` for each conversation (object array; None where unknown).

    ``by`` is looked up, in order, as a conversation-level code of the labels (its value),
    ``model`` (conversations.model, else the most frequent model of the assistant turns),
    ``corpus`` (a ``corpus`` column, else ``source``), another conversations column, and a key
    of conversations.meta (``context`` or ``meta.context``).
    """
    codes = [it.code_id for it in frame.conv_items]
    if by in codes:
        return _code_values(frame, by)
    convs = frame.conversations
    if by == "model":
        return _models(frame)
    if by == "corpus" and "corpus" not in convs.columns and "source" in convs.columns:
        return _clean(convs["source"])
    if by in convs.columns and by not in {"conversation_id", "meta"}:
        return _clean(convs[by])
    key = by.removeprefix("meta.")
    metas = frame.meta()
    if any(key in m for m in metas):
        return _clean(pd.Series([m.get(key) for m in metas], dtype=object))
    keys = sorted({k for m in metas for k in m})
    available = (
        ["role"]
        + sorted(set(codes))
        + [c for c in convs.columns if c not in _NOT_GROUPS]
        + ([] if "model" in convs.columns else ["model"])
        + [f"meta.{k}" for k in keys]
    )
    raise AnalysisError(Errors.E455.format(by=by, available=", ".join(available)))


def _clean(values: pd.Series) -> np.ndarray:
    out = values.astype(object).where(values.notna(), None).to_numpy(dtype=object)
    return np.array([None if v is None else str(v) for v in out], dtype=object)


def _code_values(frame: LabelFrame, code_id: str) -> np.ndarray:
    idx = [k for k, it in enumerate(frame.conv_items) if it.code_id == code_id]
    code = frame.codebook.code(code_id)
    out = np.full(frame.n_conversations, None, dtype=object)
    block = frame.C[:, idx]
    if code.level == "binary":
        out[block[:, 0] == 1] = code.present_value
        out[block[:, 0] == 0] = code.absent_value
        return out
    for j, k in enumerate(idx):
        out[block[:, j] == 1] = frame.conv_items[k].value
    return out


def _models(frame: LabelFrame) -> np.ndarray:
    convs = frame.conversations
    base = (
        _clean(convs["model"])
        if "model" in convs.columns
        else np.full(len(convs), None, dtype=object)
    )
    corpus = frame.corpus
    if corpus is None or "model" not in getattr(corpus, "turns", pd.DataFrame()).columns:
        return base
    missing = np.array([v is None for v in base])
    if not missing.any():
        return base
    turns = corpus.turns
    turns = turns[(turns["role"] == "assistant") & turns["model"].notna()]
    top = turns.groupby("conversation_id")["model"].agg(lambda s: s.value_counts().index[0])
    fill = convs["conversation_id"].map(top)
    base[missing] = _clean(fill)[missing]
    return base


def group_keys(frame: LabelFrame, names: Sequence[str]) -> np.ndarray:
    """One key per conversation combining several attributes (None if any is unknown)."""
    if not names:
        return np.full(frame.n_conversations, "all", dtype=object)
    columns = [conversation_groups(frame, n) for n in names]
    keys = np.full(frame.n_conversations, None, dtype=object)
    for i in range(frame.n_conversations):
        vals = tuple(col[i] for col in columns)
        keys[i] = None if any(v is None for v in vals) else vals
    return keys


def strata(keys: np.ndarray) -> list[tuple[Any, np.ndarray]]:
    """(key, conversation rows) for each distinct non-missing key, in sorted order."""
    known = [k for k in keys.tolist() if k is not None]
    out = []
    for key in sorted(set(known), key=str):
        out.append((key, np.flatnonzero(np.array([k == key for k in keys.tolist()]))))
    return out


def weights_for(rows: np.ndarray, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap counts for the conversations ``rows`` of one stratum."""
    return bootstrap_weights(len(rows), replicates, rng)


def check_option(option: str, value: Any, allowed: Sequence[Any]) -> None:
    if value not in allowed:
        raise AnalysisError(
            Errors.E460.format(
                option=option, value=value, problem=f"use one of {', '.join(map(str, allowed))}"
            )
        )
