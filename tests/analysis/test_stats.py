"""The statistical cores against published values, hand counts and independent oracles."""

from __future__ import annotations

import numpy as np
import pytest

from annotate.analysis._stats import (
    adjusted_residual,
    bootstrap_weights,
    chi2_p,
    cohen_h,
    expected_11,
    fisher_p,
    jaccard,
    odds_ratio,
    p_adjust,
    percentile_interval,
    pmi,
    yule_q,
)


def test_stats_adjusted_residual_published_agresti_2007() -> None:
    # Agresti (2007) An Introduction to Categorical Data Analysis, 2nd ed., Table 2.5 (p. 39):
    # gender x party identification (GSS); printed expected counts and standardized (adjusted)
    # residuals, the same Haberman formula Bakeman & Quera use for lag tables.
    table = np.array([[762, 327, 468], [484, 239, 477]])
    r1 = np.repeat(table.sum(1), 3)
    c1 = np.tile(table.sum(0), 2)
    n = table.sum()
    z = adjusted_residual(table.ravel(), r1, c1, n)
    assert np.round(z, 2).tolist() == [4.50, 0.70, -5.32, -4.50, -0.70, 5.32]
    e = expected_11(r1, c1, n)
    assert np.round(e, 1).tolist() == [703.7, 319.6, 533.7, 542.3, 246.4, 411.3]


def test_stats_adjusted_residual_hand_2x2() -> None:
    # a=2, r1=2, c1=2, n=4: e = 1, var = 1 * 1/2 * 1/2, z = 1 / 0.5 = 2
    assert adjusted_residual(2, 2, 2, 4) == pytest.approx(2.0)
    assert np.isnan(adjusted_residual(2, 4, 2, 4))  # a margin equal to n: undefined


def test_stats_yule_q_and_odds_ratio_hand() -> None:
    assert yule_q(10, 5, 5, 10) == pytest.approx((100 - 25) / (100 + 25))
    assert odds_ratio(10, 5, 5, 10) == pytest.approx(4.0)
    assert yule_q(3, 0, 0, 4) == pytest.approx(1.0)
    assert np.isnan(yule_q(0, 3, 0, 4))


def test_stats_jaccard_pmi_hand() -> None:
    # 4 units: i on 2, j on 2, both on 1 -> jaccard 1/3, pmi log2(1*4/(2*2)) = 0
    assert jaccard(1, 2, 2) == pytest.approx(1 / 3)
    assert pmi(1, 2, 2, 4) == pytest.approx(0.0)
    assert pmi(2, 2, 2, 4) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "table", [(8, 2, 1, 5), (3, 1, 1, 3), (0, 5, 5, 0), (10, 0, 3, 7), (1, 9, 11, 3), (2, 7, 8, 2)]
)
def test_stats_fisher_matches_scipy(table: tuple[int, int, int, int]) -> None:
    stats = pytest.importorskip("scipy.stats")
    a, b, c, d = table
    expected = stats.fisher_exact([[a, b], [c, d]], alternative="two-sided")[1]
    assert fisher_p(a, b, c, d) == pytest.approx(expected, rel=1e-9)


def test_stats_fisher_tea_tasting() -> None:
    # Fisher's lady tasting tea, [[3, 1], [1, 3]]: two-sided p = 0.4857 (Agresti 2013, §3.5.2)
    assert fisher_p(3, 1, 1, 3) == pytest.approx(34 / 70, rel=1e-9)


def test_stats_chi2_matches_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    for a, b, c, d in [(20, 30, 25, 25), (100, 50, 40, 80), (12, 8, 9, 11)]:
        expected = stats.chi2_contingency([[a, b], [c, d]], correction=False)[1]
        assert chi2_p(a, b, c, d) == pytest.approx(expected, rel=1e-9)


def test_stats_p_adjust_hand_and_statsmodels() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    # BH by hand: sorted .005,.01,.03,.04 (m=4): 4*.005/1=.02, 4*.01/2=.02, 4*.03/3=.04, .04
    assert p_adjust(p, "bh")[[3, 0, 2, 1]].tolist() == pytest.approx([0.02, 0.02, 0.04, 0.04])
    # Holm by hand: 4*.005=.02, 3*.01=.03, 2*.03=.06, 1*.04 -> max-accumulate .06
    assert p_adjust(p, "holm")[[3, 0, 2, 1]].tolist() == pytest.approx([0.02, 0.03, 0.06, 0.06])
    assert np.isnan(p_adjust(p, "bh")[4])
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    rng = np.random.default_rng(3)
    q = rng.uniform(0, 0.2, 40)
    for ours, theirs in (("bh", "fdr_bh"), ("holm", "holm")):
        expected = multitest.multipletests(q, method=theirs)[1]
        assert p_adjust(q, ours) == pytest.approx(expected)


def test_stats_cohen_h_hand() -> None:
    # Cohen (1988): h = phi1 - phi2 with phi = 2 asin sqrt(p); p = .5 vs .5 -> 0
    assert cohen_h(0.5, 0.5) == pytest.approx(0.0)
    assert cohen_h(0.65, 0.45) == pytest.approx(2 * np.arcsin(0.65**0.5) - 2 * np.arcsin(0.45**0.5))


def test_stats_bootstrap_weights_draw_n_each_replicate() -> None:
    w = bootstrap_weights(7, 50, np.random.default_rng(0))
    assert w.shape == (50, 7)
    assert (w.sum(axis=1) == 7).all()
    same = bootstrap_weights(7, 50, np.random.default_rng(0))
    assert (w == same).all()


def test_stats_percentile_interval_ignores_nan() -> None:
    reps = np.array([[1.0, np.nan], [2.0, np.nan], [3.0, np.nan]])
    lo, hi = percentile_interval(reps, 0.5)
    assert lo[0] == pytest.approx(1.5) and hi[0] == pytest.approx(2.5)
    assert np.isnan(lo[1])
