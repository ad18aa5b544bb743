"""The planner of human coding beside an LLM coder: sample sizes checked by simulation and
against Krippendorff's (2004) table of reliability sample sizes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from annotate.analysis.corrected import _t, cluster_variance, ppi_estimates
from annotate.analysis.llm_planning import (
    human_sample_from_estimate,
    human_sample_size,
    phi_from_accuracy,
    reliability_sample_needs,
)
from annotate.errors import AnalysisError


def test_planner_phi_is_the_correlation_of_the_labels() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(400_000) < 0.2
    f = np.where(y, rng.random(len(y)) < 0.85, rng.random(len(y)) < 0.10)
    assert phi_from_accuracy(0.2, 0.85, 0.90) == pytest.approx(np.corrcoef(y, f)[0, 1], abs=0.005)


def test_planner_sample_size_gives_the_width_by_simulation() -> None:
    """Independent units: with the planned number of human-coded units, the corrected 95 %
    interval has the target width on average (300 studies)."""
    width, p, sens, spec, N = 0.05, 0.2, 0.85, 0.90, 20_000
    plan = human_sample_size(
        width, prevalence=p, sensitivity=sens, specificity=spec, corpus_units=N
    )
    n = plan["units"]
    assert plan["conversations"] == n and n < plan["units_human_only"]
    rng = np.random.default_rng(4)
    widths = []
    for _ in range(300):
        y = (rng.random(N) < p).astype(float)
        f = np.where(y == 1, rng.random(N) < sens, rng.random(N) < 1 - spec).astype(float)
        w = np.zeros(N)
        w[rng.choice(N, n, replace=False)] = 1.0
        est = ppi_estimates(f, np.ones(N), y, w)
        var = cluster_variance(est.inf_corrected, np.arange(N), n)
        widths.append(2 * _t(0.95, n - 1) * math.sqrt(var))
    assert np.mean(widths) == pytest.approx(width, rel=0.04)
    # humans only: the textbook n = z² p (1 − p) / (w/2)²
    z = 1.959964
    assert plan["units_human_only"] == math.ceil(z**2 * p * (1 - p) / (width / 2) ** 2)


def test_planner_design_effect_and_impossible_targets() -> None:
    one = human_sample_size(0.04, prevalence=0.3, correlation=0.8)
    grouped = human_sample_size(
        0.04, prevalence=0.3, correlation=0.8, units_per_conversation=5, icc=0.25
    )
    assert grouped["design_effect"] == 2.0
    assert grouped["units"] == pytest.approx(2 * one["units"], abs=2)
    assert grouped["conversations"] == math.ceil(grouped["units"] / 5)
    tiny = human_sample_size(0.01, prevalence=0.3, correlation=0.95, corpus_units=5_000)
    assert tiny["conversations"] == math.inf and "larger corpus" in tiny["note"]
    with pytest.raises(AnalysisError, match="E460"):
        human_sample_size(0.04, prevalence=0.3)
    with pytest.raises(AnalysisError, match="E460"):
        human_sample_size(2, prevalence=0.3, correlation=0.5)


def test_planner_from_a_pilot_estimate() -> None:
    """A pilot of 60 human-coded conversations: the plan for a narrower interval, checked by
    coding that many in a simulation of the same design."""
    rng = np.random.default_rng(8)

    def study(n_h):
        users = 400
        user = np.repeat(np.arange(users), 2)
        m = rng.integers(2, 8, len(user))
        Y = rng.binomial(m, rng.beta(2, 8, users)[user])
        F = rng.binomial(Y, 0.85) + rng.binomial(m - Y, 0.1)
        w = np.zeros(len(user))
        w[rng.choice(len(user), n_h, replace=False)] = 1.0
        est = ppi_estimates(F, m, Y, w, cluster=user)
        g_h = len(np.unique(user[w > 0]))
        var = cluster_variance(est.inf_corrected, user, g_h)
        corpus = cluster_variance(est.inf_corpus_part, user, g_h)
        half = _t(0.95, g_h - 1) * math.sqrt(var)
        return pd.DataFrame(
            [
                {
                    "unit": "turn",
                    "code_id": "bid",
                    "value": "1",
                    "item": "bid",
                    "n_human_conversations": n_h,
                    "var_human_part": var - corpus,
                    "var_corpus_part": corpus,
                    "corrected_ci_low": -half,
                    "corrected_ci_high": half,
                }
            ]
        )

    pilot = study(60)
    target = 0.6 * float(pilot["corrected_ci_high"].iloc[0] - pilot["corrected_ci_low"].iloc[0])
    plan = human_sample_from_estimate(pilot, target)
    needed = int(plan["conversations_needed"].iloc[0])
    assert needed > 60 and plan["additional"].iloc[0] == needed - 60
    got = [float(study(needed)["corrected_ci_high"].iloc[0]) * 2 for _ in range(40)]
    assert np.mean(got) == pytest.approx(target, rel=0.15)


def test_reliability_needs_krippendorffs_table() -> None:
    """Krippendorff (2004, Table 11.3; 2019, ch. 12), p = .05: a least frequent value of .25
    needs 81 units for alpha .667 and 139 for .800."""
    table = pd.DataFrame(
        [
            {
                "code_id": "a",
                "unit": "turn",
                "role": "user",
                "n_units": 100,
                "distribution": {"0": 0.75, "1": 0.25},
            },
            {
                "code_id": "b",
                "unit": "turn",
                "role": "user",
                "n_units": 100,
                "distribution": {"0": 0.97, "1": 0.03},
            },
            {
                "code_id": "c",
                "unit": "conversation",
                "role": None,
                "n_units": 40,
                "distribution": {"x": 1.0},
            },
        ]
    )
    out = reliability_sample_needs(table).set_index("code_id")
    assert out.loc["a", "required_units"] == 81 and out.loc["a", "can_assess"]
    assert (
        reliability_sample_needs(table, alpha_min=0.8)
        .set_index("code_id")
        .loc["a", "required_units"]
        == 139
    )
    assert not out.loc["b", "can_assess"] and out.loc["b", "units_short"] > 400
    assert out.loc["b", "least_value"] == "1" and out.loc["b", "p_min"] == 0.03
    assert out.loc["b", "few_cases"]  # 3 informative units: below the display's floor
    assert not out.loc["c", "can_assess"] and "one value only" in out.loc["c", "reason"]
