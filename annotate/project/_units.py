"""Unit labels (current labels + implicit absences) and project status, as vectorised joins."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from annotate.types import GOLD_ID, SYSTEM_CODES

if TYPE_CHECKING:
    from annotate.codebook import Codebook

UNIT_LABEL_COLUMNS = (
    "annotator_id",
    "unit",
    "conversation_id",
    "turn_index",
    "role",
    "code_id",
    "value",
)
_KEY = ["annotator_id", "unit", "conversation_id", "turn_index", "code_id"]
_STR = "string[pyarrow]"
_DTYPES = {c: ("Int32" if c == "turn_index" else _STR) for c in UNIT_LABEL_COLUMNS}


def _binary_codes(codebook: Codebook, unit: str) -> pd.DataFrame:
    """One row per (binary code of ``unit``, role it applies to), with its absent value."""
    rows = [
        (c.id, role, c.absent_value)
        for c in codebook.codes
        if c.level == "binary" and c.unit == unit
        for role in (c.applies_to if unit == "turn" else (None,))
    ]
    return pd.DataFrame(rows, columns=["code_id", "role", "value"]).astype(
        {"code_id": _STR, "role": _STR, "value": _STR}
    )


def unit_labels(current: pd.DataFrame, turns: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """Current labels plus implicit absences, with ``role``.

    Parameters
    ----------
    current : DataFrame
        Current labels of the store (system codes included: ``_status`` is read here).
    turns : DataFrame
        ``conversation_id, turn_index, role`` of every corpus turn.
    codebook : Codebook

    Returns
    -------
    DataFrame
        ``UNIT_LABEL_COLUMNS``: explicit labels, and for every conversation a coder marked
        ``_status = done``, the absent value of each binary code the coder did not switch on,
        on each turn whose role the code applies to (and on the conversation itself, for
        conversation-level binary codes). Sorted by annotator, conversation, turn, code.
    """
    explicit = current.loc[~current["code_id"].isin(SYSTEM_CODES), [*_KEY, "value"]]
    explicit = explicit.merge(turns, on=["conversation_id", "turn_index"], how="left")
    explicit.loc[explicit["unit"] != "turn", "role"] = pd.NA
    status = current[(current["code_id"] == "_status") & (current["value"] == "done")]
    done = status[["annotator_id", "conversation_id"]].drop_duplicates()
    implicit_turns = done.merge(turns, on="conversation_id").merge(
        _binary_codes(codebook, "turn"), on="role"
    )
    implicit_turns["unit"] = "turn"
    implicit_conv = done.merge(_binary_codes(codebook, "conversation"), how="cross")
    implicit_conv["unit"] = "conversation"
    implicit_conv["turn_index"] = pd.array([pd.NA] * len(implicit_conv), dtype="Int32")
    cols = list(UNIT_LABEL_COLUMNS)
    pieces = [f.reindex(columns=cols).astype(_DTYPES) for f in (implicit_turns, implicit_conv)]
    implicit = pd.concat([f for f in pieces if len(f)] or pieces[:1], ignore_index=True)
    if len(implicit) and len(explicit):
        marked = implicit[_KEY].merge(explicit[_KEY], on=_KEY, how="left", indicator=True)
        implicit = implicit[(marked["_merge"] == "left_only").to_numpy()]
    pieces = [explicit.reindex(columns=cols).astype(_DTYPES), implicit]
    out = pd.concat([f for f in pieces if len(f)] or pieces[:1], ignore_index=True)
    order = ["annotator_id", "conversation_id", "unit", "turn_index", "code_id"]
    return out.sort_values(order, kind="stable", na_position="first").reset_index(drop=True)


def coder_status(
    coders: list[str], assignments: pd.DataFrame, current: pd.DataFrame, events: pd.DataFrame
) -> pd.DataFrame:
    """Per coder: conversations assigned and done, reliability ones, time spent, last activity.

    Adjudication events (annotator ``gold``) are not a coder's work and are left out.
    """
    events = events[events["annotator_id"] != GOLD_ID]
    done = current[(current["code_id"] == "_status") & (current["value"] == "done")]
    done = done[["annotator_id", "conversation_id"]].drop_duplicates().assign(done=True)
    a = assignments.merge(done, on=["annotator_id", "conversation_id"], how="left")
    a["done"] = a["done"].notna().to_numpy()
    a["rel_done"] = a["done"] & a["is_reliability"]
    per = a.groupby("annotator_id").agg(
        assigned=("conversation_id", "size"),
        done=("done", "sum"),
        reliability_assigned=("is_reliability", "sum"),
        reliability_done=("rel_done", "sum"),
    )
    ev = events.groupby("annotator_id").agg(
        time_spent_ms=("elapsed_ms", "sum"), last_activity=("created_at", "max")
    )
    ids = list(dict.fromkeys([*coders, *ev.index.astype(str)]))
    out = per.reindex(ids).join(ev.reindex(ids)).rename_axis("annotator_id").reset_index()
    for col in ("assigned", "done", "reliability_assigned", "reliability_done", "time_spent_ms"):
        out[col] = out[col].fillna(0).astype("int64")
    out["time_spent_min"] = (out["time_spent_ms"] / 60000).round(1)
    out["last_activity"] = pd.to_datetime(out["last_activity"], utc=True)
    return out.drop(columns="time_spent_ms")[
        [
            "annotator_id",
            "done",
            "assigned",
            "reliability_done",
            "reliability_assigned",
            "time_spent_min",
            "last_activity",
        ]
    ]


def code_status(units: pd.DataFrame, codebook: Codebook) -> pd.DataFrame:
    """Per code: units coded by at least one coder, and by two or more (agreement-ready)."""
    units = units[units["annotator_id"] != GOLD_ID]
    per_unit = units.groupby(
        ["code_id", "unit", "conversation_id", "turn_index"], dropna=False, observed=True
    )["annotator_id"].nunique()
    by_code = per_unit.groupby(level="code_id", observed=True).agg(
        units_coded="size", units_2plus=lambda s: int((s >= 2).sum())
    )
    ids = list(codebook.code_ids)
    out = by_code.reindex(ids).fillna(0).astype("int64").rename_axis("code_id").reset_index()
    out.insert(1, "unit", [codebook.code(c).unit for c in ids])
    return out
