"""Cluster (conversation) bootstrap of Krippendorff's alpha.

Method. The units of one conversation (its turns) are not independent, so we resample
*conversations* with replacement (a cluster or "block" bootstrap; Davison & Hinkley 1997,
§3.8; Field & Welsh 2007): each of ``B`` resamples draws ``G`` conversations out of the ``G``
that have pairable units, and alpha is recomputed on the drawn conversations' units. The
interval is the percentile interval (2.5th and 97.5th percentile for 95 %). Resamples in
which alpha is undefined (the drawn values do not vary) are left out and counted.

Speed. Alpha depends on the data only through the coincidence matrix, which is a *sum* of
per-unit contributions. We compute each conversation's contribution once (G, q²); a resample
is a vector of multiplicities (how often each conversation was drawn), so all ``B``
coincidence matrices are one matrix product (B, G) @ (G, q²). The ordinal metric's
differences depend on the margins and are recomputed per resample, vectorised.

This differs from Krippendorff's own bootstrap (Hayes & Krippendorff 2007, the KALPHA macro),
which resamples *pairs of values* from the coincidence matrix, holds the expected disagreement
fixed and reports the probability that alpha falls below a minimum. That scheme treats pairable
values as independent, which turns of one conversation are not; intervals will differ.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from annotate.agreement._matrix import unit_coincidences


class BootstrapInterval(NamedTuple):
    """Percentile interval of a bootstrap, with the resampled values."""

    low: float
    high: float
    samples: np.ndarray  #: shape (n_boot,); NaN where alpha was undefined in the resample
    n_undefined: int


class Resampler:
    """Conversation resamples shared by the rows of one report.

    The draws for a set of conversations depend only on the seed and on the conversation ids
    (sorted), so a code's interval is the same whether or not other codes are in the report,
    and codes coded on the same conversations are resampled jointly (the same resamples).
    """

    def __init__(self, n_boot: int, seed: int | None):
        self.n_boot = n_boot
        self.seed = seed
        self._cache: dict[int, np.ndarray] = {}
        self._jobs: list[Any] = []

    def submit(self, key: str, names: Any, per_cluster: np.ndarray, level: str, d: Any) -> None:
        """Queue one alpha for :meth:`run` (conversations ``names`` sorted, (G, q²) sums)."""
        self._jobs.append((key, [str(n) for n in names], per_cluster, level, d))

    def run(self, confidence: float = 0.95) -> dict[str, BootstrapInterval]:
        """Intervals of every queued alpha; one matrix product per set of conversations."""
        groups: dict[tuple[str, ...], list[Any]] = {}
        for job in self._jobs:
            groups.setdefault(tuple(job[1]), []).append(job)
        out: dict[str, BootstrapInterval] = {}
        for names, jobs in groups.items():
            o_all = self(list(names)) @ np.hstack([j[2] for j in jobs])
            col = 0
            for key, _, per_cluster, level, d in jobs:
                width = per_cluster.shape[1]
                q = round(width**0.5)
                o = o_all[:, col : col + width].reshape(-1, q, q)
                col += width
                dm = None if level == "ordinal" else np.asarray(d, dtype=float)
                out[key] = percentile_interval(_alphas(o, level, dm), confidence)
        self._jobs.clear()
        return out

    def __call__(self, conversations: Sequence[Any]) -> np.ndarray:
        """Multiplicities (n_boot, len(conversations)) as float, for ``conversations`` in
        *sorted* order (the caller labels its clusters by the rank of their id)."""
        names = [str(n) for n in conversations]
        key = hash(tuple(names))
        if key not in self._cache:
            entropy = None
            if self.seed is not None:
                digest = zlib.crc32("\n".join(names).encode("utf-8"))
                entropy = [int(self.seed) & 0xFFFFFFFF, digest]
            rng = np.random.default_rng(np.random.SeedSequence(entropy))
            mult = resample_multiplicities(len(names), self.n_boot, rng)
            self._cache[key] = mult.astype(float)
        return self._cache[key]


def resample_multiplicities(n_clusters: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """How often each cluster is drawn in each resample, shape (n_boot, n_clusters)."""
    draws = rng.integers(0, n_clusters, size=(n_boot, n_clusters))
    draws += (np.arange(n_boot) * n_clusters)[:, None]
    return np.bincount(draws.ravel(), minlength=n_boot * n_clusters).reshape(n_boot, n_clusters)


def cluster_coincidences(counts: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Sum per-unit coincidence contributions by cluster.

    Parameters
    ----------
    counts : ndarray, shape (n_units, q)
    clusters : ndarray of int, shape (n_units,)
        Cluster (conversation) of each unit, values ``0..G-1``.

    Returns
    -------
    ndarray, shape (G, q * q)
    """
    q = counts.shape[1]
    per_unit = unit_coincidences(counts)
    n_clusters = int(clusters.max()) + 1 if len(clusters) else 0
    out = np.zeros((n_clusters, q * q))
    order = np.argsort(clusters, kind="stable")
    sorted_cl = clusters[order]
    starts = np.flatnonzero(np.r_[True, sorted_cl[1:] != sorted_cl[:-1]])
    if len(starts):
        out[sorted_cl[starts]] = np.add.reduceat(per_unit[order], starts, axis=0)
    return out


