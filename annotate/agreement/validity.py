"""Is an LLM coder good enough to stand in for a person? Gating, and validity against a reference.

**Gating** (:func:`gating`), per LLM coder and code, from the ``raters`` partition
(:func:`annotate.agreement.raters.rater_agreement`). An LLM coder may stand in for a person on a
code when both hold:

1. the lower bound of its ``human-llm`` alpha interval is at or above ``threshold`` (default
   .667, Krippendorff's lowest value for even tentative conclusions), so that its agreement
   with the humans is acceptable with 95 % confidence, not only on average; and
2. its ``human-llm`` alpha is not below the humans' own alpha by more than ``margin`` (default
   .05): a model that agrees with people much less than they agree with each other would
   change the data, even above the threshold.

This is the comparison LACA recommends (LLM-assisted content analysis: compare the model's
agreement with the human coders to the coders' agreement with each other on the same
reliability sample; Chew et al. 2023, arXiv:2306.14924), made concrete with Krippendorff's
threshold and an interval. The threshold and margin are the analyst's choice; report them.

**Validity** (:func:`validity`, :func:`confusion`): each LLM coder against a reference (the
adjudicated ``gold`` labels, or the humans' majority on units where one value has the most
votes): accuracy, precision, recall and F1 per code (binary codes: of the present value; other
codes: macro-averaged over values; set codes: micro-averaged over value memberships), and the
confusion matrix.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from annotate.errors import AgreementError, Errors

GATING_COLUMNS = (
    "coder",
    "code_id",
    "unit",
    "role",
    "human_alpha",
    "human_low",
    "human_high",
    "llm_alpha",
    "llm_low",
    "llm_high",
    "difference",
    "meets_threshold",
    "within_margin",
    "may_stand_in",
    "reason",
)
REFERENCES = ("gold", "majority")
_KEY = ["conversation_id", "turn_index", "unit", "code_id"]


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def gating(table: pd.DataFrame, *, threshold: float = 0.667, margin: float = 0.05) -> pd.DataFrame:
    """Per LLM coder and code: may the model stand in for a person? (see the module docstring)

    Parameters
    ----------
    table : DataFrame
        The table of a :class:`~annotate.agreement.raters.RatersReport` (with intervals:
        ``bootstrap`` > 0).
    threshold : float
        Minimum lower bound of the human-llm alpha interval.
    margin : float
        How far the human-llm alpha may lie below the humans' alpha.

    Returns
    -------
    DataFrame with :data:`GATING_COLUMNS`; ``reason`` says why a code does not pass.
    """
    if not 0 <= threshold <= 1 or not 0 <= margin <= 1:
        raise AgreementError(
            Errors.E404.format(
                option="threshold/margin", value=(threshold, margin), allowed="numbers from 0 to 1"
            )
        )
    key = ["code_id", "unit", "role"]
    human = table[table["raters"] == "human"].set_index(key)
    rows = []
    for r in table[table["raters"] == "human-llm"].itertuples(index=False):
        h = (
            human.loc[(r.code_id, r.unit, r.role)]
            if (r.code_id, r.unit, r.role) in human.index
            else None
        )
        h_alpha = _num(h["alpha"]) if h is not None else float("nan")
        low = _num(r.alpha_low)
        meets = bool(low == low and low >= threshold)
        within = bool(h_alpha == h_alpha and r.alpha == r.alpha and r.alpha >= h_alpha - margin)
        reasons = []
        if r.alpha != r.alpha:
            reasons.append(f"human-llm alpha undefined ({r.reason or 'no data'})")
        elif low != low:
            reasons.append("no interval (run with bootstrap > 0)")
        elif not meets:
            reasons.append(f"lower bound {low:.3f} < {threshold:.3f}")
        if h_alpha != h_alpha:
            reasons.append("the humans' alpha is undefined: nothing to compare with")
        elif r.alpha == r.alpha and not within:
            reasons.append(
                f"{r.alpha:.3f} is {h_alpha - r.alpha:.3f} below the humans' {h_alpha:.3f} "
                f"(margin {margin:.3f})"
            )
        rows.append(
            {
                "coder": r.coder,
                "code_id": r.code_id,
                "unit": r.unit,
                "role": r.role,
                "human_alpha": h_alpha,
                "human_low": _num(h["alpha_low"]) if h is not None else float("nan"),
                "human_high": _num(h["alpha_high"]) if h is not None else float("nan"),
                "llm_alpha": r.alpha,
                "llm_low": low,
                "llm_high": _num(r.alpha_high),
                "difference": r.alpha - h_alpha,
                "meets_threshold": meets,
                "within_margin": within,
                "may_stand_in": meets and within,
                "reason": "; ".join(reasons) or None,
            }
        )
    return pd.DataFrame(rows, columns=list(GATING_COLUMNS))


# --- validity against a reference ------------------------------------------------------------


def reference_labels(labels: pd.DataFrame, humans: list[str], reference: str) -> pd.DataFrame:
    """The reference value per unit and code: ``gold`` events, or the humans' majority
    (the one value with the most human votes; ties give no reference)."""
    if reference not in REFERENCES:
        raise AgreementError(
            Errors.E404.format(option="reference", value=reference, allowed=", ".join(REFERENCES))
        )
    cols = [*_KEY, "role", "value"]
    if reference == "gold":
        ref = labels[labels["annotator_id"] == "gold"]
        return ref[cols].drop_duplicates(_KEY).reset_index(drop=True)
    h = labels[labels["annotator_id"].isin(humans) & labels["value"].notna()]
    votes = h.groupby([*_KEY, "role", "value"], dropna=False).size().rename("n").reset_index()
    top = votes.groupby(_KEY, dropna=False)["n"].transform("max")
    best = votes[votes["n"] == top]
    unique = best.groupby(_KEY, dropna=False)["value"].transform("size") == 1
    return best[unique][cols].reset_index(drop=True)


def _pairs(labels: pd.DataFrame, ref: pd.DataFrame, coder: str, code_id: str) -> pd.DataFrame:
    mine = labels[(labels["annotator_id"] == coder) & (labels["code_id"] == code_id)]
    mine = mine[[*_KEY, "value"]].rename(columns={"value": "predicted"})
    theirs = ref[ref["code_id"] == code_id][[*_KEY, "value"]].rename(columns={"value": "reference"})
    return theirs.merge(mine, on=_KEY).dropna(subset=["reference", "predicted"])


def _sets(values: pd.Series) -> list[frozenset]:
    return [frozenset(json.loads(v)) for v in values]


def confusion(
    labels: pd.DataFrame,
    codebook: Any,
    coder: str,
    code_id: str,
    *,
    humans: list[str] | None = None,
    reference: str = "majority",
) -> pd.DataFrame:
    """The confusion matrix of one LLM coder on one code: reference values (rows) × the
    coder's values (columns), over the code's values (set codes: one row per value id with
    its membership counts ``tp, fp, fn, tn``)."""
    code = codebook.code(code_id)
    humans = humans if humans is not None else _humans(labels, [coder])
    pairs = _pairs(labels, reference_labels(labels, humans, reference), coder, code_id)
    ids = list(code.value_ids)
    if code.level == "set":
        ref, pred = _sets(pairs["reference"]), _sets(pairs["predicted"])
        rows = []
        for v in ids:
            r = np.array([v in s for s in ref], dtype=bool)
            p = np.array([v in s for s in pred], dtype=bool)
            rows.append(
                {
                    "value": v,
                    "tp": int((r & p).sum()),
                    "fp": int((~r & p).sum()),
                    "fn": int((r & ~p).sum()),
                    "tn": int((~r & ~p).sum()),
                }
            )
        return pd.DataFrame(rows)
    matrix = pd.crosstab(
        pd.Categorical(pairs["reference"].astype(str), categories=ids),
        pd.Categorical(pairs["predicted"].astype(str), categories=ids),
        dropna=False,
    )
    matrix.index.name, matrix.columns.name = "reference", coder
    return matrix


def _prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if tp + fn else float("nan")
    f = 2 * p * r / (p + r) if p == p and r == r and p + r else float("nan")
    return p, r, f


def _scores(code: Any, pairs: pd.DataFrame) -> dict[str, float | str]:
    if code.level == "set":
        ref, pred = _sets(pairs["reference"]), _sets(pairs["predicted"])
        tp = sum(len(a & b) for a, b in zip(ref, pred, strict=True))
        fp = sum(len(b - a) for a, b in zip(ref, pred, strict=True))
        fn = sum(len(a - b) for a, b in zip(ref, pred, strict=True))
        p, r, f = _prf(tp, fp, fn)
        acc = float(np.mean([a == b for a, b in zip(ref, pred, strict=True)]))
        return {"accuracy": acc, "precision": p, "recall": r, "f1": f, "averaging": "micro"}
    ref, pred = pairs["reference"].astype(str), pairs["predicted"].astype(str)
    acc = float((ref == pred).mean())
    if code.level == "binary":
        v = code.present_value
        p, r, f = _prf(
            ((ref == v) & (pred == v)).sum(),
            ((ref != v) & (pred == v)).sum(),
            ((ref == v) & (pred != v)).sum(),
        )
        return {
            "accuracy": acc,
            "precision": p,
            "recall": r,
            "f1": f,
            "averaging": f"present ({v})",
        }
    per = []
    for v in code.value_ids:  # macro over the values that occur in either column
        if not ((ref == v).any() or (pred == v).any()):
            continue
        per.append(
            _prf(
                ((ref == v) & (pred == v)).sum(),
                ((ref != v) & (pred == v)).sum(),
                ((ref == v) & (pred != v)).sum(),
            )
        )
    arr = np.array(per, dtype=float) if per else np.full((1, 3), np.nan)
    p, r, f = (
        float(np.nanmean(arr[:, i])) if np.isfinite(arr[:, i]).any() else float("nan")
        for i in range(3)
    )
    return {"accuracy": acc, "precision": p, "recall": r, "f1": f, "averaging": "macro"}


def _humans(labels: pd.DataFrame, llm_coders: Any) -> list[str]:
    skip = {*map(str, llm_coders), "gold"}
    return sorted(str(c) for c in pd.unique(labels["annotator_id"]) if str(c) not in skip)


def validity(
    labels: pd.DataFrame,
    codebook: Any,
    llm_coders: Any,
    *,
    reference: str = "majority",
    codes: Any = None,
) -> pd.DataFrame:
    """Accuracy, precision, recall and F1 of each LLM coder per code, against a reference.

    Parameters
    ----------
    labels : DataFrame
        The unit-labels table (``Project.unit_labels()``), gold labels included for
        ``reference="gold"``.
    codebook : Codebook
    llm_coders : iterable of str
    reference : {"majority", "gold"}
        The humans' majority value per unit (ties left out), or the adjudicated gold labels.
    codes : list of str, optional
        Only these codes.

    Returns
    -------
    DataFrame: coder, code_id, unit, level, reference, n_units, accuracy, precision, recall,
    f1, averaging (what precision/recall/F1 are of).
    """
    llm_list = [str(c) for c in llm_coders]
    humans = _humans(labels, llm_list)
    ref = reference_labels(labels, humans, reference)
    chosen = [codebook.code(c) for c in codes] if codes is not None else list(codebook.codes)
    rows = []
    for coder in llm_list:
        for code in chosen:
            pairs = _pairs(labels, ref, coder, code.id)
            nan = float("nan")
            scores = (
                _scores(code, pairs)
                if len(pairs)
                else dict.fromkeys(("accuracy", "precision", "recall", "f1"), nan)
                | {"averaging": None}
            )
            rows.append(
                {
                    "coder": coder,
                    "code_id": code.id,
                    "unit": code.unit,
                    "level": code.level,
                    "reference": reference,
                    "n_units": len(pairs),
                }
                | scores
            )
    cols = [
        "coder",
        "code_id",
        "unit",
        "level",
        "reference",
        "n_units",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "averaging",
    ]
    return pd.DataFrame(rows, columns=cols)
