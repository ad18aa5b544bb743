"""Lag-sequential analysis across turns (Bakeman & Quera 2011, ch. 9-11; GSEQ conventions).

A *transition* at lag k pairs a given turn with the turn k positions later in the same
conversation (positions count the user and assistant turns, so system and tool turns are
skipped). Optionally the given turn must have role ``given_role`` and the target turn
``target_role`` (e.g. user -> next assistant turn, which in alternating logs is lag 1).

For a given item i and a target item j, over the transitions on which both codes were coded:
``count`` x_ij, ``given_n`` x_i+, ``target_n`` x_+j and ``n`` N, with

* transitional probability P(j | i) = x_ij / x_i+,
* expected count e_ij = x_i+ x_+j / N (independence),
* Haberman's adjusted residual z = (x_ij - e_ij) / sqrt(e_ij (1 - x_i+/N)(1 - x_+j/N))
  (Haberman 1973; Allison & Liker 1982; Bakeman & Quera 2011, eq. 9.4), whose two-sided normal
  p-value is reported (unreliable when expected counts are small: ``small_expected``),
* Yule's Q of the 2x2 collapse (i vs not i) x (j vs not j) (Bakeman & Quera 2011, §9.5).

For one nominal code (mutually exclusive and exhaustive values) this is exactly the K x L lag
table of GSEQ; for binary codes each cell is its own 2x2 table, since binary codes co-occur.

**Clustered inference.** The pooled residual treats every transition as independent, but
transitions of one conversation (and one user) are not: under a clustered null it rejects far
more often than its nominal level. ``p_value`` is therefore the **cluster-robust score test**
of the (given, target) association (:func:`annotate.analysis._models.cluster_score_test`:
score U = Σ (x − x̄)(y − ȳ) over the transitions, variance from the sums per user, else per
conversation, t with G − 1 df); ``p_pooled`` keeps the normal p-value of the adjusted residual
for comparison with GSEQ. With ``model=True`` each cell also gets the odds ratio of a logistic
GEE ``target[t+lag] ~ given[t]`` with bias-reduced robust errors (exchangeable within users);
:func:`sequence_model` conditions on earlier lags and the target's own history.

**Permutation test.** Pooling all transitions of a corpus into one table treats turns as
independent, and a pair of codes that merely occur in the same *conversations* (supportive
conversations have both more support bids and more empathy) shows up as a "sequence". The
permutation test therefore shuffles, within each conversation, which given-role turn supplies
the antecedent codes (the turn order of the given role is permuted; target turns stay in
place). Each conversation keeps its own code frequencies and its alternation of speakers, so
the null hypothesis is "no sequential contingency beyond each conversation's base rates".
Permuting whole conversations' assignments across conversations would instead keep the
between-conversation confound in the null distribution's complement, so it would not answer
the sequential question. The statistic is the joint count x_ij; the two-sided p-value is
min(1, 2 min(P(X* >= x), P(X* <= x))) with the +1 correction of Phipson & Smyth (2010).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from annotate.analysis import _models
from annotate.analysis._frame import LabelFrame, prepare, resolve_items
from annotate.analysis._groups import check_option
from annotate.analysis._models import cluster_score_test
from annotate.analysis._nesting import Nesting, nesting_of
from annotate.analysis._stats import (
    adjusted_residual,
    expected_11,
    normal_two_sided,
    p_adjust,
    yule_q,
)
from annotate.errors import AnalysisError, Errors

if TYPE_CHECKING:
    from annotate.analysis._family import Family
    from annotate.codebook import Codebook
    from annotate.corpus import Corpus

CORRECTIONS = ("bh", "holm", "none")


def lag_table(
    counts: Any, given: Sequence[str] | None = None, target: Sequence[str] | None = None
) -> pd.DataFrame:
    """Lag-sequential statistics of a given x target frequency table (one ME&E code set).

    Parameters
    ----------
    counts
        Array of shape (K, L): counts[i, j] = transitions from given code i to target code j.
    given, target
        Code names of the rows and columns (default ``0..K-1`` / ``0..L-1``).

    Returns
    -------
    pandas.DataFrame
        One row per cell: ``given``, ``target``, ``count``, ``given_n``, ``target_n``, ``n``,
        ``expected``, ``probability``, ``adjusted_residual``, ``p_value``, ``yule_q``.

    Examples
    --------
    Agresti (2007, Table 2.5) prints adjusted residuals 4.50, 0.70, -5.32 for the first row:

    >>> t = lag_table([[762, 327, 468], [484, 239, 477]])
    >>> [round(z, 2) for z in t["adjusted_residual"][:3]]
    [4.5, 0.7, -5.32]
    """
    x = np.asarray(counts, dtype=float)
    if x.ndim != 2:
        raise AnalysisError(
            Errors.E460.format(option="counts", value=x.shape, problem="need a 2-D table")
        )
    k, m = x.shape
    given = list(given) if given is not None else [str(i) for i in range(k)]
    target = list(target) if target is not None else [str(j) for j in range(m)]
    r1 = np.repeat(x.sum(axis=1), m)
    c1 = np.tile(x.sum(axis=0), k)
    n = np.full(k * m, x.sum())
    a = x.ravel()
    return _cells(a, r1, c1, n, np.repeat(given, m), np.tile(target, k))


def _cells(a, r1, c1, n, given, target) -> pd.DataFrame:
    a, r1, c1, n = (np.asarray(v, dtype=float) for v in (a, r1, c1, n))
    b, c = r1 - a, c1 - a
    d = n - a - b - c
    z = adjusted_residual(a, r1, c1, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        prob = np.where(r1 > 0, a / np.where(r1 > 0, r1, 1), np.nan)
    expected = expected_11(r1, c1, n)
    return pd.DataFrame(
        {
            "given": given,
            "target": target,
            "count": a.astype(int),
            "given_n": r1.astype(int),
            "target_n": c1.astype(int),
            "n": n.astype(int),
            "expected": expected,
            "probability": prob,
            "adjusted_residual": z,
            "p_value": normal_two_sided(z),
            "p_pooled": normal_two_sided(z),
            "yule_q": yule_q(a, b, c, d),
            "small_expected": expected < 5,
        }
    )


def transitions(
    frame: LabelFrame, lag: int = 1, given_role: str | None = None, target_role: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (given turn, target turn) of every lag-``lag`` transition."""
    if lag < 1:
        raise AnalysisError(Errors.E460.format(option="lag", value=lag, problem="must be >= 1"))
    turns = frame.turns
    seq = turns["seq"].to_numpy()
    conv = turns["conv"].to_numpy()
    ok = seq >= 0
    width = int(seq.max(initial=0)) + lag + 1
    key = np.where(ok, conv * width + seq, -1)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    want = key + lag
    pos = np.searchsorted(sorted_key, want)
    pos = np.minimum(pos, len(sorted_key) - 1) if len(sorted_key) else pos
    hit = ok & (len(sorted_key) > 0)
    if len(sorted_key):
        hit &= sorted_key[pos] == want
    t_rows = np.flatnonzero(hit)
    u_rows = order[pos[hit]] if len(sorted_key) else t_rows
    roles = turns["role"].to_numpy()
    keep = np.ones(len(t_rows), dtype=bool)
    if given_role is not None:
        keep &= roles[t_rows] == given_role
    if target_role is not None:
        keep &= roles[u_rows] == target_role
    return t_rows[keep], u_rows[keep]


