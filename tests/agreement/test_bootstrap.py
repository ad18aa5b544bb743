"""The conversation bootstrap: deterministic under a seed, covers the estimate, narrows."""

from __future__ import annotations

import numpy as np
import pytest

from annotate.agreement import alpha
from annotate.agreement._matrix import coincidences, encode, value_counts
from annotate.agreement.bootstrap import (
    bootstrap_alpha,
    cluster_coincidences,
    resample_multiplicities,
)
from annotate.agreement.distances import delta


def _noisy(n_units: int, seed: int, n_coders: int = 3, q: int = 4, noise: float = 0.25):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, q, n_units)
    data = np.repeat(truth[:, None], n_coders, axis=1)
    flip = rng.random(data.shape) < noise
    data[flip] = rng.integers(0, q, flip.sum())
    return data.astype(float), q


def _ci(data, q, clusters, level="nominal", n_boot=400, seed=7):
    codes, _ = encode(data, np.arange(q))
    counts = value_counts(codes, q)
    return bootstrap_alpha(
        counts, clusters, level=level, d=delta("nominal", q), n_boot=n_boot, seed=seed
    )


def test_bootstrap_cluster_sums_equal_the_coincidence_matrix() -> None:
    data, q = _noisy(60, 1)
    counts = value_counts(encode(data, np.arange(q))[0], q)
    per = cluster_coincidences(counts, np.arange(60) // 4)
    assert per.shape == (15, q * q)
    np.testing.assert_allclose(per.sum(axis=0).reshape(q, q), coincidences(counts))


def test_bootstrap_multiplicities_draw_every_cluster_count_once_per_resample() -> None:
    m = resample_multiplicities(50, 30, np.random.default_rng(0))
    assert m.shape == (30, 50)
    assert (m.sum(axis=1) == 50).all()


def test_bootstrap_is_deterministic_under_a_seed() -> None:
    data, q = _noisy(80, 2)
    a = _ci(data, q, np.arange(80), seed=3)
    b = _ci(data, q, np.arange(80), seed=3)
    c = _ci(data, q, np.arange(80), seed=4)
    assert (a.low, a.high) == (b.low, b.high)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert (a.low, a.high) != (c.low, c.high)


@pytest.mark.parametrize("seed", range(5))
def test_bootstrap_interval_contains_the_estimate(seed) -> None:
    data, q = _noisy(150, seed)
    est = alpha(data, values=np.arange(q))
    ci = _ci(data, q, np.arange(150) // 3)
    assert ci.low <= est <= ci.high


def test_bootstrap_resample_equals_recomputation_on_drawn_conversations() -> None:
    """One resample's alpha equals alpha recomputed on the drawn conversations' units."""
    data, q = _noisy(40, 5)
    clusters = np.arange(40) // 4
    ci = _ci(data, q, clusters, n_boot=3, seed=11)
    mult = resample_multiplicities(10, 3, np.random.default_rng(11))
    for b in range(3):
        rows = np.concatenate(
            [np.flatnonzero(clusters == g).repeat(1) for g in np.repeat(np.arange(10), mult[b])]
        )
        assert ci.samples[b] == pytest.approx(alpha(data[rows], values=np.arange(q)))


def test_bootstrap_ordinal_recomputes_the_metric_per_resample() -> None:
    data, q = _noisy(40, 6)
    clusters = np.arange(40) // 2
    codes, _ = encode(data, np.arange(q))
    ci = bootstrap_alpha(value_counts(codes, q), clusters, level="ordinal", n_boot=3, seed=2)
    mult = resample_multiplicities(20, 3, np.random.default_rng(2))
    for b in range(3):
        rows = np.concatenate(
            [np.flatnonzero(clusters == g) for g in np.repeat(np.arange(20), mult[b])]
        )
        expected = alpha(data[rows], level="ordinal", values=np.arange(q))
        assert ci.samples[b] == pytest.approx(expected)


def test_bootstrap_interval_narrows_with_more_units() -> None:
    small, q = _noisy(60, 8)
    large, _ = _noisy(2400, 8)
    w_small = _ci(small, q, np.arange(60))
    w_large = _ci(large, q, np.arange(2400))
    assert (w_large.high - w_large.low) < 0.5 * (w_small.high - w_small.low)


def test_bootstrap_counts_undefined_resamples() -> None:
    # one disagreeing conversation among constant ones: many resamples have no variation
    data = np.array([[0, 0]] * 9 + [[0, 1]], dtype=float)
    ci = _ci(data, 2, np.arange(10), n_boot=200)
    assert 0 < ci.n_undefined < 200
    assert np.isnan(ci.samples).sum() == ci.n_undefined
