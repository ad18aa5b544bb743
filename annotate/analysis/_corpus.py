"""The corpus side of a LabelFrame: conversation attributes and turn positions."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from annotate.corpus import Corpus

#: roles whose turns count for positions and lags
SEQ_ROLES = ("user", "assistant")


def _parse_meta(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _conversation_table(conv_ids: np.ndarray, corpus: Corpus | None) -> pd.DataFrame:
    table = pd.DataFrame({"conversation_id": conv_ids})
    if corpus is not None:
        convs = corpus.conversations
        if "conversation_id" in convs.columns:
            table = table.merge(convs, on="conversation_id", how="left", sort=False)
    return table


def _turn_table(
    keys: tuple[np.ndarray, np.ndarray] | None,
    roles: Any,
    conv_ids: np.ndarray,
    corpus: Corpus | None,
) -> pd.DataFrame:
    if keys is None:
        keys = (np.array([], dtype=np.int64), np.array([], dtype=np.int64))
    conv, tidx = keys
    turns = pd.DataFrame(
        {
            "conv": conv.astype(np.int64),
            "conversation_id": conv_ids[conv] if len(conv) else np.array([], dtype=object),
            "turn_index": tidx.astype(np.int64),
            "role": np.asarray(roles, dtype=object) if roles is not None else [],
        }
    )
    seq_source = None
    if corpus is not None and {"conversation_id", "turn_index", "role"} <= set(
        corpus.turns.columns
    ):
        ct = corpus.turns[["conversation_id", "turn_index", "role"]]
        ct = ct[ct["conversation_id"].isin(set(conv_ids.tolist())) & ct["role"].isin(SEQ_ROLES)]
        seq_source = ct.sort_values(["conversation_id", "turn_index"]).rename(
            columns={"role": "corpus_role"}
        )
    if seq_source is None or seq_source.empty:
        # No corpus: a turn's position is its turn_index (the unlabelled turns between labelled
        # ones still count, so lag 1 never jumps over a turn nobody coded); a conversation
        # spans turn 0 to its last labelled turn.
        ok = (turns["turn_index"] >= 0) & turns["role"].isin(SEQ_ROLES)
        turns["seq"] = np.where(ok, turns["turn_index"], -1).astype(np.int64)
        last = turns.groupby("conversation_id", sort=False)["turn_index"].transform("max")
        turns["n_seq"] = (last + 1).astype(np.int64)
        return turns
    seq_source = seq_source[["conversation_id", "turn_index"]].copy()
    seq_source["turn_index"] = seq_source["turn_index"].astype(np.int64)
    grouped = seq_source.groupby("conversation_id", sort=False)
    seq_source["seq"] = grouped.cumcount().astype(np.int64)
    seq_source["n_seq"] = grouped["turn_index"].transform("size").astype(np.int64)
    turns = turns.merge(seq_source, on=["conversation_id", "turn_index"], how="left", sort=False)
    turns["seq"] = turns["seq"].fillna(-1).astype(np.int64)
    turns["n_seq"] = turns["n_seq"].fillna(0).astype(np.int64)
    return turns
