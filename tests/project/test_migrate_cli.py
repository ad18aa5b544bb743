"""`annotate project migrate` and the versions in `annotate project status`; the label store
with several codebook versions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from annotate.cli import main
from annotate.codebook import load_codebook
from annotate.errors import LabelStoreError
from annotate.project import Project
from annotate.store import LabelStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from migrate_helpers import TOY, ev, write_toy_v2


def _project(tmp_path: Path, corpus_dir: Path) -> Project:
    p = Project.create(tmp_path / "p", corpus=corpus_dir, codebook=TOY, coders=["ann", "bob"],
                       reliability=1.0, seed=3)  # fmt: skip
    p.append(
        [
            ev("ann", "c000", 1, "ai_pressure", "1"),
            ev("ann", "c000", 0, "user_seeks_support", "1"),
            ev("ann", "c000", None, "_status", "done"),
            ev("bob", "c001", 1, "ai_pressure", "1"),
            ev("bob", "c001", None, "_status", "done"),
        ]
    )
    return p


def test_cli_migrate_and_status(tmp_path, corpus_dir) -> None:
    p = _project(tmp_path, corpus_dir)
    cb, mp = write_toy_v2(tmp_path / "v2")
    run = CliRunner().invoke(
        main, ["project", "migrate", str(p.path), "--codebook", str(cb), "--map", str(mp)]
    )
    assert run.exit_code == 0, run.output
    assert "migrated toy 1.0.0 -> toy 2.0.0 (m000001)" in run.output
    assert "units to recode       2 (1 conversation(s) reopened)" in run.output
    assert "not coded before      ai_mistake" in run.output
    status = CliRunner().invoke(main, ["project", "status", str(p.path)])
    assert status.exit_code == 0, status.output
    assert "codebook toy 2.0.0" in status.output
    assert "codebook versions (the last is current)" in status.output
    assert "recoding queued by migrations" in status.output
    doc = json.loads(CliRunner().invoke(main, ["project", "status", str(p.path), "--json"]).output)
    assert [v["version"] for v in doc["codebooks"]] == ["toy 1.0.0", "toy 2.0.0"]
    assert doc["codebooks"][1]["summary"]["events_written"] > 0
    assert doc["recoding"] == [
        {"annotator_id": "ann", "units": 2, "open": 2, "conversations_open": 1}
    ]
    again = CliRunner().invoke(
        main,
        ["project", "migrate", str(p.path), "--codebook", str(cb), "--map", str(mp), "--json"],
    )
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["events_written"] == 0


def test_cli_migrate_reports_map_problems_in_one_line(tmp_path, corpus_dir) -> None:
    p = _project(tmp_path, corpus_dir)
    cb, _ = write_toy_v2(tmp_path / "v2")
    run = CliRunner().invoke(main, ["project", "migrate", str(p.path), "--codebook", str(cb)])
    assert run.exit_code == 1
    assert "[E231]" in run.output and "ai_pressure: not in toy 2.0.0" in run.output
    assert "Traceback" not in run.output


def test_store_holds_several_versions(tmp_path) -> None:
    cb1 = load_codebook(TOY)
    path, _ = write_toy_v2(tmp_path / "v2")
    cb2 = load_codebook(path)
    store = LabelStore(tmp_path / "labels", cb2, versions=[cb1])
    saved = store.append(
        [
            ev("ann", "c000", 1, "ai_control", "1"),
            ev("ann", "c000", 1, "ai_pressure", "1", codebook_version="1.0.0"),
        ]
    )
    assert list(saved["codebook_version"]) == ["2.0.0", "1.0.0"]
    with pytest.raises(LabelStoreError) as err:
        store.append([ev("ann", "c000", 1, "ai_pressure", "1", codebook_version="2.0.0")])
    assert "not a code of codebook 'toy' 2.0.0" in str(err.value.failure_cases["reason"][0])
    single = LabelStore(tmp_path / "labels", cb2)  # a store of one version refuses the old one
    with pytest.raises(LabelStoreError, match=r"codebook_version: '1\.0\.0' is not the project"):
        single.append([ev("ann", "c000", 1, "ai_pressure", "1", codebook_version="1.0.0")])


def test_cli_agreement_per_codebook_version(tmp_path, corpus_dir) -> None:
    p = _project(tmp_path, corpus_dir)
    p.append([ev("ann", "c001", 1, "ai_pressure", "1"), ev("ann", "c001", None, "_status", "done")])
    before = CliRunner().invoke(main, ["agreement", str(p.path), "--json"])
    cb, mp = write_toy_v2(tmp_path / "v2")
    p.migrate(cb, mp)
    old = CliRunner().invoke(
        main, ["agreement", str(p.path), "--json", "--codebook-version", "1.0.0"]
    )
    assert old.exit_code == 0, old.output
    rows = {r["code_id"]: r for r in json.loads(old.output)["rows"]}
    assert rows == {r["code_id"]: r for r in json.loads(before.output)["rows"]}
    assert "ai_pressure" in rows
    new = json.loads(CliRunner().invoke(main, ["agreement", str(p.path), "--json"]).output)
    assert "ai_control" in {r["code_id"] for r in new["rows"]}
    bad = CliRunner().invoke(main, ["agreement", str(p.path), "--codebook-version", "9.0.0"])
    assert bad.exit_code == 1 and "[E340]" in bad.output and "toy 1.0.0, toy 2.0.0" in bad.output
