"""``annotate llm add|run|list`` and ``annotate agreement`` on a project with an LLM coder."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from annotate.cli import main

pytestmark = pytest.mark.slow


def _run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.stdout, res.stderr


def test_llm_cli_add_run_list_and_status(project, model_path) -> None:
    code, out, err = _run("llm", "add", str(project.path), "--id", "smol", "--backend",
                          "llama-cpp", "--model", "smollm2-135m", "--threads", "1",
                          "--n-ctx", "2048", "--json")  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["coder"] == "smol" and doc["model"] == model_path.name
    assert doc["assigned"] == doc["reliability"] == 4
    code, out, err = _run("llm", "run", str(project.path), "--coder", "smol", "--limit", "2",
                          "--json")  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["units_coded"] == 2 and summary["audit_log"].startswith("llm/smol/audit/")
    code, out, err = _run("llm", "run", str(project.path), "--coder", "smol", "--limit", "1",
                          "--cache-from", str(project.path / "no-such-folder"))  # fmt: skip
    assert code == 1 and "E716" in err and "no-such-folder" in err and "Traceback" not in err
    code, out, err = _run("llm", "run", str(project.path), "--coder", "smol", "--limit", "2",
                          "--cache-from", str(project.path), "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["units_coded"] == 2
    code, out, _ = _run("llm", "list", str(project.path))
    assert code == 0 and "smol" in out and "llama-cpp" in out and "default" in out
    code, out, _ = _run("project", "status", str(project.path), "--json")
    kinds = {c["annotator_id"]: c["kind"] for c in json.loads(out)["coders"]}
    assert kinds == {"alice": "human", "bob": "human", "smol": "llm"}


def test_llm_cli_errors_are_one_line(project) -> None:
    code, out, err = _run("llm", "run", str(project.path), "--coder", "alice")
    assert code == 1 and "E706" in err and "Traceback" not in err + out
    code, _, err = _run("llm", "add", str(project.path), "--id", "x", "--backend", "llama-cpp",
                        "--model", "missing.gguf")  # fmt: skip
    assert code == 1 and "E702" in err
    code, out, _ = _run("llm", "run", str(project.path / "nope"), "--coder", "x", "--json")
    assert code == 1 and json.loads(out)["error"].startswith("[E901]")


def test_agreement_cli_shows_the_raters_partition(coded) -> None:
    """`annotate agreement` on a project with an LLM coder: human, human-llm and all rows with
    their intervals, then the gating table."""
    project, _ = coded
    code, out, err = _run("agreement", str(project.path), "--bootstrap", "200", "--seed", "1")
    assert code == 0, err
    lines = out.splitlines()
    for raters in ("human", "human-llm", "all"):
        rows = [ln for ln in lines if ln.split()[:1] == [raters]]
        assert rows, f"no {raters} rows"
    assert any(ln.split()[:2] == ["human-llm", "smol"] and "[" in ln for ln in lines)
    assert "gating: may the LLM coder stand in for a person?" in out
    code, out, err = _run("agreement", str(project.path), "--json", "--bootstrap", "50")
    doc = json.loads(out)
    assert {r["raters"] for r in doc["rows"]} >= {"human", "human-llm", "all"}
    assert doc["gating"]["threshold"] == 0.667 and doc["gating"]["rows"]
    with_ci = [r for r in doc["rows"] if r["raters"] == "human-llm" and r["alpha_low"] is not None]
    assert with_ci


def test_export_names_the_kind_of_every_coder(coded, tmp_path) -> None:
    import pandas as pd

    import annotate.export

    project, _ = coded
    out = annotate.export.write(project, tmp_path / "export", labels="all", bootstrap=0)
    long = pd.read_parquet(out / "labels_long.parquet")
    kinds = long.groupby("annotator_id")["kind"].unique().apply(list).to_dict()
    assert kinds["alice"] == ["human"] and kinds["smol"] == ["llm"]
    assert set(long.loc[long["source"] != "coder", "kind"]) <= {"gold"}
    card = (out / "README.md").read_text()
    assert "language models declared as coders" in card and "`smol`" in card
    assert "| smol | llm |" in card
