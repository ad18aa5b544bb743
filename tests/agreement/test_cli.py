"""``annotate agreement DIR`` on a real project: the demo corpus, the default codebook and the
demo's illustrative labels of three simulated coders (corpora/demo/labels)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import annotate
from annotate.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("agreement_cli")
    annotate.import_corpus(str(REPO / "corpora/demo/demo.jsonl"), "openai", out=str(work / "c"))
    project = annotate.Project.create(
        work / "p",
        corpus=work / "c",
        codebook=REPO / "codebooks/sdt-socioaffective.yaml",
        coders=["alice", "bob", "carol"],
    )
    project.append(pd.read_json(REPO / "corpora/demo/labels/events.jsonl", lines=True))
    return work / "p"


def test_cli_agreement_text_table(project_dir) -> None:
    result = CliRunner().invoke(main, ["agreement", str(project_dir)])
    assert result.exit_code == 0, result.output
    assert "ai_empathy" in result.output and "alpha" in result.output
    assert "0.800 reliable" in result.output


def test_cli_agreement_json_matches_the_library(project_dir) -> None:
    args = ["agreement", str(project_dir), "--json", "--codes", "ai_empathy,conv_warmth"]
    args += ["--bootstrap", "100", "--seed", "4"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    rows = {r["code_id"]: r for r in doc["rows"]}
    assert set(rows) == {"ai_empathy", "conv_warmth"}
    p = annotate.Project.open(project_dir)
    lib = annotate.agreement.report(
        p.unit_labels(), p.codebook, codes=["ai_empathy", "conv_warmth"], bootstrap=100, seed=4
    ).table.set_index("code_id")
    for code_id, row in rows.items():
        assert row["alpha"] == pytest.approx(lib.loc[code_id, "alpha"])
        assert row["alpha_low"] == pytest.approx(lib.loc[code_id, "alpha_low"])
    assert doc["settings"]["bootstrap"] == 100


def test_cli_agreement_role_unit_and_plot(project_dir, tmp_path) -> None:
    out = tmp_path / "forest.png"
    args = ["agreement", str(project_dir), "--unit", "turn", "--role", "user", "--plot", str(out)]
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert {r["role"] for r in doc["rows"]} == {"user"}
    assert out.stat().st_size > 1000


def test_cli_agreement_missing_folder_is_a_user_error(tmp_path) -> None:
    result = CliRunner().invoke(main, ["agreement", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "E901" in result.output


def test_cli_agreement_bad_role_is_a_usage_error(project_dir) -> None:
    result = CliRunner().invoke(main, ["agreement", str(project_dir), "--role", "system"])
    assert result.exit_code == 2