def _alphas(o: np.ndarray, level: str, d: np.ndarray | None) -> np.ndarray:
    """Alpha of a stack of coincidence matrices (B, q, q); NaN where undefined."""
    n_c = o.sum(axis=2)
    n = n_c.sum(axis=1)
    if level == "ordinal":
        q = o.shape[1]
        cum = np.concatenate([np.zeros((len(o), 1)), np.cumsum(n_c, axis=1)], axis=1)
        lo = np.minimum.outer(np.arange(q), np.arange(q))
        hi = np.maximum.outer(np.arange(q), np.arange(q))
        between = cum[:, hi + 1] - cum[:, lo]
        dd = (between - (n_c[:, :, None] + n_c[:, None, :]) / 2.0) ** 2
        observed = (o * dd).sum(axis=(1, 2))
        expected = np.einsum("bc,bck,bk->b", n_c, dd, n_c)
    else:
        assert d is not None  # the metric's squared differences (every level but ordinal)
        observed = (o * d).sum(axis=(1, 2))
        expected = np.einsum("bc,ck,bk->b", n_c, d, n_c)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = 1.0 - (n - 1.0) * observed / expected
    return np.where((expected > 1e-12) & (n >= 2), value, np.nan)


def bootstrap_alpha(
    counts: Any,
    clusters: Any,
    *,
    level: str = "nominal",
    d: Any = None,
    n_boot: int = 1000,
    seed: int | np.random.SeedSequence | None = None,
    confidence: float = 0.95,
    multiplicities: Any = None,
) -> BootstrapInterval:
    """Percentile interval of alpha from a conversation (cluster) bootstrap.

    Parameters
    ----------
    counts : array_like, shape (n_units, q)
        Value counts per unit (see :func:`annotate.agreement._matrix.value_counts`).
    clusters : array_like, shape (n_units,)
        Cluster (conversation) label of each unit; units of one cluster are drawn together.
    level : {"nominal", "ordinal", "interval", "ratio", "set"}
        Used to recompute the ordinal metric per resample; otherwise ``d`` is used.
    d : array_like, shape (q, q)
        Squared differences ``δ²`` (required unless ``level="ordinal"``).
    n_boot : int
        Number of resamples.
    seed : int or SeedSequence, optional
        Seed of the random generator (same seed → same interval).
    confidence : float
        Coverage of the percentile interval.
    multiplicities : array_like, shape (n_boot, G), optional
        Pre-drawn resamples: how often each of the ``G`` clusters with pairable units (in
        sorted order of their labels) is drawn; overrides ``seed`` (see :class:`Resampler`).

    Returns
    -------
    BootstrapInterval

    Examples
    --------
    >>> counts = np.array([[2, 0], [0, 2], [1, 1], [2, 0], [0, 2], [2, 0]])
    >>> ci = bootstrap_alpha(counts, np.arange(6), d=1 - np.eye(2), n_boot=200, seed=1)
    >>> bool(ci.low <= 0.7222 <= ci.high), ci.samples.shape
    (True, (200,))
    """
    counts = np.asarray(counts, dtype=float)
    keep = counts.sum(axis=1) >= 2
    _, cl = np.unique(np.asarray(clusters)[keep], return_inverse=True)
    per_cluster = cluster_coincidences(counts[keep], cl.ravel())
    q = counts.shape[1]
    if multiplicities is None:
        rng = np.random.default_rng(seed)
        multiplicities = resample_multiplicities(len(per_cluster), n_boot, rng)
    mult = np.asarray(multiplicities, dtype=float)
    o = (mult @ per_cluster).reshape(len(mult), q, q)
    dm = None if level == "ordinal" else np.asarray(d, dtype=float)
    return percentile_interval(_alphas(o, level, dm), confidence)


def percentile_interval(samples: np.ndarray, confidence: float = 0.95) -> BootstrapInterval:
    """Percentile interval of the defined (non-NaN) bootstrap values."""
    ok = samples[~np.isnan(samples)]
    if len(ok) == 0:
        return BootstrapInterval(np.nan, np.nan, samples, len(samples))
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(ok, [tail, 100.0 - tail])
    return BootstrapInterval(float(low), float(high), samples, int(len(samples) - len(ok)))
