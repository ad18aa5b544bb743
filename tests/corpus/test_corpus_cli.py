"""``annotate import`` and ``annotate corpus info|mask`` through click's CliRunner."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from annotate.cli import main
from annotate.corpus import load_corpus

SHAREGPT = [
    {
        "id": "s1",
        "conversations": [
            {"from": "human", "value": "Mail a@b.org"},
            {"from": "gpt", "value": "ok"},
        ],
    },
    {"id": "s2", "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": ""}]},
]


def _src(tmp_path: Path) -> Path:
    src = tmp_path / "sg.json"
    src.write_text(json.dumps(SHAREGPT))
    return src


def test_corpus_cli_import_and_info(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "c"
    res = runner.invoke(
        main, ["import", "sharegpt", str(_src(tmp_path)), "--out", str(out), "--json"]
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["counts"]["conversations"] == 2 and doc["counts"]["turns"] == 3
    assert doc["skipped"] == {"empty_turn": 1}
    assert "[W101]" in res.stderr
    res = runner.invoke(main, ["corpus", "info", str(out)])
    assert res.exit_code == 0
    assert "conversations 2" in res.stdout and "empty_turn 1" in res.stdout
    assert "assistant 1, user 2" in res.stdout
    res = runner.invoke(main, ["corpus", "info", str(out), "--json"])
    assert json.loads(res.stdout)["counts"]["turns_by_role"] == {"assistant": 1, "user": 2}


def test_corpus_cli_format_options(tmp_path: Path) -> None:
    src = tmp_path / "log.csv"
    src.write_text("chat,who,message\nc1,person,hi\nc1,bot,hello\n")
    res = CliRunner().invoke(
        main,
        [
            "import",
            "csv",
            str(src),
            "--out",
            str(tmp_path / "c"),
            "--map",
            "conversation_id=chat",
            "--map",
            "role=who",
            "--map",
            "text=message",
            "--role",
            "person=user",
            "--role",
            "bot=assistant",
            "--licence",
            "CC0",
            "--name",
            "log",
        ],
    )
    assert res.exit_code == 0, res.output
    corpus = load_corpus(tmp_path / "c")
    assert corpus.turns["role"].tolist() == ["user", "assistant"]
    assert corpus.manifest["licence"] == "CC0" and corpus.name == "log"


def test_corpus_cli_user_errors_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    cases = [
        ["import", "openai", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "o")],
        ["import", "hh-rlhf", str(_src(tmp_path)), "--out", str(tmp_path / "o"), "--paths", "all"],
        ["import", "csv", str(_src(tmp_path)), "--out", str(tmp_path / "o"), "--option", "nokey"],
        ["corpus", "info", str(tmp_path)],
    ]
    for args in cases:
        res = runner.invoke(main, args)
        assert res.exit_code == 1, (args, res.output)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: [E"), res.stderr
        assert "Traceback" not in res.output
    assert not (tmp_path / "o").exists()
    # --json errors: the CLI frame reads sys.argv, so run the real command line once
    res = subprocess.run(
        [sys.executable, "-m", "annotate", "corpus", "info", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 1 and "[E111]" in json.loads(res.stdout)["error"]
    assert "Traceback" not in res.stderr


def test_corpus_cli_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["import", "nope", "x", "--out", "y"]).exit_code == 2
    assert runner.invoke(main, ["import", "openai", "x"]).exit_code == 2  # no --out
    assert runner.invoke(main, ["corpus", "info"]).exit_code == 2


def test_corpus_cli_mask(tmp_path: Path) -> None:
    runner = CliRunner()
    runner.invoke(main, ["import", "sharegpt", str(_src(tmp_path)), "--out", str(tmp_path / "c")])
    res = runner.invoke(
        main, ["corpus", "mask", str(tmp_path / "c"), "--out", str(tmp_path / "m"), "--no-names"]
    )
    assert res.exit_code == 0, res.output
    assert "masked 1 turns" in res.stdout and "email 1" in res.stdout
    assert load_corpus(tmp_path / "m").conversation("s1")["text"].iloc[0] == "Mail [EMAIL]"
    assert load_corpus(tmp_path / "c").conversation("s1")["text"].iloc[0] == "Mail a@b.org"
