"""Prompt sensitivity: replicate coders (runs, paraphrases) with the real test model, their
stability report, and the label-free behavioural checks."""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from click.testing import CliRunner

from annotate.cli import main
from annotate.errors import LLMError
from annotate.llm import (
    add_llm_coder,
    behaviour_checks,
    load_coder,
    prompt_stability,
    read_audit,
    read_paraphrases,
    replicate_coder,
    replicates_of,
    run_llm_coder,
    run_replicates,
)
from annotate.llm.checks import definition_pairs, shuffled_values, swapped_definitions
from annotate.llm.prompt import DEFAULT_TEMPLATE

from .conftest import make_project

PARAPHRASES = """\
[system]
You label chat turns for a study, using the codebook "$codebook_title". Code only what the
marked $unit_kind does.

$codes

Reply with exactly one JSON object:
$answer_format
[user]
$conversation

$task

[system]
Act as a trained content coder ($codebook_id v$codebook_version). You are coding one
$unit_kind. The codes:

$codes

Output nothing but this JSON object:
$answer_format
[user]
$task

$conversation
"""

SOME = ["t2", "t4"]  # 2 conversations, 6 units: the real model codes them in seconds


def test_paraphrase_file_is_read_and_checked(tmp_path) -> None:
    path = tmp_path / "para.txt"
    path.write_text(PARAPHRASES, encoding="utf-8")
    templates = read_paraphrases(path)
    assert len(templates) == 2 and all(t.startswith("[system]") for t in templates)
    for text, problem in [
        ("no templates here\n", "no '\\[system\\]' line"),
        ("intro\n[system]\nx\n[user]\ny\n", "text before the first"),
        ("[system]\nx $nope\n[user]\ny\n", "unknown variable"),
        ("[system]\nx\n[user]\ny\n[system]\nx\n[user]\ny\n", "two templates are the same"),
        ("[system]\nonly a system part\n", "needs one"),
    ]:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(LLMError, match=f"E715.*{problem}"):
            read_paraphrases(path)


def test_replicates_are_children_with_derived_ids(project, tmp_path) -> None:
    add_llm_coder(
        project, "gpt", backend="openai", base_url="http://127.0.0.1:9/v1", model="x", seed=10
    )
    path = tmp_path / "para.txt"
    path.write_text(PARAPHRASES, encoding="utf-8")
    runs = replicate_coder(project, "gpt", runs=3, temperature=0.7)
    assert [s.id for s in runs] == ["gpt.r1", "gpt.r2", "gpt.r3"]
    assert [s.seed for s in runs] == [11, 12, 13] and {s.temperature for s in runs} == {0.7}
    para = replicate_coder(project, "gpt", paraphrases=path)
    assert [s.id for s in para] == ["gpt.p1", "gpt.p2"]
    assert [s.prompt_source for s in para] == ["paraphrase p1", "paraphrase p2"]
    both = replicate_coder(project, "gpt", paraphrases=path, runs=2, temperature=0.7)
    assert [s.id for s in both] == ["gpt.p1.r1", "gpt.p1.r2", "gpt.p2.r1", "gpt.p2.r2"]
    parent = load_coder(project, "gpt")
    for spec in runs + para + both:
        rec = load_coder(project, spec.id)  # the record on disk
        assert rec.parent == "gpt" and rec.kind == "llm"
        assert (rec.model_id, rec.schemas, rec.codebook) == (
            parent.model_id,
            parent.schemas,
            parent.codebook,
        )
    assert para[0].prompt_template == read_paraphrases(path)[0]
    assert runs[0].prompt_template == parent.prompt_template == DEFAULT_TEMPLATE
    # again: the same replicates, nothing new
    again = replicate_coder(project, "gpt", runs=3, temperature=0.7)
    assert [s.created_at for s in again] == [s.created_at for s in runs]
    assert len(replicates_of(project, "gpt")) == 9
    assert project.coder_kinds["gpt.p2.r2"] == "llm"
    with pytest.raises(LLMError, match=r"E714.*other settings"):
        replicate_coder(project, "gpt", runs=3, temperature=0.9)
    with pytest.raises(LLMError, match=r"E714.*itself a replicate"):
        replicate_coder(project, "gpt.r1", runs=2)
    with pytest.raises(LLMError, match=r"E714.*give runs="):
        replicate_coder(project, "gpt")


