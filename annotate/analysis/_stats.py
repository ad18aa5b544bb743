"""Small, pure statistical cores (numpy only), each with its formula source.

2x2 tables use the cell names of Bakeman & Quera (2011, ch. 9)::

                 target   not target
    given          a          b        | r1 = a + b
    not given      c          d        |
                  c1 = a + c           | n
"""

from __future__ import annotations

import math

import numpy as np


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(den == 0, np.nan, out)


def yule_q(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Yule's Q = (ad - bc) / (ad + bc) (Yule 1912; Bakeman & Quera 2011, §9.5); NaN if 0/0.

    >>> float(yule_q(10, 5, 5, 10))
    0.6
    """
    a, b, c, d = (np.asarray(v, dtype=float) for v in (a, b, c, d))
    return _div(a * d - b * c, a * d + b * c)


def odds_ratio(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Odds ratio ad / (bc); inf when bc = 0 < ad, NaN when both are 0."""
    a, b, c, d = (np.asarray(v, dtype=float) for v in (a, b, c, d))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a * d) / (b * c)
    return np.where((a * d == 0) & (b * c == 0), np.nan, out)


def expected_11(r1: np.ndarray, c1: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Expected count of the (given, target) cell under independence: e = r1 c1 / n."""
    return _div(np.asarray(r1, float) * np.asarray(c1, float), n)


def adjusted_residual(a: np.ndarray, r1: np.ndarray, c1: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Haberman's adjusted residual of the (given, target) cell.

    z = (o - e) / sqrt(e (1 - r1/n) (1 - c1/n)), e = r1 c1 / n (Haberman 1973; Allison &
    Liker 1982; Bakeman & Quera 2011, eq. 9.4). Standard normal under independence; NaN when
    a margin is 0 or n (the variance is 0). For a K x L lag table this is the residual of
    each cell, since it only uses the cell and its margins.

    >>> round(float(adjusted_residual(762, 1557, 1246, 2757)), 2)  # Agresti 2007, Table 2.5
    4.5
    """
    a, r1, c1, n = (np.asarray(v, dtype=float) for v in (a, r1, c1, n))
    e = expected_11(r1, c1, n)
    var = e * (1 - _div(r1, n)) * (1 - _div(c1, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (a - e) / np.sqrt(var)
    return np.where(var > 0, z, np.nan)


def normal_two_sided(z: np.ndarray) -> np.ndarray:
    """Two-sided p of a standard normal z: erfc(|z| / sqrt 2)."""
    z = np.asarray(z, dtype=float)
    flat = [math.erfc(abs(v) / math.sqrt(2)) if np.isfinite(v) else np.nan for v in z.ravel()]
    return np.array(flat).reshape(z.shape)


def chi2_p(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Pearson chi-square test of a 2x2 table (1 df, no continuity correction).

    X2 = n (ad - bc)^2 / (r1 r2 c1 c2) (Agresti 2013, §3.2); p = P(chi2_1 >= X2) =
    erfc(sqrt(X2 / 2)). NaN when a margin is 0.
    """
    a, b, c, d = (np.asarray(v, dtype=float) for v in (a, b, c, d))
    n = a + b + c + d
    den = (a + b) * (c + d) * (a + c) * (b + d)
    x2 = _div(n * (a * d - b * c) ** 2, den)
    flat = [math.erfc(math.sqrt(v / 2)) if np.isfinite(v) else np.nan for v in x2.ravel()]
    return np.array(flat).reshape(x2.shape)


def fisher_p(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher exact test of a 2x2 table.

    Sums the hypergeometric probabilities of every table with the same margins that is no more
    likely than the observed one (Fisher 1935; Agresti 2013, §3.5.1; the rule scipy and R use),
    with a relative tolerance of 1e-7 for ties. NaN when a margin is 0.
    """
    r1, r2, c1 = a + b, c + d, a + c
    n = r1 + r2
    if min(r1, r2, c1, n - c1) == 0:
        return math.nan
    lo, hi = max(0, c1 - r2), min(r1, c1)

    def logp(x: int) -> float:
        return _lchoose(r1, x) + _lchoose(r2, c1 - x) - _lchoose(n, c1)

    obs = logp(a)
    total = 0.0
    for x in range(lo, hi + 1):
        lp = logp(x)
        if lp <= obs + 1e-7 * abs(obs) + 1e-12:
            total += math.exp(lp)
    return min(1.0, total)


def _lchoose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def pmi(a: np.ndarray, r1: np.ndarray, c1: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Pointwise mutual information log2( P(i,j) / (P(i) P(j)) ) = log2(a n / (r1 c1))
    (Church & Hanks 1990); -inf when a = 0, NaN when a margin is 0."""
    a, r1, c1, n = (np.asarray(v, dtype=float) for v in (a, r1, c1, n))
    ratio = _div(a * n, r1 * c1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log2(ratio)


def jaccard(a: np.ndarray, r1: np.ndarray, c1: np.ndarray) -> np.ndarray:
    """Jaccard index |i and j| / |i or j| = a / (r1 + c1 - a) (Jaccard 1912)."""
    a, r1, c1 = (np.asarray(v, dtype=float) for v in (a, r1, c1))
    return _div(a, r1 + c1 - a)


def p_adjust(p: np.ndarray, method: str = "bh") -> np.ndarray:
    """Multiple-testing adjustment of p-values; NaNs are left out and stay NaN.

    ``bh``: Benjamini & Hochberg (1995) step-up, q_(k) = min_{j >= k} m p_(j) / j.
    ``holm``: Holm (1979) step-down, p_(k) = max_{j <= k} (m - j + 1) p_(j).
    ``none``: unchanged. Adjusted values are capped at 1.
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0 or method == "none":
        return p.copy() if method == "none" else out
    order = ok[np.argsort(p[ok], kind="stable")]
    ranked = p[order]
    k = np.arange(1, m + 1)
    if method == "bh":
        adj = np.minimum.accumulate((m * ranked / k)[::-1])[::-1]
    elif method == "holm":
        adj = np.maximum.accumulate((m - k + 1) * ranked)
    else:
        raise ValueError(method)
    out[order] = np.minimum(adj, 1.0)
    return out


def cohen_h(p1: np.ndarray, p2: np.ndarray) -> np.ndarray:
    """Cohen's h = 2 asin(sqrt p1) - 2 asin(sqrt p2) (Cohen 1988, §6.2)."""
    p1, p2 = np.asarray(p1, dtype=float), np.asarray(p2, dtype=float)
    return 2 * np.arcsin(np.sqrt(p1)) - 2 * np.arcsin(np.sqrt(p2))


def bootstrap_weights(n: int, replicates: int, rng: np.random.Generator) -> np.ndarray:
    """Resampling counts for the cluster (conversation) bootstrap: shape (replicates, n).

    Row b says how often each of the n clusters is drawn in replicate b (n draws with
    replacement; Efron & Tibshirani 1993, ch. 6; Davison & Hinkley 1997, §3.8 for clusters).
    """
    if n == 0 or replicates == 0:
        return np.zeros((replicates, n), dtype=np.float32)
    draws = rng.integers(0, n, size=(replicates, n)) + (np.arange(replicates) * n)[:, None]
    return (
        np.bincount(draws.ravel(), minlength=replicates * n)
        .reshape(replicates, n)
        .astype(np.float32)
    )


def percentile_interval(reps: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval over axis 0, ignoring NaN replicates (Efron 1979)."""
    if reps.shape[0] == 0:
        shape = reps.shape[1:]
        return np.full(shape, np.nan), np.full(shape, np.nan)
    alpha = (1 - level) / 2
    ok = np.isfinite(reps)
    lo = np.full(reps.shape[1:], np.nan)
    hi = np.full(reps.shape[1:], np.nan)
    cols = ok.any(axis=0)
    if cols.any():
        sub = np.where(ok[:, cols], reps[:, cols], np.nan)
        lo[cols], hi[cols] = np.nanquantile(sub, [alpha, 1 - alpha], axis=0)
    return lo, hi
