"""Enriched reliability samples: pre-scores, stratified draws, recorded inclusion
probabilities, and the design-weighted alpha on them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from annotate.agreement import design_report, report
from annotate.corpus import write_corpus
from annotate.errors import CodebookError, ProjectError
from annotate.project import Project

sys.path.insert(0, str(Path(__file__).resolve().parent))
from migrate_helpers import TOY, ev

N = 40
CUED = {f"c{i:03d}" for i in (3, 7, 11, 19, 23, 31)}  # an assistant turn says "you need to"
FLAGGED = {f"c{i:03d}" for i in (1, 2, 3)}


def _corpus(folder: Path) -> Path:
    turns, convs = [], []
    for i in range(N):
        cid = f"c{i:03d}"
        for t in range(4):
            role = "user" if t % 2 == 0 else "assistant"
            text = f"turn {t} of {cid}"
            if cid in CUED and t == 1:
                text = "Honestly, you need to stop texting him."
            turns.append({"conversation_id": cid, "turn_index": t, "turn_id": f"{cid}-{t}",
                          "role": role, "speaker": role, "text": text, "created_at": None,
                          "model": None, "meta": None})  # fmt: skip
        meta = {"flag": cid in FLAGGED, "score": 2 if cid in FLAGGED else 0}
        convs.append({"conversation_id": cid, "source": "test", "source_id": cid,
                      "user_id": None, "started_at": None, "n_turns": 4, "language": "en",
                      "model": None, "meta": json.dumps(meta)})  # fmt: skip
    write_corpus(folder, pd.DataFrame(turns), pd.DataFrame(convs), {"name": "cues"})
    return folder


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    corpus = _corpus(tmp_path / "corpus")
    return Project.create(tmp_path / "p", corpus=corpus, codebook=TOY, coders=["ann", "bob"],
                          reliability=0.1, seed=5)  # fmt: skip


def test_prescore_sources(project) -> None:
    from annotate.project._enrich import prescore

    cues = prescore(project, ["ai_pressure"], "cues")
    assert set(cues[cues > 0].index) == CUED
    assert set(cues[cues == 0].index) == {f"c{i:03d}" for i in range(N)} - CUED
    flags = prescore(project, ["ai_pressure"], "meta.flag=true")
    assert set(flags[flags > 0].index) == FLAGGED
    score = prescore(project, ["ai_pressure"], "meta.score")
    assert set(score[score > 0].index) == FLAGGED and score.max() == 2
    project.append(
        [ev("llm", "c005", 1, "ai_pressure", "1"), ev("llm", "c006", 1, "ai_pressure", "0")]
    )
    llm = prescore(project, ["ai_pressure"], "labels:llm")
    assert set(llm[llm > 0].index) == {"c005"}
    with pytest.raises(ProjectError, match=r"\[E360\]"):
        prescore(project, ["ai_pressure"], "meta.nothing")
    with pytest.raises(ProjectError, match=r"\[E360\]"):
        prescore(project, ["ai_pressure"], "labels:nobody")


def test_enrichment_draws_the_flagged_stratum_and_records_the_design(project) -> None:
    before = set(project.assignments.loc[project.assignments["is_reliability"], "conversation_id"])
    rows = project.enrich_reliability(10, codes=["ai_pressure"], prescore="cues")
    a = project.assignments
    rel = set(a.loc[a["is_reliability"], "conversation_id"])
    added = rel - before
    design = project.reliability_design
    assert design["prescore"] == "cues" and design["codes"] == ["ai_pressure"]
    strata = {s["stratum"]: s for s in design["strata"]}
    pool_high = len(CUED - before)
    assert strata["high"]["pool"] == pool_high
    assert strata["high"]["drawn"] == min(pool_high, 5)
    assert len(added) == 10 and len(added & CUED) == min(pool_high, 5)
    pi1 = len(before) / N
    assert design["first_stage"] == {"sample": len(before), "fraction": pi1}
    for s in design["strata"]:
        assert s["inclusion_probability"] == pytest.approx(pi1 + (1 - pi1) * s["drawn"] / s["pool"])
    w = project.reliability_weights()
    assert set(w["conversation_id"]) == rel
    high = w[w["conversation_id"].isin(CUED)]
    assert set(high["stratum"]) == {"high"}
    assert np.allclose(high["weight"], 1 / strata["high"]["inclusion_probability"])
    # both coders code every reliability conversation; queue positions of old rows unchanged
    assert set(rows["conversation_id"]) == added
    coders = a[a["conversation_id"].isin(rel)].groupby("conversation_id")["annotator_id"]
    assert all(set(g) == {"ann", "bob"} for _, g in coders)
    assert "enrich_reliability 10 (cues)" in project.plan_history[-1]["what"]
    with pytest.raises(ProjectError, match=r"\[E361\]"):
        project.enrich_reliability(2, codes=["ai_pressure"])


def test_enrichment_checks_its_options(project) -> None:
    with pytest.raises(CodebookError, match=r"\[E203\]"):
        project.enrich_reliability(5, codes=["ai_presure"])
    with pytest.raises(ProjectError, match="share"):
        project.enrich_reliability(5, codes=["ai_pressure"], share=0)
    with pytest.raises(ProjectError, match=r"option=|n=0|\[E312\]"):
        project.enrich_reliability(0, codes=["ai_pressure"])


def test_design_alpha_on_the_enriched_sample(project) -> None:
    project.enrich_reliability(10, codes=["ai_pressure"], prescore="cues")
    a = project.assignments
    rel = sorted(set(a.loc[a["is_reliability"], "conversation_id"]))
    events = []
    for cid in rel:
        for coder in ("ann", "bob"):
            if cid in CUED and not (coder == "bob" and cid == "c019"):
                events.append(ev(coder, cid, 1, "ai_pressure", "1"))
            events.append(ev(coder, cid, None, "_status", "done"))
    project.append(events)
    units = project.unit_labels()
    weights = project.reliability_weights()
    table = design_report(units, project.codebook, weights, codes=["ai_pressure"], bootstrap=200,
                          seed=1)  # fmt: skip
    row = table.iloc[0]
    plain = report(units, project.codebook, codes=["ai_pressure"]).table.iloc[0]
    assert row["sample_alpha"] == pytest.approx(plain["alpha"])
    assert row["rare_value"] == "1" and row["rare_values"] > 0
    # the flagged stratum is over-sampled: the design prevalence is below the sample's
    assert row["design_prevalence"] < row["sample_prevalence"]
    assert row["design_low"] <= row["design_alpha"] <= row["design_high"]


def test_cli_enrich_and_design_report(project) -> None:
    from click.testing import CliRunner

    from annotate.cli import main

    run = CliRunner().invoke(main, ["project", "enrich-reliability", str(project.path),
                                    "--n", "8", "--codes", "ai_pressure"])  # fmt: skip
    assert run.exit_code == 0, run.output
    assert "reliability sample enriched for ai_pressure (pre-score: cues)" in run.output
    p = Project.open(project.path)
    a = p.assignments
    rel = set(a.loc[a["is_reliability"], "conversation_id"])
    events = [ev(c, cid, None, "_status", "done") for cid in rel for c in ("ann", "bob")]
    events += [ev("ann", cid, 1, "ai_pressure", "1") for cid in CUED & rel]
    events += [ev("bob", cid, 1, "ai_pressure", "1") for cid in sorted(CUED & rel)[:2]]
    p.append(events)
    out = CliRunner().invoke(main, ["agreement", str(p.path), "--design", "--codes",
                                    "ai_pressure", "--plan", "0.667", "--json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["design"]["prescore"] == "cues"
    (row,) = doc["rows"]
    assert row["code_id"] == "ai_pressure" and row["sample_alpha"] is not None
    (plan,) = doc["plan"]
    assert plan["code_id"] == "ai_pressure" and plan["rare_value"] == "1"
