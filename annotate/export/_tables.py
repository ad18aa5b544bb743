"""The tables of an export: long and wide labels, turns, conversations (pure pandas)."""

from __future__ import annotations

import json
from itertools import combinations

import pandas as pd

LONG_COLUMNS = [
    "conversation_id", "turn_index", "unit", "role", "code_id", "annotator_id", "value",
]  # fmt: skip


def long_labels(
    labels: pd.DataFrame, gold: pd.DataFrame | None, kinds: dict[str, str] | None = None
) -> pd.DataFrame:
    """One row per unit × code × coder (and gold), sorted for byte-stable files.

    Parameters
    ----------
    labels : DataFrame
        Coders' unit labels (may be empty when only gold is exported).
    gold : DataFrame or None
        Resolved gold labels with ``source``, ``n_coders`` and ``n_agree``.
    kinds : dict, optional
        ``human`` or ``llm`` per coder (``Project.coder_kinds``): the ``kind`` column
        (``gold`` for gold rows).
    """
    parts = []
    if labels is not None and not labels.empty:
        part = labels[LONG_COLUMNS].copy()
        part["source"] = "coder"
        part["kind"] = part["annotator_id"].map(kinds or {}).fillna("human").astype(object)
        parts.append(part)
    if gold is not None and not gold.empty:
        parts.append(gold[[*LONG_COLUMNS, "source"]].assign(kind="gold"))
    if not parts:
        return pd.DataFrame(columns=[*LONG_COLUMNS, "source", "kind"])
    out = pd.concat(parts, ignore_index=True)
    out["turn_index"] = out["turn_index"].astype("Int32")
    out["is_gold"] = out["source"] != "coder"
    out = out.sort_values(
        ["conversation_id", "turn_index", "code_id", "is_gold", "annotator_id"],
        na_position="first",
        kind="mergesort",
    )
    return out.drop(columns="is_gold").reset_index(drop=True)


def unit_agreement(labels: pd.DataFrame) -> pd.DataFrame:
    """Per unit and code: coders, distinct values, and the share of coder pairs that agree.

    The pairwise share is the per-unit observed agreement of Krippendorff's and Fleiss'
    coefficients (the proportion of agreeing ordered pairs among the unit's m coders).

    Examples
    --------
    >>> df = pd.DataFrame(dict(annotator_id=list("abc"), unit="turn", conversation_id="c",
    ...     turn_index=0, role="user", code_id="x", value=["1", "1", "0"]))
    >>> row = unit_agreement(df).iloc[0]
    >>> int(row.n_coders), int(row.n_values), round(float(row.pair_agreement), 4)
    (3, 2, 0.3333)
    """
    key = ["conversation_id", "turn_index", "unit", "code_id"]
    if labels.empty:
        return pd.DataFrame(columns=[*key, "n_coders", "n_values", "pair_agreement", "values"])
    df = labels.assign(turn_index=labels["turn_index"].astype("Int32"))
    rows = []
    for k, grp in df.groupby(key, dropna=False, sort=True):
        vals = grp.sort_values("annotator_id")
        pairs = list(combinations(vals["value"].tolist(), 2))
        share = sum(a == b for a, b in pairs) / len(pairs) if pairs else float("nan")
        rows.append(
            (
                *k,
                len(vals),
                vals["value"].nunique(),
                share,
                json.dumps(dict(zip(vals["annotator_id"], vals["value"], strict=True))),
            )
        )
    out = pd.DataFrame(rows, columns=[*key, "n_coders", "n_values", "pair_agreement", "values"])
    out["turn_index"] = out["turn_index"].astype("Int32")
    return out


def wide_labels(resolved: pd.DataFrame, frame: pd.DataFrame, unit: str, codes: list[str]):
    """One row per turn (or conversation) with one column per code of that unit.

    ``frame`` holds the rows to keep (the exported turns or conversations), so units that
    nobody coded still appear, with empty code columns.
    """
    key = ["conversation_id", "turn_index"] if unit == "turn" else ["conversation_id"]
    sel = resolved[resolved["unit"] == unit] if not resolved.empty else resolved
    if sel.empty:
        wide = frame[key].copy()
    else:
        piv = sel.pivot_table(
            index=key, columns="code_id", values="value", aggfunc="first", dropna=False
        )
        piv.columns = [str(c) for c in piv.columns]
        base = frame[key].copy()
        if unit == "turn":
            base["turn_index"] = base["turn_index"].astype("Int32")
            piv = piv.reset_index()
            piv["turn_index"] = piv["turn_index"].astype("Int32")
        else:
            piv = piv.reset_index()
        wide = base.merge(piv, on=key, how="left")
    for code in codes:
        if code not in wide.columns:
            wide[code] = None
    extra = [c for c in frame.columns if c not in key and c in ("role", "text")]
    if extra:
        wide = wide.merge(frame[[*key, *extra]], on=key, how="left")
    cols = [*key, *extra, *codes]
    return wide[cols].sort_values(key, kind="mergesort").reset_index(drop=True)