def _counts(
    gp: np.ndarray, gc: np.ndarray, tp: np.ndarray, tc: np.ndarray
) -> tuple[np.ndarray, ...]:
    gp, gc, tp, tc = (v.astype(np.float32) for v in (gp, gc, tp, tc))
    return gp.T @ tp, gp.T @ tc, gc.T @ tp, gc.T @ tc


def _permutation_p(
    frame: LabelFrame,
    t_rows: np.ndarray,
    given_present: np.ndarray,
    tp: np.ndarray,
    observed: np.ndarray,
    permutations: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Two-sided permutation p of the joint counts (see the module docstring).

    The given turns are laid out as a (stratum x position) grid, stratum = (conversation,
    role); each replicate permutes the valid positions of every row at once (random keys,
    padding sorted last), so no Python loop runs over conversations.
    """
    roles = pd.factorize(frame.turns["role"].to_numpy())[0]
    rows, inv = np.unique(t_rows, return_inverse=True)
    m = tp.shape[1]
    tsum = np.zeros((len(rows), m))
    for j in range(m):
        tsum[:, j] = np.bincount(inv, weights=tp[:, j], minlength=len(rows))
    g = given_present[rows].astype(np.float64)
    k = g.shape[1]
    _, stratum, counts = np.unique(
        frame.conv[rows] * 8 + roles[rows], return_inverse=True, return_counts=True
    )
    stratum = stratum.ravel()
    order = np.argsort(stratum, kind="stable")
    n_s, width = len(counts), int(counts.max())
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    pos = np.arange(len(rows)) - starts[stratum[order]]
    g_pad = np.zeros((n_s, width, k))
    t_pad = np.zeros((n_s * width, m))
    valid = np.zeros((n_s, width), dtype=bool)
    g_pad[stratum[order], pos] = g[order]
    t_pad[stratum[order] * width + pos] = tsum[order]
    valid[stratum[order], pos] = True
    ge = np.zeros(observed.shape)
    le = np.zeros(observed.shape)
    chunk = max(1, 4_000_000 // (n_s * width * max(k, 1)))
    srow = np.arange(n_s)[None, :, None]
    done = 0
    while done < permutations:
        b = min(chunk, permutations - done)
        keys = rng.random((b, n_s, width))
        keys[:, ~valid] = np.inf
        perm = np.argsort(keys, axis=2)
        shuffled = g_pad[srow, perm].reshape(b, n_s * width, k)
        joint = np.transpose(shuffled, (0, 2, 1)) @ t_pad
        ge += (joint >= observed - 1e-9).sum(axis=0)
        le += (joint <= observed + 1e-9).sum(axis=0)
        done += b
    upper = (ge + 1) / (permutations + 1)
    lower = (le + 1) / (permutations + 1)
    return np.minimum(1.0, 2 * np.minimum(upper, lower))


def lag_sequential(
    labels: pd.DataFrame | LabelFrame,
    codebook: Codebook,
    *,
    corpus: Corpus | None = None,
    annotator: str | None = None,
    lag: int = 1,
    given: Sequence[str] | None = None,
    target: Sequence[str] | None = None,
    given_role: str | None = None,
    target_role: str | None = None,
    permutations: int = 0,
    seed: int | None = None,
    correction: str = "bh",
    nesting: str = "auto",
    model: bool = False,
    level: float = 0.95,
    family: Family | None = None,
) -> pd.DataFrame:
    """Lag-k transition statistics between turn items (see the module docstring).

    Parameters
    ----------
    labels, codebook, corpus, annotator
        As in :func:`annotate.analysis.prevalence`.
    lag
        Distance in user/assistant turns (1 = the next turn).
    given, target
        Codes or items (``CODE=VALUE``) at the given and target turn; default all coded items.
    given_role, target_role
        Only transitions from a turn of this role / to a turn of this role.
    permutations
        Number of within-conversation permutations (0: none); adds ``p_permutation``.
    seed
        Seed of the permutations.
    correction
        Multiple-testing correction of ``p_value`` across the cells: ``bh``, ``holm``, ``none``.
    nesting
        ``"auto"`` (users when known, else conversations), ``"users"``, ``"conversations"``:
        the clusters of the score test and the model.
    model
        Add the odds ratio of a logistic GEE per cell (``model_odds_ratio``, interval,
        ``model_p``, what was fitted).
    level
        Confidence level of the model intervals.
    family
        A :class:`~annotate.analysis.Family` the cluster-robust tests join.

    Returns
    -------
    pandas.DataFrame
        One row per (given, target) pair coded together on at least one transition, with the
        columns of :func:`lag_table` plus ``lag``, ``given_role``, ``target_role``,
        ``z_cluster`` and ``p_value`` (cluster-robust score test), ``p_pooled`` (the pooled
        residual's p, turns as if independent), ``p_adjusted``, ``clusters``, ``n_clusters``
        (and ``p_permutation``, ``p_permutation_adjusted``; model columns with ``model=True``).
    """
    check_option("correction", correction, CORRECTIONS)
    frame = prepare(labels, codebook, corpus=corpus, annotator=annotator)
    gsel = resolve_items(frame, given, "turn")
    tsel = resolve_items(frame, target, "turn")
    t_rows, u_rows = transitions(frame, lag, given_role, target_role)
    Xg = frame.X[:, gsel]
    gpres, gcoded = Xg == 1, Xg >= 0
    Xt = frame.X[u_rows][:, tsel]
    names_g = [frame.items[k].name for k in gsel]
    names_t = [frame.items[k].name for k in tsel]
    nest = nesting_of(frame, nesting)
    out = _table(
        frame,
        t_rows,
        gpres,
        gcoded,
        Xt == 1,
        Xt >= 0,
        names_g,
        names_t,
        lag=lag,
        given_role=given_role,
        target_role=target_role,
        permutations=permutations,
        seed=seed,
        correction=correction,
        nest=nest,
    )
    if model and len(out):
        out = _cell_models(frame, out, t_rows, u_rows, gsel, tsel, nest, level, lag)
    out["test_label"] = [
        f"lag {lag}: {g} -> {t}" for g, t in zip(out["given"], out["target"], strict=True)
    ]
    if family is not None:
        out = family.add("lag_sequential", out)
    return out


def _cell_models(
    frame: LabelFrame,
    out: pd.DataFrame,
    t_rows: np.ndarray,
    u_rows: np.ndarray,
    gsel: list[int],
    tsel: list[int],
    nest: Nesting,
    level: float,
    lag: int,
) -> pd.DataFrame:
    """A logistic GEE target[t+lag] ~ given[t] per cell (odds ratio with robust interval)."""
    names = [it.name for it in frame.items]
    cols: dict[str, list[Any]] = {
        k: [] for k in ("model_odds_ratio", "model_ci_low", "model_ci_high", "model_p")
    }
    meta = []
    for g, t in zip(out["given"], out["target"], strict=True):
        gi, ti = names.index(g), names.index(t)
        xg, yt = frame.X[t_rows, gi], frame.X[u_rows, ti]
        ok = (xg >= 0) & (yt >= 0)
        X = pd.DataFrame({"Intercept": 1.0, f"{g}[t]": (xg[ok] == 1).astype(float)})
        fit = _models.gee(
            (yt[ok] == 1).astype(float),
            X,
            nest.cluster[frame.conv[t_rows[ok]]],
            formula=f"{t}[t+{lag}] ~ {g}[t]",
            clusters=nest.level,
            level=level,
        )
        term = fit.term(f"{g}[t]")
        cols["model_odds_ratio"].append(np.exp(term["estimate"]))
        cols["model_ci_low"].append(np.exp(term["ci_low"]))
        cols["model_ci_high"].append(np.exp(term["ci_high"]))
        cols["model_p"].append(term["p_value"])
        meta.append(fit.fields())
    out = out.assign(**cols)
    meta_df = pd.DataFrame(meta, index=out.index)
    return pd.concat([out, meta_df.drop(columns=[c for c in meta_df if c in out])], axis=1)


def _table(
    frame: LabelFrame,
    t_rows: np.ndarray,
    gpres: np.ndarray,
    gcoded: np.ndarray,
    tp: np.ndarray,
    tc: np.ndarray,
    names_g: list[str],
    names_t: list[str],
    *,
    lag: int,
    given_role: str | None,
    target_role: str | None,
    permutations: int,
    seed: int | None,
    correction: str,
    nest: Nesting,
) -> pd.DataFrame:
    """Cells for given indicators over all turn rows (gpres/gcoded) and target indicators."""
    A, R1, C1, N = _counts(gpres[t_rows], gcoded[t_rows], tp, tc)
    k, m = len(names_g), len(names_t)
    out = _cells(
        A.ravel(), R1.ravel(), C1.ravel(), N.ravel(), np.repeat(names_g, m), np.tile(names_t, k)
    )
    out.insert(2, "lag", lag)
    out.insert(3, "given_role", given_role)
    out.insert(4, "target_role", target_role)
    cluster = nest.cluster[frame.conv[t_rows]]
    n_clusters = len(np.unique(cluster))
    z, p = cluster_score_test(gpres[t_rows], gcoded[t_rows], tp, tc, cluster, n_clusters)
    out["z_cluster"] = z.ravel()
    out["p_value"] = p.ravel()
    out["clusters"] = nest.level
    out["n_clusters"] = n_clusters
    # a code paired with itself is a real (autocorrelation) cell at lag >= 1: it is kept
    keep = (out["n"] > 0).to_numpy()
    out["p_adjusted"] = np.nan
    out.loc[keep, "p_adjusted"] = p_adjust(out.loc[keep, "p_value"].to_numpy(), correction)
    if permutations > 0 and len(t_rows):
        rng = np.random.default_rng(seed)
        pp = _permutation_p(frame, t_rows, gpres, tp, A, permutations, rng)
        out["p_permutation"] = pp.ravel()
        out["p_permutation_adjusted"] = np.nan
        out.loc[keep, "p_permutation_adjusted"] = p_adjust(
            out.loc[keep, "p_permutation"].to_numpy(), correction
        )
    out["correction"] = correction
    return out[keep].reset_index(drop=True)
