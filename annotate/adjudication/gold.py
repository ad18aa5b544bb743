"""Gold labels: adjudicated where adjudicated, otherwise a rule the user chooses.

Input is the unit-labels table (docs/internals.md): one row per (annotator_id, unit,
conversation_id, turn_index, code_id) with the coder's current value, implicit absences made
explicit. Adjudication decisions are rows of the reserved annotator id ``gold``.

Rules for units without an adjudicated value:

``unanimous``
    every coder of the unit gave the same value (a unit coded by one coder is ``single``).
``majority``
    a value given by more than half of the unit's coders (a strict majority).
``plurality``
    the most frequent value, when it is unique.

When a rule finds no value the ``tie`` policy decides: ``"none"`` leaves the gold value empty
and marks the unit ``unresolved`` (the default: a person should decide), ``"absent"`` takes a
binary code's absent value (only for binary codes; others stay unresolved).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from annotate.errors import Errors, ExportError
from annotate.types import GOLD_ID

if TYPE_CHECKING:
    from annotate.project import Project

RULES = ("unanimous", "majority", "plurality")
TIES = ("none", "absent")
KEY = ["unit", "conversation_id", "turn_index", "code_id"]
NO_TURN = -1
_STR = pd.StringDtype("pyarrow")
GOLD_COLUMNS = [
    "annotator_id", "unit", "conversation_id", "turn_index", "role", "code_id", "value",
    "source", "n_coders", "n_agree",
]  # fmt: skip


def resolve_gold(
    labels: pd.DataFrame,
    *,
    rule: str = "majority",
    tie: str = "none",
    absent_values: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Gold labels from every coder's unit labels and the adjudicated rows.

    Parameters
    ----------
    labels : DataFrame
        Unit labels of all coders (columns annotator_id, unit, conversation_id, turn_index,
        role, code_id, value); rows with ``annotator_id == "gold"`` are adjudicated values.
    rule : {"unanimous", "majority", "plurality"}
        How units without an adjudicated value get one.
    tie : {"none", "absent"}
        What happens when the rule finds no value.
    absent_values : dict, optional
        code_id -> absent value of binary codes (needed for ``tie="absent"``).

    Returns
    -------
    DataFrame
        One row per unit and code, columns ``GOLD_COLUMNS``; ``source`` is one of
        ``adjudicated``, ``single``, ``unanimous``, ``majority``, ``plurality``, ``tie-absent``
        or ``unresolved`` (value null). Sorted by conversation, turn, code.

    Examples
    --------
    >>> rows = [("a", "1"), ("b", "1"), ("c", "0")]
    >>> df = pd.DataFrame([dict(annotator_id=a, unit="turn", conversation_id="c1",
    ...     turn_index=0, role="user", code_id="x", value=v) for a, v in rows])
    >>> resolve_gold(df, rule="majority")[["value", "source", "n_agree"]].values.tolist()
    [['1', 'majority', 2]]
    >>> resolve_gold(df, rule="unanimous")[["value", "source"]].values.tolist()
    [[<NA>, 'unresolved']]
    """
    if rule not in RULES:
        raise ExportError(Errors.E501.format(option="rule", value=rule, allowed=", ".join(RULES)))
    if tie not in TIES:
        raise ExportError(Errors.E501.format(option="tie", value=tie, allowed=", ".join(TIES)))
    if labels.empty:
        return pd.DataFrame(columns=GOLD_COLUMNS)
    df = labels.copy()
    # conversation units have no turn: a sentinel keeps the group keys free of NA (joins on NA
    # keys do not match in pandas); it is turned back into NA at the end
    df["turn_index"] = df["turn_index"].astype("Int32").fillna(NO_TURN).astype("int32")
    df = df[df["value"].notna()]
    is_gold = df["annotator_id"] == GOLD_ID
    coders = df[~is_gold]
    adjudicated = df[is_gold]

    counts = (
        coders.groupby([*KEY, "value"], dropna=False, sort=False)
        .size()
        .rename("n_value")
        .reset_index()
    )
    n_coders = coders.groupby(KEY, dropna=False, sort=False).size().rename("n_coders")
    counts = counts.join(n_coders, on=KEY)
    counts = counts.sort_values([*KEY, "n_value", "value"], ascending=[*[True] * 4, False, True])
    top = counts.drop_duplicates(KEY, keep="first").set_index(KEY)
    second = counts[counts.duplicated(KEY, keep="first")].drop_duplicates(KEY).set_index(KEY)
    top["n_second"] = second["n_value"].reindex(top.index).fillna(0).astype(int)

    out = top.reset_index()
    out["n_agree"] = out["n_value"].astype(int)
    out["n_coders"] = out["n_coders"].astype(int)
    out["source"] = _rule_source(out, rule)
    unresolved = out["source"] == "unresolved"
    out.loc[unresolved, "value"] = None
    if tie == "absent" and absent_values:
        fill = out["code_id"].map(absent_values)
        use = unresolved & fill.notna()
        out.loc[use, "value"] = fill[use]
        out.loc[use, "source"] = "tie-absent"

    roles = df.drop_duplicates(KEY).set_index(KEY)["role"]
    if not adjudicated.empty:
        adj = adjudicated.drop_duplicates(KEY, keep="last").set_index(KEY)
        adj_rows = pd.DataFrame(
            {
                "value": adj["value"],
                "source": "adjudicated",
                "n_coders": n_coders.reindex(adj.index).fillna(0).astype(int),
                "n_agree": 0,
            }
        )
        agree = counts.set_index([*KEY, "value"])["n_value"]
        adj_key = pd.MultiIndex.from_arrays(
            [*(adj.index.get_level_values(k) for k in KEY), adj["value"]]
        )
        adj_rows["n_agree"] = agree.reindex(adj_key).fillna(0).astype(int).to_numpy()
        out = out.set_index(KEY)
        out = pd.concat([out[~out.index.isin(adj.index)], adj_rows]).reset_index()
    out["role"] = roles.reindex(pd.MultiIndex.from_frame(out[KEY])).to_numpy()
    out["annotator_id"] = GOLD_ID
    out["turn_index"] = out["turn_index"].astype("Int32").mask(out["turn_index"] == NO_TURN)
    # the dtypes of unit_labels(): missing values are pd.NA whatever pandas' default string is
    out["value"] = out["value"].astype(_STR)
    out["source"] = out["source"].astype(_STR)
    out = out.sort_values(["conversation_id", "turn_index", "unit", "code_id"], na_position="first")
    return out[GOLD_COLUMNS].reset_index(drop=True)


