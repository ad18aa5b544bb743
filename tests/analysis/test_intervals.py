"""The nesting, the two-stage bootstrap, BCa intervals and their coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import ai, corpus_of, frame, turn_rows
from scipy import stats

from annotate.analysis import prepare
from annotate.analysis._intervals import interval
from annotate.analysis._nesting import Nesting, nesting_of
from annotate.errors import AnalysisError


def _users_nesting(sizes: list[int]) -> Nesting:
    cluster = np.repeat(np.arange(len(sizes)), sizes)
    return Nesting("users", cluster, np.array([f"u{k}" for k in range(len(sizes))], dtype=object))


def test_intervals_two_stage_weights_draw_users_then_their_conversations() -> None:
    sizes = [1, 3, 6, 2]
    nest = _users_nesting(sizes)
    W = nest.weights(4000, np.random.default_rng(0))
    assert W.shape == (4000, sum(sizes))
    # every replicate draws G users; a user drawn c times contributes c * n_u conversations
    per_user = nest.cluster_sums(W.T).T  # (R, G)
    c = per_user / np.array(sizes)
    np.testing.assert_allclose(c, np.round(c))
    np.testing.assert_allclose(c.sum(axis=1), len(sizes))
    # each conversation is drawn once on average, and within a user the draws spread out
    np.testing.assert_allclose(W.mean(axis=0), 1, atol=0.08)
    big = W[:, 4:10]
    assert (big[per_user[:, 2] > 0].std(axis=1) > 0).mean() > 0.9


def test_intervals_one_conversation_per_user_is_the_plain_cluster_bootstrap() -> None:
    nest = Nesting("users", np.array([2, 0, 1]), np.array(["a", "b", "c"], dtype=object))
    W = nest.weights(2000, np.random.default_rng(1))
    np.testing.assert_allclose(W.sum(axis=1), 3)
    assert set(np.unique(W)) <= {0, 1, 2, 3}


def test_intervals_jackknife_leaves_one_cluster_out() -> None:
    nest = _users_nesting([2, 1, 2])
    values = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 1.0], [4.0, 0.0], [5.0, 2.0]])
    jack = nest.jackknife(values)
    np.testing.assert_allclose(jack[0], values[2:].sum(axis=0))
    np.testing.assert_allclose(jack[1], values[[0, 1, 3, 4]].sum(axis=0))


def test_intervals_nesting_picks_users_when_known(codebook) -> None:
    rows = []
    for c in ("a", "b", "c"):
        rows += turn_rows(c, [ai({"emp": "1"})])
    labels = frame(rows)
    convs = pd.DataFrame({"conversation_id": ["a", "b", "c"], "user_id": ["u1", "u1", None]})
    f = prepare(labels, codebook, corpus=corpus_of(convs))
    nest = nesting_of(f)
    assert nest.level == "users" and nest.n_clusters == 2  # c, without a user, is its own
    assert nesting_of(f, "conversations").n_clusters == 3
    with pytest.raises(AnalysisError, match="E458"):
        nesting_of(prepare(labels, codebook), "users")
    with pytest.raises(AnalysisError, match="E460"):
        nesting_of(f, "turns")


def test_intervals_bca_matches_scipy_on_independent_data() -> None:
    """On independent data (clusters of one) our BCa, fed our resamples and the delete-one
    jackknife, must agree with scipy.stats.bootstrap(method='BCa') up to Monte Carlo error."""
    rng = np.random.default_rng(7)
    x = rng.lognormal(size=40)  # skewed: BCa and percentile differ
    n, B = len(x), 20000
    nest = Nesting("conversations", np.arange(n), np.arange(n).astype(str))
    W = nest.weights(B, np.random.default_rng(8))
    est = np.array([x.mean()])
    reps = (W @ x / W.sum(axis=1))[:, None]
    jack = ((x.sum() - x) / (n - 1))[:, None]
    lo, hi = interval(est, reps, jack, 0.95, "bca")
    ref = stats.bootstrap((x,), np.mean, n_resamples=B, method="BCa", random_state=9)
    width = ref.confidence_interval.high - ref.confidence_interval.low
    # the upper BCa end sits near the 99th percentile of the replicates here, where the Monte
    # Carlo error of either implementation is a few per cent of the width (scipy's own end
    # moves by 0.015 between seeds)
    assert lo[0] == pytest.approx(ref.confidence_interval.low, abs=0.05 * width)
    assert hi[0] == pytest.approx(ref.confidence_interval.high, abs=0.05 * width)
    plo, phi = interval(est, reps, jack, 0.95, "percentile")
    # BCa shifts a right-skewed mean's interval to the right of the percentile interval
    assert lo[0] > plo[0] and hi[0] > phi[0]


def test_intervals_infinite_replicates_give_an_open_upper_bound() -> None:
    reps = np.r_[np.linspace(1, 5, 90), np.full(10, np.inf)][:, None]
    lo, hi = interval(np.array([np.inf]), reps, None, 0.95, "bca")
    assert np.isfinite(lo[0]) and np.isinf(hi[0])
    nan_reps = np.r_[np.linspace(0, 1, 50), np.full(50, np.nan)][:, None]
    lo, hi = interval(np.array([0.5]), nan_reps, None, 0.9, "percentile")
    assert lo[0] == pytest.approx(0.05, abs=0.01) and hi[0] == pytest.approx(0.95, abs=0.01)


def test_intervals_bca_covers_better_than_percentile_with_ten_users() -> None:
    """Coverage of a share (ratio estimator) with 10 users of unequal size and skewed rates,
    300 simulated studies x 1000 two-stage replicates. Measured here (seeded): percentile
    0.907, BCa 0.933 — the percentile interval is too narrow with few clusters, BCa narrows
    the gap but does not close it; hence the W451 warning below 20 clusters
    (docs/methods.md)."""
    rng = np.random.default_rng(11)
    sizes = [1, 1, 2, 2, 3, 3, 4, 4, 6, 8]
    nest = _users_nesting(sizes)
    n_conv = sum(sizes)
    turns = 6
    a, b = 0.6, 2.4  # user rates ~ Beta(0.6, 2.4): mean 0.2, skewed
    truth = a / (a + b)
    hits = {"bca": 0, "percentile": 0}
    R = 300
    for _ in range(R):
        rate = rng.beta(a, b, len(sizes))[nest.cluster]
        num = rng.binomial(turns, rate).astype(float)
        den = np.full(n_conv, float(turns))
        # the estimand is the mean over users of their rates: weight each user equally
        w_user = 1.0 / np.array(sizes, dtype=float)[nest.cluster]
        num, den = num * w_user, den * w_user
        W = nest.weights(1000, rng)
        est = np.array([num.sum() / den.sum()])
        reps = ((W @ num) / (W @ den))[:, None]
        jack = (nest.jackknife(num) / nest.jackknife(den))[:, None]
        for method in hits:
            lo, hi = interval(est, reps, jack, 0.95, method)
            hits[method] += bool(lo[0] <= truth <= hi[0])
    coverage = {k: v / R for k, v in hits.items()}
    # Monte Carlo SE of a coverage of .93 over 300 studies is .015
    assert coverage["bca"] > coverage["percentile"]
    assert coverage["bca"] >= 0.90 and coverage["percentile"] <= 0.93
