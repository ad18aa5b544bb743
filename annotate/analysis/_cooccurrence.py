"""Co-occurrence of codes within turns and within conversations (docs/methods.md).

For each pair of items (i, j) of different codes, the 2x2 table counts the units coded for
both codes: a = both present, b = i only, c = j only, d = neither (n = a + b + c + d). Within
turns the unit is a turn; within conversations it is a conversation, where a turn-level item
is present if any of the conversation's turns has it, and conversation-level codes join in.

Statistics: Jaccard a / (a + b + c) (Jaccard 1912); Yule's Q (ad - bc)/(ad + bc) (Yule 1912);
the odds ratio ad / bc; pointwise mutual information log2(a n / ((a + b)(a + c))) (Church &
Hanks 1990); a p-value from Fisher's exact test when any expected count is below 5, else
Pearson's chi-square with 1 df (Cochran 1954; Agresti 2013, §3.2-3.5); and a multiple-testing
correction across all pairs of the table: Benjamini & Hochberg (1995) by default, or Holm
(1979). Pairs are tests of association, not of sequence.

Turns of one conversation, and conversations of one user, are not independent: the 2x2 tests
above (kept as ``p_independent``, with ``test`` naming which) treat them as if they were. The
``p_value`` of each pair is therefore the **cluster-robust score test** of the association
(:func:`annotate.analysis._models.cluster_score_test`; clusters = users when the conversations
carry a user_id, else conversations; docs/methods.md), and ``p_adjusted`` corrects
it. With ``model=True`` each pair also gets the odds ratio of a logistic GEE ``b ~ a``
(exchangeable within users, bias-reduced robust errors) with its interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.analysis import _models
from annotate.analysis._frame import LabelFrame, conv_sums, prepare, resolve_items
from annotate.analysis._groups import check_option
from annotate.analysis._models import cluster_score_test
from annotate.analysis._nesting import nesting_of
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
    from annotate.analysis._family import Family
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
    nesting: str = "auto",
    model: bool = False,
    level: float = 0.95,
    family: Family | None = None,
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
    nesting
        ``"auto"`` (users when known), ``"users"`` or ``"conversations"``: the clusters of
        the score test and the model.
    model, level
        Add a logistic GEE odds ratio per pair with its interval (confidence ``level``).
    family
        A :class:`~annotate.analysis.Family` the cluster-robust tests join.

    Returns
    -------
    pandas.DataFrame
        One row per pair (item_a, item_b) coded together on at least one unit: ``unit``,
        ``item_a``, ``item_b``, ``code_a``, ``code_b``, ``n``, ``n_a``, ``n_b``, ``n_ab``,
        ``expected_ab``, ``jaccard``, ``yule_q``, ``odds_ratio``, ``pmi``, ``test``,
        ``p_independent`` (the 2x2 test, units as if independent), ``z_cluster``,
        ``p_value`` (cluster-robust), ``p_adjusted``, ``correction``, ``clusters``,
        ``n_clusters`` (and the model columns with ``model=True``).
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
    out["p_independent"] = out["p_value"]
    nest = nesting_of(frame, nesting)
    conv_of = frame.conv if unit == "turn" else np.arange(frame.n_conversations)
    cluster = nest.cluster[conv_of]
    n_clusters = len(np.unique(cluster))
    z, pc = cluster_score_test(present, coded, present, coded, cluster, n_clusters)
    out["z_cluster"] = z[iu, ju]
    out["p_value"] = pc[iu, ju]
    out["p_adjusted"] = p_adjust(out["p_value"].to_numpy(), correction)
    out["correction"] = correction
    out["clusters"] = nest.level
    out["n_clusters"] = n_clusters
    if model and len(out):
        out = _pair_models(out, present, coded, iu, ju, items, cluster, nest.level, level)
    out["test_label"] = [
        f"{unit}: {a} & {b}" for a, b in zip(out["item_a"], out["item_b"], strict=True)
    ]
    if family is not None:
        out = family.add("cooccurrence", out)
    return out


def _pair_models(
    out: pd.DataFrame,
    present: np.ndarray,
    coded: np.ndarray,
    iu: np.ndarray,
    ju: np.ndarray,
    items: list[Any],
    cluster: np.ndarray,
    clusters: str,
    level: float,
) -> pd.DataFrame:
    est, lo, hi, p, meta = [], [], [], [], []
    for i, j in zip(iu, ju, strict=True):
        ok = coded[:, i] & coded[:, j]
        a, b = items[i].name, items[j].name
        X = pd.DataFrame({"Intercept": 1.0, a: present[ok, i].astype(float)})
        fit = _models.gee(
            present[ok, j].astype(float),
            X,
            cluster[ok],
            formula=f"{b} ~ {a}",
            clusters=clusters,
            level=level,
        )
        t = fit.term(a)
        est.append(np.exp(t["estimate"]))
        lo.append(np.exp(t["ci_low"]))
        hi.append(np.exp(t["ci_high"]))
        p.append(t["p_value"])
        meta.append(fit.fields())
    out = out.assign(model_odds_ratio=est, model_ci_low=lo, model_ci_high=hi, model_p=p)
    meta_df = pd.DataFrame(meta, index=out.index)
    return pd.concat([out, meta_df.drop(columns=[c for c in meta_df if c in out])], axis=1)


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
