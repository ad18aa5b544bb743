"""`annotate project init` and `annotate project status` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from annotate.cli import main
from annotate.project import Project


def _init(tmp_path: Path, corpus_dir: Path, toy_path: Path, *extra: str):  # type: ignore[no-untyped-def]
    args = ["project", "init", str(tmp_path / "p"), "--corpus", str(corpus_dir),
            "--codebook", str(toy_path), "--coders", "alice,bob", *extra]  # fmt: skip
    return CliRunner().invoke(main, args)


def test_project_cmd_init_and_status_json(tmp_path, corpus_dir, toy_path) -> None:
    res = _init(tmp_path, corpus_dir, toy_path, "--reliability", "0.3", "--seed", "5", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["reliability_sample"] == 3 and doc["plan"]["seed"] == 5
    assert sum(c["assigned"] for c in doc["coders"].values()) == 13
    p = Project.open(tmp_path / "p")
    p.append({"annotator_id": "bob", "unit": "conversation", "conversation_id": p.queue("bob")[0],
              "code_id": "_status", "value": "done", "elapsed_ms": 120_000})  # fmt: skip
    res = CliRunner().invoke(main, ["project", "status", str(tmp_path / "p"), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    bob = next(c for c in doc["coders"] if c["annotator_id"] == "bob")
    alice = next(c for c in doc["coders"] if c["annotator_id"] == "alice")
    assert bob["done"] == 1 and bob["time_spent_min"] == 2.0 and bob["last_activity"]
    assert alice["last_activity"] is None
    assert {c["code_id"] for c in doc["codes"]} >= {"ai_empathy", "conv_warmth"}


def test_project_cmd_status_table(tmp_path, corpus_dir, toy_path) -> None:
    assert _init(tmp_path, corpus_dir, toy_path).exit_code == 0
    res = CliRunner().invoke(main, ["project", "status", str(tmp_path / "p")])
    assert res.exit_code == 0 and "alice" in res.output and "units_2plus" in res.output


def test_project_cmd_errors_are_one_line(tmp_path, corpus_dir, toy_path) -> None:
    res = _init(tmp_path, corpus_dir, toy_path, "--per-item", "3")
    assert res.exit_code == 1 and "E312" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(main, ["project", "status", str(tmp_path / "none")])
    assert res.exit_code == 1 and "E311" in res.output
    res = _init(tmp_path, tmp_path / "missing", toy_path)
    assert res.exit_code == 1 and "Traceback" not in res.output


def test_project_cmd_init_options_reach_the_plan(tmp_path, corpus_dir, toy_path) -> None:
    args = ["project", "init", str(tmp_path / "p"), "--corpus", str(corpus_dir),
            "--codebook", str(toy_path), "--coders", "a,b,c", "--per-item", "2",
            "--reliability", "0.5", "--reliability-coders", "2", "--no-blind",
            "--json"]  # fmt: skip
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    p = Project.open(tmp_path / "p")
    assert p.plan["reliability_coders"] == 2 and p.plan["per_item"] == 2 and not p.blind
    per_conv = p.assignments.groupby("conversation_id")["annotator_id"].nunique()
    assert (per_conv == 2).all() and len(per_conv) == 10