def test_check_variants_change_only_the_prompt(project) -> None:
    cb = project.codebook
    shuffled = shuffled_values(cb, seed=0)
    for code in cb.codes:
        got = shuffled.code(code.id)
        assert sorted(got.value_ids) == sorted(code.value_ids)
        assert got.value_ids != code.value_ids  # never the original order
        assert got.id == code.id and got.definition == code.definition
    assert shuffled.hash == cb.hash
    assert definition_pairs(cb) == []  # one code per kind of unit: nothing to swap


@pytest.fixture(scope="module")
def replicated(tmp_path_factory, model_path):
    """The test project; 'smol' (temperature 0) and two runs at 0.7 and two paraphrases at 0 on
    two conversations."""
    folder = tmp_path_factory.mktemp("replicate")
    project = make_project(folder)
    add_llm_coder(
        project, "smol", backend="llama-cpp", model=str(model_path), threads=1, n_ctx=2048
    )
    run_llm_coder(project, "smol", conversations=SOME, progress=False)
    (folder / "para.txt").write_text(PARAPHRASES, encoding="utf-8")
    replicate_coder(project, "smol", runs=2, temperature=0.7)
    replicate_coder(project, "smol", paraphrases=folder / "para.txt")
    summaries = run_replicates(project, "smol", progress=False)
    return project, summaries


@pytest.mark.slow
def test_replicate_runs_code_the_parents_units_once(replicated) -> None:
    project, summaries = replicated
    assert [s.coder_id for s in summaries] == ["smol.r1", "smol.r2", "smol.p1", "smol.p2"]
    assert all(s.units_planned == 6 and s.units_coded + s.units_missing == 6 for s in summaries)
    parent_units = _units(project, "smol")
    for s in summaries:
        assert _units(project, s.coder_id) <= parent_units
        records = read_audit(project.path, s.coder_id)
        spec = load_coder(project, s.coder_id)
        assert {r["template_hash"] for r in records} == {spec.prompt_hash}
        first = [r for r in records if r["attempt"] == 0]
        assert {r["temperature"] for r in first} == {spec.temperature}
        assert {r["seed"] for r in first} == {spec.seed}
    # resumable like any run: a second call codes nothing
    again = run_replicates(project, "smol", progress=False)
    assert all(s.units_coded == 0 and s.requests == 0 for s in again)


def _units(project, coder: str) -> set:
    lab = project.labels(annotator=coder)
    lab = lab[~lab["code_id"].str.startswith("_")]
    return set(
        zip(lab["unit"], lab["conversation_id"], lab["turn_index"].astype(object), strict=True)
    )


@pytest.mark.slow
def test_prompt_stability_report(replicated) -> None:
    project, _ = replicated
    rep = prompt_stability(project, "smol", bootstrap=200, seed=1)
    t = rep.table
    assert set(zip(t["facet"], t["prompt"], strict=True)) == {
        ("runs", "original"),
        ("paraphrases", "all"),
    }
    runs = t[t["facet"] == "runs"]
    assert set(runs["coders"]) == {"smol.r1, smol.r2"} and set(runs["n_coders"]) <= {2}
    across = t[t["facet"] == "paraphrases"]
    assert set(across["coders"]) == {"smol, smol.p1, smol.p2"}  # all at temperature 0
    # alpha of a row is Krippendorff's alpha of those coders' labels (krippendorff package)
    labels = project.unit_labels()
    row = across[(across["code_id"] == "ai_move")].iloc[0]
    sub = labels[labels["code_id"] == "ai_move"]
    pivot = sub.pivot_table(
        index="annotator_id",
        columns=["conversation_id", "turn_index"],
        values="value",
        aggfunc="first",
    )
    pivot = pivot.loc[["smol", "smol.p1", "smol.p2"]]
    codes = {"ask": 0, "inform": 1, "other": 2}
    data = pivot.apply(lambda col: col.map(codes)).to_numpy(dtype=float)
    if np.unique(data[~np.isnan(data)]).size > 1:
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
        assert row["alpha"] == pytest.approx(expected)
    else:
        assert np.isnan(row["alpha"])
    summary = rep.summary
    assert list(summary["facet"]) == ["runs", "paraphrases"]
    assert "paraphrases" in rep.to_text() and json.dumps(rep.to_dict(), default=str)


