"""Bootstrap intervals (BCa and percentile) and the small-sample warnings of the analyses.

**BCa** (bias-corrected and accelerated; Efron 1987; Efron & Tibshirani 1993, ch. 14;
DiCiccio & Efron 1996). With ``B`` replicates θ*_b of an estimate θ̂:

* bias correction z0 = Φ⁻¹(p0), p0 = (#{θ*_b < θ̂} + ½ #{θ*_b = θ̂}) / B (mid-rank, so
  ties do not push z0 to ±∞; p0 is kept within [1/(B+1), B/(B+1)]);
* acceleration a = Σ (θ̄₍.₎ − θ₍ᵢ₎)³ / (6 [Σ (θ̄₍.₎ − θ₍ᵢ₎)²]^{3/2}) from the jackknife
  estimates θ₍ᵢ₎ that leave out one top-level cluster (user or conversation) at a time
  (the cluster jackknife; Davison & Hinkley 1997, §3.8 and §5.3);
* the interval is the (α₁, α₂) quantiles of the replicates, α_k = Φ(z0 + (z0 + z_k) /
  (1 − a (z0 + z_k))), z_k = Φ⁻¹(α/2), Φ⁻¹(1 − α/2).

BCa is second-order accurate where the percentile interval is first-order accurate, which
matters with few clusters and skewed statistics (shares near 0 or 1, ratios). Where the
estimate is not finite (an odds ratio of ∞) or the jackknife is degenerate, the percentile
interval is used. Replicates that are NaN (the statistic is undefined in that resample, e.g.
a group drew no conversation) are left out; ±∞ replicates are kept, so an odds ratio whose
replicates reach ∞ gets an upper bound of ∞ rather than a too-short interval.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from annotate.analysis._nesting import MIN_CLUSTERS, Nesting
from annotate.errors import AnalysisError, Errors, Warnings

#: ``interval=`` values
INTERVALS = ("bca", "percentile")
#: fewer positive units than this (or positives in fewer than MIN_POSITIVE_CLUSTERS clusters)
#: make an estimate unstable: W452 and a ``few_positives`` flag
MIN_POSITIVES = 10
MIN_POSITIVE_CLUSTERS = 3


def check_interval(method: str) -> None:
    if method not in INTERVALS:
        raise AnalysisError(
            Errors.E460.format(
                option="interval", value=method, problem=f"use one of {', '.join(INTERVALS)}"
            )
        )


def _column_quantiles(reps: np.ndarray, q_low: np.ndarray, q_high: np.ndarray) -> tuple:
    """Per-column quantiles (linear interpolation) of reps (B, k) ignoring NaN."""
    srt = np.sort(reps, axis=0)  # NaN sort last; ±inf keep their order
    n_ok = np.isfinite(reps).sum(axis=0) + np.isinf(reps).sum(axis=0)
    out = []
    cols = np.arange(reps.shape[1])
    for q in (q_low, q_high):
        pos = np.clip(q, 0, 1) * np.maximum(n_ok - 1, 0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(n_ok - 1, 0))
        frac = pos - lo
        a, b = srt[lo, cols], srt[hi, cols]
        with np.errstate(invalid="ignore"):
            val = np.where(frac > 0, a + frac * (b - a), a)
        val = np.where(np.isinf(a) & (a == b), a, val)
        out.append(np.where(n_ok > 0, val, np.nan))
    return out[0], out[1]


def interval(
    estimate: np.ndarray,
    reps: np.ndarray,
    jack: np.ndarray | None,
    level: float = 0.95,
    method: str = "bca",
) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of each estimate from replicates ``reps`` (B, ...) and, for BCa, the
    leave-one-cluster-out estimates ``jack`` (G, ...); shapes of low/high = estimate's."""
    estimate = np.asarray(estimate, dtype=float)
    shape = estimate.shape
    est = estimate.reshape(-1)
    reps = np.asarray(reps, dtype=float)
    if reps.shape[0] == 0 or reps.size == 0:
        nan = np.full(shape, np.nan)
        return nan, nan.copy()
    reps = reps.reshape(len(reps), -1)
    alpha = (1 - level) / 2
    z = np.array([ndtri(alpha), ndtri(1 - alpha)])
    q_low = np.full(est.shape, alpha)
    q_high = np.full(est.shape, 1 - alpha)
    if method == "bca" and jack is not None and len(jack) > 1:
        jack = np.asarray(jack, dtype=float).reshape(len(jack), -1)
        valid = ~np.isnan(reps)
        b = valid.sum(axis=0)
        with np.errstate(invalid="ignore"):
            less = ((reps < est) & valid).sum(axis=0)
            equal = ((reps == est) & valid).sum(axis=0)
        p0 = (less + 0.5 * equal) / np.maximum(b, 1)
        p0 = np.clip(p0, 1 / (b + 1), b / (b + 1))
        z0 = ndtri(p0)
        finite_j = np.isfinite(jack).all(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            fin = np.isfinite(jack)
            mean_j = np.where(fin, jack, 0.0).sum(axis=0) / np.maximum(fin.sum(axis=0), 1)
            d = mean_j - jack
            num = (d**3).sum(axis=0)
            den = 6 * ((d**2).sum(axis=0)) ** 1.5
            a = np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
        ok = np.isfinite(est) & finite_j & np.isfinite(z0) & (b > 0)
        for k, qs in enumerate((q_low, q_high)):
            with np.errstate(invalid="ignore", divide="ignore"):
                adj = ndtr(z0 + (z0 + z[k]) / (1 - a * (z0 + z[k])))
            qs[ok] = adj[ok]
    lo, hi = _column_quantiles(reps, q_low, q_high)
    return lo.reshape(shape), hi.reshape(shape)


def outside() -> int:
    """The stacklevel of the first caller outside annotate (warnings point at user code)."""
    import sys

    level = 1
    f: Any = sys._getframe(1)
    while f is not None and f.f_globals.get("__name__", "").startswith("annotate"):
        level += 1
        f = f.f_back
    return level


def warn(message: str) -> None:
    """warnings.warn attributed to the first caller outside annotate."""
    warnings.warn(message, stacklevel=outside())


def warn_few_clusters(analysis: str, nest: Nesting, n_clusters: int | None = None) -> bool:
    """W451 when fewer than MIN_CLUSTERS top-level clusters stand behind an interval."""
    n = nest.n_clusters if n_clusters is None else n_clusters
    if n >= MIN_CLUSTERS:
        return False
    warn(Warnings.W451.format(analysis=analysis, n=n, level=nest.level, minimum=MIN_CLUSTERS))
    return True


def few_positives(count: np.ndarray, positive_clusters: np.ndarray) -> np.ndarray:
    """Items whose estimate rests on too few positives (see MIN_POSITIVES)."""
    count = np.asarray(count)
    return (count < MIN_POSITIVES) | (np.asarray(positive_clusters) < MIN_POSITIVE_CLUSTERS)


def warn_few_positives(analysis: str, items: Sequence[str], level: str) -> None:
    """W452 naming the items with too few positives (at most eight named)."""
    items = list(dict.fromkeys(items))
    if not items:
        return
    shown = ", ".join(items[:8]) + (f" and {len(items) - 8} more" if len(items) > 8 else "")
    warn(
        Warnings.W452.format(
            analysis=analysis,
            items=shown,
            minimum=MIN_POSITIVES,
            clusters=MIN_POSITIVE_CLUSTERS,
            level=level,
        )
    )
