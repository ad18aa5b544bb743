"""Co-occurrence of codes within turns and within conversations (codebook-research.md §b.3).

For each pair of items (i, j) of different codes, the 2x2 table counts the units coded for
both codes: a = both present, b = i only, c = j only, d = neither (n = a + b + c + d). Within
turns the unit is a turn; within conversations it is a conversation, where a turn-level item
is present if any of the conversation's turns has it, and conversation-level codes join in.

Statistics: Jaccard a / (a + b + c) (Jaccard 1912); Yule's Q (ad - bc)/(ad + bc) (Yule 1912);
the odds ratio ad / bc; pointwise mutual information log2(a n / ((a + b)(a + c))) (Church &
Hanks 1990); a p-value from Fisher's exact test when any expected count is below 5, else
Pearson's chi-square with 1 df (Cochran 1954; Agresti 2013, §3.2-3.5); and a multiple-testing
correction across all pairs of the table: Benjamini & Hochberg (1995) by default, or Holm
(1979). Pairs are tests of association, not of sequence; turns within a conversation are not
independent, so treat the p-values as screening values (codebook-research.md §b.8).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.analysis._frame import LabelFrame, conv_sums, prepare, resolve_items
from annotate.analysis._groups import check_option
from annotate.analysis._stats import (
    chi2_p,
    expected_11,
    fisher_p,
    jaccard,
    odds_ratio,
    p_adjust,
    pmi,
    yule_q,
)

if TYPE_CHECKING:
    from annotate.codebook import Codebook
    from annotate.corpus import Corpus

TESTS = ("auto", "fisher", "chi2")
CORRECTIONS = ("bh", "holm", "none")


def cooccurrence(
    labels: pd.DataFrame | LabelFrame,
    codebook: Codebook,
    *,
    corpus: Corpus | None = None,
    annotator: str | None = None,
    unit: str = "turn",
    codes: Sequence[str] | None = None,
    test: str = "auto",
    correction: str = "bh",
) -> pd.DataFrame:
    """Pairwise co-occurrence of items within turns or within conversations.

    Parameters
    ----------
    labels, codebook, corpus, annotator
        As in :func:`annotate.analysis.prevalence`.
    unit
        ``"turn"`` (both items on the same turn) or ``"conversation"`` (both in the same
        conversation).
    codes
        Codes or items to pair; default every coded item.
    test
        ``"auto"`` (Fisher if the smallest expected count is below 5, else chi-square),
        ``"fisher"`` or ``"chi2"``.
    correction
        ``"bh"`` (Benjamini–Hochberg FDR, default), ``"holm"`` or ``"none"``.

    Returns
    -------
    pandas.DataFrame
        One row per pair (item_a, item_b) coded together on at least one unit: ``unit``,
        ``item_a``, ``item_b``, ``code_a``, ``code_b``, ``n``, ``n_a``, ``n_b``, ``n_ab``,
        ``expected_ab``, ``jaccard``, ``yule_q``, ``odds_ratio``, ``pmi``, ``test``,
        ``p_value``, ``p_adjusted``, ``correction``.
    """
    check_option("unit", unit, ("turn", "conversation"))
    check_option("test", test, TESTS)
    check_option("correction", correction, CORRECTIONS)
    frame = prepare(labels, codebook, corpus=corpus, annotator=annotator)
    present, coded, items = _indicators(frame, unit, codes)
    P = present.astype(np.float64)
    L = coded.astype(np.float64)
    a = P.T @ P
    r1 = P.T @ L  # i present, j coded
    c1 = L.T @ P  # i coded, j present
    n = L.T @ L
    k = len(items)
    iu, ju = np.triu_indices(k, 1)
    same = np.array([items[i].code_id == items[j].code_id for i, j in zip(iu, ju, strict=True)])
    keep = ~same & (n[iu, ju] > 0) if len(iu) else np.array([], dtype=bool)
    iu, ju = iu[keep], ju[keep]
    A, R1, C1, N = a[iu, ju], r1[iu, ju], c1[iu, ju], n[iu, ju]
    B, Cc = R1 - A, C1 - A
    D = N - A - B - Cc
    expected = expected_11(R1, C1, N)
    min_expected = np.minimum.reduce(
        [expected, _div(R1 * (N - C1), N), _div((N - R1) * C1, N), _div((N - R1) * (N - C1), N)]
    )
    use_fisher = np.full(len(A), test == "fisher")
    if test == "auto":
        use_fisher = min_expected < 5
    p = chi2_p(A, B, Cc, D)
    for idx in np.flatnonzero(use_fisher):
        p[idx] = fisher_p(int(A[idx]), int(B[idx]), int(Cc[idx]), int(D[idx]))
    out = pd.DataFrame(
        {
            "unit": unit,
            "item_a": [items[i].name for i in iu],
            "item_b": [items[j].name for j in ju],
            "code_a": [items[i].code_id for i in iu],
            "code_b": [items[j].code_id for j in ju],
            "n": N.astype(int),
            "n_a": R1.astype(int),
            "n_b": C1.astype(int),
            "n_ab": A.astype(int),
            "expected_ab": expected,
            "jaccard": jaccard(A, R1, C1),
            "yule_q": yule_q(A, B, Cc, D),
            "odds_ratio": odds_ratio(A, B, Cc, D),
            "pmi": pmi(A, R1, C1, N),
            "test": np.where(use_fisher, "fisher", "chi2"),
            "p_value": p,
        }
    )
    out["p_adjusted"] = p_adjust(out["p_value"].to_numpy(), correction)
    out["correction"] = correction
    return out


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _indicators(
    frame: LabelFrame, unit: str, codes: Sequence[str] | None
) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """(present, coded) boolean matrices (units x items) and the items, for ``unit``."""
    if unit == "turn":
        sel = _pick(frame, codes, "turn")
        X = frame.X[:, sel]
        return X == 1, X >= 0, [frame.items[k] for k in sel]
    num, den = conv_sums(frame)
    sel_t = _pick(frame, codes, "turn")
    sel_c = _pick(frame, codes, "conversation")
    present = np.hstack([num[:, sel_t] > 0, frame.C[:, sel_c] == 1])
    coded = np.hstack([den[:, sel_t] > 0, frame.C[:, sel_c] >= 0])
    items = [frame.items[k] for k in sel_t] + [frame.conv_items[k] for k in sel_c]
    return present, coded, items


def _pick(frame: LabelFrame, codes: Sequence[str] | None, unit: str) -> list[int]:
    if codes is None:
        return resolve_items(frame, None, unit)
    pool = frame.items if unit == "turn" else frame.conv_items
    names = {it.code_id for it in pool} | {it.name for it in pool}
    known = {it.code_id for it in frame.items + frame.conv_items} | {
        it.name for it in frame.items + frame.conv_items
    }
    unknown = [c for c in codes if c not in known]
    if unknown:
        resolve_items(frame, unknown, unit)  # raises E457 with the available names
    return resolve_items(frame, [c for c in codes if c in names], unit)