@pytest.mark.slow
def test_llm_cli_replicate_and_check(replicated) -> None:
    project, _ = replicated
    res = CliRunner().invoke(
        main,
        [
            "llm",
            "replicate",
            str(project.path),
            "--coder",
            "smol",
            "--runs",
            "2",
            "--temperature",
            "0.7",
            "--bootstrap",
            "50",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["replicates"] == ["smol.r1", "smol.r2"]
    assert all(r["units_coded"] == 0 for r in doc["runs"])  # already coded: resumed, no calls
    assert {r["facet"] for r in doc["rows"]} == {"runs", "paraphrases"}
    res = CliRunner().invoke(main, ["llm", "replicate", str(project.path), "--coder", "nope"])
    assert res.exit_code == 1 and "E706" in res.stderr


@pytest.mark.slow
def test_behaviour_checks_with_the_real_model(tmp_path, model_path) -> None:
    """A codebook with two binary user codes (a swap pair) and the tiny codebook's others."""
    project = make_project(tmp_path, extra_user_code=True)
    add_llm_coder(
        project, "smol", backend="llama-cpp", model=str(model_path), threads=1, n_ctx=2048
    )
    assert definition_pairs(project.codebook) == [("asks_help", "thanks")]
    rep = behaviour_checks(project, "smol", conversations=["t1"], limit=4, progress=False)
    t = rep.table.set_index(["check", "code_id"])
    assert set(t.index) == {("shuffle_values", c) for c in ("asks_help", "thanks", "ai_move")} | {
        ("swap_definitions", "asks_help"),
        ("swap_definitions", "thanks"),
    }
    assert t.loc[("swap_definitions", "asks_help"), "partner"] == "thanks"
    for key, row in t.iterrows():
        assert 0 <= row["changed"] <= row["n_units"] and row["n_units"] >= 1, key
        assert row["change_rate"] == pytest.approx(row["changed"] / row["n_units"])
    # the labels behind the rates
    lab = rep.labels
    changed = (lab["original"] != lab["shuffle_values"]) & lab["shuffle_values"].notna()
    assert (
        int(changed[lab["code_id"] == "ai_move"].sum())
        == t.loc[("shuffle_values", "ai_move"), "changed"]
    )
    # audited in the checks log, never in the coder's runs; nothing stored as a label
    assert read_audit(project.path, "smol") == []
    assert len(project.labels(annotator="smol")) == 0
    log = Path(project.path) / rep.settings["audit_log"]
    records = [json.loads(x) for x in log.read_text().splitlines()]
    checks = {r.get("check") for r in records if r["type"] == "request"}
    assert checks == {"original", "shuffle_values", "swap_definitions"}
    # the second time everything comes from the cache
    again = behaviour_checks(project, "smol", conversations=["t1"], limit=4, progress=False)
    log2 = Path(project.path) / again.settings["audit_log"]
    reqs = [json.loads(x) for x in log2.read_text().splitlines()]
    assert all(r["cached"] for r in reqs if r["type"] == "request")
    assert again.table.equals(rep.table)
    # swapped guidance really is in the prompt
    swapped = swapped_definitions(project.codebook, [("asks_help", "thanks")])
    assert swapped.code("asks_help").definition == project.codebook.code("thanks").definition
