"""`annotate codebook ...` through click's CliRunner: exit codes, messages, --json."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from annotate.cli import main
from annotate.codebook import load_codebook

Run = Callable[..., Result]


@pytest.fixture
def run() -> Run:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(main, ["codebook", *args], catch_exceptions=False)

    return invoke


BAD = """\
id: bad
version: 1.0.0
title: Bad
codes:
  - id: a
    label: A
    unit: turn
    level: binary
    definition: d
    key: j
  - id: b
    label: B
    unit: conversation
    level: ordinal
    definition: d
    values: [{value: lo, label: Low}]
"""


def test_cli_validate_ok_summary(run: Run, toy_path: Path) -> None:
    result = run("validate", str(toy_path))
    assert result.exit_code == 0, result.output
    assert "valid codebook" in result.output
    assert load_codebook(toy_path).hash in result.output
    assert "by level  binary 5, nominal 2, set 1, ordinal 2, interval 1" in result.output


def test_cli_validate_json(run: Run, toy_path: Path) -> None:
    result = run("validate", str(toy_path), "--json", "--modules", "all")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["valid"] is True and doc["id"] == "toy" and doc["version"] == "1.0.0"
    assert doc["hash"] == load_codebook(toy_path, modules="all").hash
    assert doc["by_unit"] == {"turn": 9, "conversation": 3}
    assert doc["by_role"] == {"user": 4, "assistant": 8}
    assert doc["by_module"] == {"(core)": 11, "trust": 1}


def test_cli_validate_lists_every_problem(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    result = run("validate", str(path))
    assert result.exit_code == 1
    lines = [x for x in result.stderr.splitlines() if x.startswith(f"{path}: ")]
    assert len(lines) == 3
    assert "codes[0].applies_to: field required for turn codes" in lines[0]
    assert "codes[0].key: key 'j' is reserved" in lines[1]
    assert "codes[1].values: an ordinal code needs at least 2 values, got 1: lo" in lines[2]
    assert "Traceback" not in result.output


def test_cli_validate_json_problems(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    result = run("validate", str(path), "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["valid"] is False
    assert [p["path"] for p in doc["problems"]] == [
        "codes[0].applies_to",
        "codes[0].key",
        "codes[1].values",
    ]
    assert doc["problems"][1]["line"] == 10


def test_cli_validate_missing_file_one_line(run: Run, tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "E206" in result.stderr


def test_cli_usage_error_exit_2(run: Run) -> None:
    assert run("validate").exit_code == 2
    assert run("render", "x.yaml").exit_code == 2  # --out missing


def test_cli_render_html_and_md(run: Run, toy_path: Path, tmp_path: Path) -> None:
    for name in ("manual.html", "manual.md"):
        result = run("render", str(toy_path), "--out", str(tmp_path / name))
        assert result.exit_code == 0, result.output
        assert "ai_empathy" in (tmp_path / name).read_text(encoding="utf-8")


def test_cli_render_bad_suffix_and_missing_folder(run: Run, toy_path: Path, tmp_path: Path) -> None:
    result = run("render", str(toy_path), "--out", str(tmp_path / "m.pdf"))
    assert result.exit_code == 1 and "E209" in result.stderr
    result = run("render", str(toy_path), "--out", str(tmp_path / "no" / "m.html"))
    assert result.exit_code == 1 and "E901" in result.stderr and "mkdir -p" in result.stderr


def _bumped(toy_path: Path, tmp_path: Path, version: str) -> Path:
    text = toy_path.read_text(encoding="utf-8").replace("version: 1.0.0", f"version: {version}")
    text = text.replace("  - id: user_defers\n", "  - id: user_hands_over\n")
    text = text.replace("user_defers (Defers the decision)", "user_hands_over (Defers)")
    new = tmp_path / f"new-{version}.yaml"
    new.write_text(text, encoding="utf-8")
    return new


def test_cli_diff_json(run: Run, toy_path: Path, tmp_path: Path) -> None:
    new = _bumped(toy_path, tmp_path, "1.1.0")
    result = run("diff", str(toy_path), str(new), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["renamed"] == [["user_defers", "user_hands_over"]]
    assert doc["required_bump"] == "major" and doc["minimum_version"] == "2.0.0"
    assert doc["version_ok"] is False
    assert doc["same_id"] is True


def test_cli_diff_check_exit_codes(run: Run, toy_path: Path, tmp_path: Path) -> None:
    low = run("diff", str(toy_path), str(_bumped(toy_path, tmp_path, "1.1.0")), "--check")
    assert low.exit_code == 1 and "below the required 2.0.0" in low.stderr
    ok = run("diff", str(toy_path), str(_bumped(toy_path, tmp_path, "2.0.0")), "--check")
    assert ok.exit_code == 0 and "required bump        major" in ok.output


def test_cli_qdc_round_trip(run: Run, toy_path: Path, tmp_path: Path) -> None:
    qdc, back = tmp_path / "toy.qdc", tmp_path / "back.yaml"
    assert run("export-qdc", str(toy_path), "--out", str(qdc)).exit_code == 0
    result = run("import-qdc", str(qdc), "--out", str(back), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["hash"] == load_codebook(toy_path, modules="all").hash
    assert load_codebook(back, modules="all").hash == load_codebook(toy_path, modules="all").hash
    assert back.read_text(encoding="utf-8").startswith("# Imported from toy.qdc")
    again = run("import-qdc", str(qdc), "--out", str(back))
    assert again.exit_code == 1 and "--force" in again.stderr
    assert run("import-qdc", str(qdc), "--out", str(back), "--force").exit_code == 0


def test_cli_import_qdc_broken_file(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.qdc"
    bad.write_text("<CodeBook>", encoding="utf-8")
    result = run("import-qdc", str(bad), "--out", str(tmp_path / "x.yaml"))
    assert result.exit_code == 1 and "E208" in result.stderr
    assert not (tmp_path / "x.yaml").exists()


def test_cli_schema_prints_json(run: Run) -> None:
    result = run("schema")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["title"] == "annotate codebook"


def test_cli_import_foreign_qdc_warns_and_writes_valid_yaml(
    run: Run, foreign_qdc: Path, tmp_path: Path
) -> None:
    out = tmp_path / "nvivo.yaml"
    result = run("import-qdc", str(foreign_qdc), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "W201" in result.stderr
    cb = load_codebook(out)
    assert cb.code_ids == ("sadness", "fear_worry", "advice_giving")


def test_cli_validate_strict_fails_on_content_notes(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "thin.yaml"
    path.write_text(
        "id: thin\nversion: 1.0.0\ntitle: T\ncodes:\n"
        "  - {id: a, label: A, unit: turn, applies_to: [user], level: binary, definition: d}\n",
        encoding="utf-8",
    )
    loose = run("validate", str(path))
    assert loose.exit_code == 0 and "content note(s)" in loose.stderr
    strict = run("validate", str(path), "--strict")
    assert strict.exit_code == 1 and "--strict" in strict.stderr
    doc = json.loads(run("validate", str(path), "--json").stdout)
    assert "a.when_to_use: missing (inclusion criteria)" in doc["notes"]
