"""Comparisons between two groups of conversations (e.g. two models or personas).

For each item, p1 and p2 are the shares of :func:`annotate.analysis.prevalence` in group 1
and group 2 (share of turns, or of conversations). Effect sizes: the risk difference
p1 - p2; the odds ratio (p1 / (1 - p1)) / (p2 / (1 - p2)); Cohen's h = 2 asin sqrt(p1) -
2 asin sqrt(p2) (Cohen 1988, §6.2; |h| = 0.2 small, 0.5 medium, 0.8 large). Intervals are
percentile intervals of a stratified conversation bootstrap (conversations resampled within
each group; Davison & Hinkley 1997, §3.8), so the nesting of turns in conversations is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from annotate.analysis._frame import LabelFrame, conv_sums, prepare
from annotate.analysis._groups import check_option, conversation_groups, weights_for
from annotate.analysis._prevalence import _selected
from annotate.analysis._stats import cohen_h, percentile_interval
from annotate.errors import AnalysisError, Errors

if TYPE_CHECKING:
    from annotate.codebook import Codebook
    from annotate.corpus import Corpus


def compare_groups(
    labels: pd.DataFrame | LabelFrame,
    codebook: Codebook,
    *,
    by: str,
    groups: Sequence[str] | None = None,
    corpus: Corpus | None = None,
    annotator: str | None = None,
    codes: Sequence[str] | None = None,
    unit: str = "turn",
    role: str | None = None,
    bootstrap: int = 1000,
    level: float = 0.95,
    seed: int | None = None,
) -> pd.DataFrame:
    """Difference in prevalence between two groups, with effect sizes and bootstrap CIs.

    Parameters
    ----------
    by
        A conversation attribute (as in :func:`annotate.analysis.prevalence`): ``model``, a
        conversation-level code, a conversations column or a meta key.
    groups
        The two values of ``by`` to compare (group 1, group 2); default the two values present
        (E459 if there are not exactly two).
    unit
        ``"turn"`` (share of turns) or ``"conversation"`` (share of conversations with the
        item; conversation-level codes are included here).
    role
        Only turns of this role (turn-level items).

    Returns
    -------
    pandas.DataFrame
        ``by``, ``group_1``, ``group_2``, ``unit``, ``code_id``, ``value``, ``item``, ``n_1``,
        ``n_2``, ``share_1``, ``share_2``, ``risk_difference`` (+ ``rd_ci_low/high``),
        ``odds_ratio`` (+ ``or_ci_low/high``), ``cohen_h`` (+ ``h_ci_low/high``).
    """
    check_option("unit", unit, ("turn", "conversation"))
    frame = prepare(labels, codebook, corpus=corpus, annotator=annotator)
    values = conversation_groups(frame, by)
    present = sorted({v for v in values.tolist() if v is not None})
    chosen = list(groups) if groups is not None else present
    if len(chosen) != 2 or any(g not in present for g in chosen):
        raise AnalysisError(Errors.E459.format(by=by, found=", ".join(present) or "(none)"))
    mask = None if role is None else (frame.turns["role"] == role).to_numpy()
    num, den = conv_sums(frame, mask)
    sel = _selected(frame, codes, "turn")
    num, den = num[:, sel], den[:, sel]
    items = [frame.items[k] for k in sel]
    if unit == "conversation":
        num, den = (num > 0).astype(float), (den > 0).astype(float)
        csel = _selected(frame, codes, "conversation")
        C = frame.C[:, csel]
        num = np.hstack([num, (C == 1).astype(float)])
        den = np.hstack([den, (C >= 0).astype(float)])
        items += [frame.conv_items[k] for k in csel]
    rng = np.random.default_rng(seed)
    est: list[np.ndarray] = []
    reps: list[np.ndarray] = []
    ns: list[np.ndarray] = []
    for g in chosen:
        rows = np.flatnonzero(values == g)
        w = weights_for(rows, bootstrap, rng)
        cnt, n = num[rows].sum(0), den[rows].sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            est.append(np.where(n > 0, cnt / np.where(n > 0, n, 1), np.nan))
            if bootstrap:
                reps.append((w @ num[rows]) / (w @ den[rows]))
        ns.append(n.astype(int))
    p1, p2 = est
    out = pd.DataFrame(
        {
            "by": by,
            "group_1": chosen[0],
            "group_2": chosen[1],
            "unit": unit,
            "code_id": [it.code_id for it in items],
            "value": [it.value for it in items],
            "item": [it.name for it in items],
            "n_1": ns[0],
            "n_2": ns[1],
            "share_1": p1,
            "share_2": p2,
            "risk_difference": p1 - p2,
            "odds_ratio": _odds_ratio(p1, p2),
            "cohen_h": cohen_h(p1, p2),
        }
    )
    if bootstrap:
        r1, r2 = reps
        for name, stat in (
            ("rd", r1 - r2),
            ("or", _odds_ratio(r1, r2)),
            ("h", cohen_h(r1, r2)),
        ):
            lo, hi = percentile_interval(np.asarray(stat, dtype=float), level)
            out[f"{name}_ci_low"], out[f"{name}_ci_high"] = lo, hi
    out = out[(out["n_1"] > 0) & (out["n_2"] > 0)].reset_index(drop=True)
    return out


def _odds_ratio(p1: np.ndarray, p2: np.ndarray) -> np.ndarray:
    p1, p2 = np.asarray(p1, dtype=float), np.asarray(p2, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (p1 / (1 - p1)) / (p2 / (1 - p2))