def _rule_source(top: pd.DataFrame, rule: str) -> Any:
    """The source label each unit gets under ``rule`` (vectorised)."""
    n, k, second = top["n_coders"], top["n_agree"], top["n_second"]
    single = n == 1
    unanimous = (k == n) & ~single
    if rule == "unanimous":
        ok = unanimous
        label = "unanimous"
    elif rule == "majority":
        ok = 2 * k > n
        label = "majority"
    else:
        ok = k > second
        label = "plurality"
    source = pd.Series("unresolved", index=top.index, dtype=object)
    source[ok] = label
    source[unanimous] = "unanimous"
    source[single] = "single"
    return source


def gold_summary(gold: pd.DataFrame) -> pd.DataFrame:
    """How the gold labels were obtained: counts per code and source."""
    if gold.empty:
        return pd.DataFrame(columns=["code_id", "source", "n_units"])
    return gold.groupby(["code_id", "source"], sort=True).size().rename("n_units").reset_index()


def llm_coder_ids(project: Project) -> set[str]:
    """The project's coders that are language models (``llm/<id>/coder.json``)."""
    kinds = getattr(project, "coder_kinds", {}) or {}
    return {c for c, kind in kinds.items() if kind == "llm"}


def people_labels(project: Project, labels: pd.DataFrame | None = None) -> pd.DataFrame:
    """``labels`` (default: the project's unit labels) without the LLM coders' labels: gold,
    adjudication and the export's agreement rest on people (an LLM coder's validity is
    measured against them, ``annotate agreement``)."""
    labels = project.unit_labels() if labels is None else labels
    llm = llm_coder_ids(project)
    return labels[~labels["annotator_id"].isin(llm)] if llm else labels


def gold_labels(
    project: Project, *, rule: str = "majority", tie: str = "none", llm: bool = False
) -> pd.DataFrame:
    """The project's gold labels: adjudicated where adjudicated, otherwise ``rule`` over the
    human coders.

    Parameters
    ----------
    rule, tie : str
        See :func:`resolve_gold`.
    llm : bool, default False
        Count the LLM coders' labels in the rule like a person's. Off by default: a model's
        label never makes a unit "unanimous" or outvotes a person.

    Returns the unit-labels shape with ``annotator_id = "gold"`` and the columns ``source``
    (how each value was obtained), ``n_coders`` and ``n_agree``.
    """
    codebook = project.codebook
    absent = {c.id: c.absent_value for c in codebook.codes if c.level == "binary"}
    labels = project.unit_labels() if llm else people_labels(project)
    return resolve_gold(labels, rule=rule, tie=tie, absent_values=absent)
