"""Design-weighted alpha (enriched reliability samples) and the simulation planner."""

from __future__ import annotations

from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest

from annotate.agreement import design_report, plan_design, plan_sample, report, simulate_alpha
from annotate.codebook import load_codebook
from annotate.errors import AgreementError

TOY = Path(__file__).resolve().parents[2] / "codebooks" / "toy.yaml"


@pytest.fixture(scope="module")
def toy():  # type: ignore[no-untyped-def]
    return load_codebook(TOY)


def _labels(data: dict[str, list[tuple[str, str]]]) -> pd.DataFrame:
    """conversation -> [(ann value, bob value) per assistant turn] as unit labels."""
    rows = []
    for cid, turns in data.items():
        for t, pair in enumerate(turns):
            for coder, value in zip(("ann", "bob"), pair, strict=True):
                rows.append((coder, "turn", cid, 2 * t + 1, "assistant", "ai_pressure", value))
    cols = ["annotator_id", "unit", "conversation_id", "turn_index", "role", "code_id", "value"]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.astype({"turn_index": "Int32"})


DATA = {
    "h1": [("1", "1"), ("0", "0")],
    "h2": [("1", "0"), ("1", "1")],
    "h3": [("1", "1"), ("0", "0")],
    "l1": [("0", "0"), ("0", "0")],
    "l2": [("0", "1"), ("0", "0")],
    "l3": [("0", "0"), ("0", "0")],
}


def _weights(low: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "conversation_id": list(DATA),
            "stratum": ["high"] * 3 + ["low"] * 3,
            "weight": [1.0] * 3 + [low] * 3,
        }
    )


def test_equal_weights_give_the_samples_alpha(toy) -> None:
    labels = _labels(DATA)
    table = design_report(labels, toy, _weights(1.0), codes=["ai_pressure"])
    row = table.iloc[0]
    plain = report(labels, toy, codes=["ai_pressure"]).table.iloc[0]
    assert row["sample_alpha"] == plain["alpha"]
    assert row["design_alpha"] == pytest.approx(plain["alpha"], abs=1e-12)
    assert (row["rare_value"], row["rare_values"]) == ("1", 8)


def test_integer_weights_are_replication(toy) -> None:
    """Weight 3 on the low stratum = its conversations coded three times (checked with the
    krippendorff package), up to alpha's small-sample factor, which uses the sample's n."""
    labels = _labels(DATA)
    row = design_report(labels, toy, _weights(3.0), codes=["ai_pressure"]).iloc[0]
    units = [pair for cid, turns in DATA.items() for pair in turns * (3 if cid[0] == "l" else 1)]
    data = np.array(units, dtype=float).T
    replicated = krippendorff.alpha(data, level_of_measurement="nominal")
    n, n_rep = 24, data.size  # pairable values: sample, replicated
    expected = 1 - (1 - replicated) * ((n - 1) / n) * (n_rep / (n_rep - 1))
    assert row["design_alpha"] == pytest.approx(expected)
    assert row["design_prevalence"] == pytest.approx(
        (np.array(units, dtype=float) == 1).sum() / n_rep
    )
    assert row["design_prevalence"] < row["sample_prevalence"]


def test_stratified_bootstrap_interval_and_missing_weights(toy) -> None:
    labels = _labels(DATA)
    row = design_report(labels, toy, _weights(4.0), codes=["ai_pressure"], bootstrap=300,
                        seed=2).iloc[0]  # fmt: skip
    assert row["design_low"] <= row["design_alpha"] <= row["design_high"]
    assert row["sample_low"] <= row["sample_alpha"] <= row["sample_high"]
    again = design_report(labels, toy, _weights(4.0), codes=["ai_pressure"], bootstrap=300,
                          seed=2).iloc[0]  # fmt: skip
    assert again["design_low"] == row["design_low"]
    with pytest.raises(AgreementError, match=r"\[E420\].*h1"):
        design_report(labels, toy, _weights(4.0).iloc[1:], codes=["ai_pressure"])


def test_simulated_alpha_centres_on_the_population_alpha() -> None:
    for alpha, dist, m in ((0.8, [0.9, 0.1], 2), (0.5, [0.5, 0.3, 0.2], 3)):
        values = simulate_alpha([m] * 3000, dist, alpha, n_sim=40, seed=7)
        assert np.nanmean(values) == pytest.approx(alpha, abs=0.02)


def test_planner_power_grows_with_the_rare_values() -> None:
    small = plan_design([2] * 60, [0.95, 0.05], alpha_min=0.667, n_sim=400, seed=1)
    large = plan_design([2] * 1500, [0.95, 0.05], alpha_min=0.667, n_sim=400, seed=1)
    assert small["power"] < 0.8 and not small["assessable"]
    assert large["power"] >= 0.8 and large["assessable"]
    assert small["scale_needed"] > 1
    assert large["critical_alpha"] < small["critical_alpha"]


def test_plan_sample_per_code(toy) -> None:
    labels = _labels(DATA)
    quiet = labels.assign(code_id="ai_empathy", value="0")
    plan = plan_sample(pd.concat([labels, quiet]), toy, codes=["ai_pressure", "ai_empathy"],
                       n_sim=300)  # fmt: skip
    rows = plan.set_index("code_id")
    assert rows.loc["ai_pressure", "rare_values"] == 8
    assert not rows.loc["ai_pressure", "assessable"]  # 12 units cannot show alpha > .667
    assert rows.loc["ai_pressure", "rare_values_needed"] > 8
    assert not rows.loc["ai_empathy", "assessable"]
    assert "do not vary" in rows.loc["ai_empathy", "reason"]
