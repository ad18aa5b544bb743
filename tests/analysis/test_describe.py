"""describe() and ``annotate describe`` on a real project folder (corpus, codebook, labels)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from click.testing import CliRunner

from annotate.analysis import describe, prevalence
from annotate.cli import main

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[2]


def _jsonl(path: Path) -> Path:
    """Six conversations of three users (two sessions each), two models, two contexts."""
    lines = []
    for c in range(6):
        user_id, session = f"u{c % 3}", c // 3
        msgs = []
        for t in range(8):
            role = "user" if t % 2 == 0 else "assistant"
            msgs.append({"role": role, "content": f"{role} turn {t} of conversation {c}"})
        lines.append(
            {
                "id": f"c{c}",
                "user_id": user_id,
                "created_at": f"2026-01-0{1 + session}T10:0{c}:00Z",
                "model": "alpha" if c % 2 else "beta",
                "meta": {"context": "companionship" if c < 3 else "task"},
                "messages": msgs,
            }
        )
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def _events(coder: str, conversations: list[str], shift: int) -> pd.DataFrame:
    ev = []
    for k, cid in enumerate(conversations):
        for t in range(8):
            if t % 2 == 0 and (t + k + shift) % 4 == 0:
                ev.append((coder, "turn", cid, t, "user_seeks_support", "1"))
            if t % 2 == 1 and (t + k + shift) % 4 == 1:
                ev.append((coder, "turn", cid, t, "ai_empathy", "1"))
        ev.append((coder, "conversation", cid, None, "_status", "done"))
    cols = ["annotator_id", "unit", "conversation_id", "turn_index", "code_id", "value"]
    return pd.DataFrame(ev, columns=cols).assign(op="set")


@pytest.fixture
def project(tmp_path: Path):
    annotate = pytest.importorskip("annotate")
    src = _jsonl(tmp_path / "chats.jsonl")
    annotate.import_corpus(src, "openai", out=tmp_path / "corpus")
    p = annotate.Project.create(
        tmp_path / "project",
        corpus=tmp_path / "corpus",
        codebook=REPO / "codebooks" / "toy.yaml",
        coders=["ann", "bob"],
        per_item=2,
        reliability=0.0,
        seed=0,
    )
    ids = [f"c{c}" for c in range(6)]
    p.append(_events("ann", ids, 0))
    p.append(_events("bob", ids, 1))
    return p


def test_describe_tables_match_the_analyses(project, tmp_path) -> None:
    labels = project.unit_labels(["ann"])
    d = describe(
        labels,
        project.corpus,
        project.codebook,
        out=tmp_path / "out",
        seed=3,
        bootstrap=200,
        permutations=50,
    )
    for name in (
        "prevalence",
        "prevalence_by_role",
        "prevalence_by_model",
        "prevalence_by_context",
        "comparison_model",
        "comparison_context",
        "cooccurrence_turn",
        "cooccurrence_conversation",
        "sequences_lag1",
        "trajectory",
        "start_vs_end",
        "sessions",
        "session_trend",
    ):
        assert name in d.tables, name
    direct = prevalence(labels, project.codebook, corpus=project.corpus, bootstrap=200, seed=3)
    pd.testing.assert_frame_equal(d["prevalence"], direct)
    # every user has two sessions, so each has a slope
    assert d["session_trend"]["n_users"].max() == 3
    assert any("W450" in n for n in d.notes)  # the toy codebook lacks the default query codes
    for name, paths in d.figures.items():
        assert [p.suffix for p in paths] == [".png", ".svg"], name
        assert all(p.stat().st_size > 1000 for p in paths)
    assert (tmp_path / "out" / "prevalence.csv").exists()
    assert "sessions_user_seeks_support" not in d.figures or d.trends is not None


def test_describe_cli_one_coder_json(project) -> None:
    result = CliRunner().invoke(
        main,
        [
            "describe",
            str(project.path),
            "--annotator",
            "ann",
            "--json",
            "--bootstrap",
            "50",
            "--permutations",
            "10",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["labels"] == "ann"
    support = [
        r
        for r in doc["tables"]["prevalence"]
        if r["item"] == "user_seeks_support" and r["unit"] == "turn"
    ]
    # ann: bid when (t + k) % 4 == 0 on even t: 2 of 4 user turns when k is even, else 0
    assert support[0]["count"] == 6 and support[0]["n"] == 24


def test_describe_cli_needs_a_coder_choice(project) -> None:
    result = CliRunner().invoke(main, ["describe", str(project.path), "--bootstrap", "0"])
    assert result.exit_code == 1
    assert "E450" in result.output and "ann, bob" in result.output


def test_describe_cli_gold_and_plots(project, tmp_path) -> None:
    out = tmp_path / "figs"
    result = CliRunner().invoke(
        main,
        [
            "describe",
            str(project.path),
            "--gold",
            "--plots",
            str(out),
            "--bootstrap",
            "50",
            "--permutations",
            "10",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "prevalence_turn.png").exists() and (out / "prevalence_turn.svg").exists()
    assert "Most prevalent codes" in result.output
