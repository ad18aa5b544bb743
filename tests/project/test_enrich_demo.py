"""On the demo corpus, a reliability sample enriched by the rare codes' cue phrases gives the
rare codes assessable positives, where a random sample of the same size would not."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from annotate.agreement import design_report, plan_design, plan_sample
from annotate.demo import ENRICH_N, RARE_CODES, demo_enriched_project

REFERENCE = Path(__file__).resolve().parents[2] / "corpora" / "demo" / "labels" / "reference.jsonl"


@pytest.fixture(scope="module")
def enriched(tmp_path_factory):  # type: ignore[no-untyped-def]
    return demo_enriched_project(tmp_path_factory.mktemp("enriched"))


def test_the_design_oversamples_the_flagged_conversations(enriched) -> None:
    design = enriched.reliability_design
    strata = {s["stratum"]: s for s in design["strata"]}
    assert strata["high"]["inclusion_probability"] > 4 * strata["low"]["inclusion_probability"]
    assert sum(s["drawn"] for s in design["strata"]) == ENRICH_N
    w = enriched.reliability_weights()
    assert len(w) == ENRICH_N and set(enriched.coders) == {"alice", "bob", "carol"}


def test_rare_codes_get_assessable_positives(enriched) -> None:
    units = enriched.unit_labels()
    codes = list(RARE_CODES)
    plan = plan_sample(units, enriched.codebook, codes=codes, alpha_min=0.667, seed=1)
    plan = plan.set_index("code_id")
    for code in ("ai_control", "ai_retention_tactic"):
        assert plan.loc[code, "rare_value"] == "1"
        assert plan.loc[code, "assessable"], plan.loc[code]
    # the demo corpus holds one ai_dismissal and no ai_competence_thwart at all: no sample can
    # make them assessable, and the planner says so
    for code in ("ai_dismissal", "ai_competence_thwart"):
        assert not plan.loc[code, "assessable"]
    table = design_report(units, enriched.codebook, enriched.reliability_weights(),
                          codes=codes, bootstrap=200, seed=1).set_index("code_id")  # fmt: skip
    row = table.loc["ai_retention_tactic"]
    assert row["design_prevalence"] < row["sample_prevalence"]  # the enrichment is undone
    assert row["design_low"] <= row["design_alpha"] <= row["design_high"]


def test_a_random_sample_of_the_same_size_would_not_do(enriched) -> None:
    """A random sample of 20 of the 60 conversations, planned on the reference coding's corpus
    prevalence of ai_control, is not assessable: enrichment is what makes it so."""
    turns = pos = 0
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        for turn in json.loads(line)["turns"].values():
            if turn["role"] == "assistant":
                turns += 1
                pos += "ai_control" in turn["codes"]
    units = round(turns * ENRICH_N / 60)
    p = pos / turns
    random_plan = plan_design([3] * units, [1 - p, p], alpha_min=0.667, seed=1)
    assert not random_plan["assessable"] and random_plan["scale_needed"] > 1
    assert np.isfinite(random_plan["scale_needed"])
