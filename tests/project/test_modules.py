"""Codebook modules of a project: chosen at init, listed by status, explained by W450/E456,
and sequence questions passed to ``annotate describe --queries FILE``."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from annotate.analysis import SequenceQuery, sequence_queries
from annotate.cli import main
from annotate.errors import AnalysisError
from annotate.project import Project

from .conftest import make_corpus

REPO = Path(__file__).resolve().parents[2]
SDT = REPO / "codebooks" / "sdt-socioaffective.yaml"
TRUST = {"ai_pushback", "user_trust", "user_challenge", "user_withdrawal", "user_goodbye",
         "conv_repair"}  # fmt: skip


def _labelled(tmp_path: Path, modules: str | list[str], name: str = "p") -> Project:
    """Ten conversations of four turns coded by one coder: support bids on user turns, empathy
    and (with the trust module) user challenges and AI pushback."""
    corpus = tmp_path / "c"
    if not corpus.exists():
        make_corpus(corpus, n_conversations=10, n_turns=4)
    p = Project.create(tmp_path / name, corpus=corpus, codebook=SDT, coders=["a", "b"],
                       per_item=2, modules=modules)  # fmt: skip
    ev = []
    for k in range(10):
        cid = f"c{k:03d}"
        if k % 2 == 0:
            ev.append(("turn", cid, 0, "user_support_seeking", "1"))
            ev.append(("turn", cid, 1, "ai_empathy", "1"))
        if "trust" in p.modules and k % 3 == 0:
            ev.append(("turn", cid, 2, "user_challenge", "1"))
            ev.append(("turn", cid, 3, "ai_pushback", "1"))
        ev.append(("conversation", cid, None, "_status", "done"))
    cols = ["unit", "conversation_id", "turn_index", "code_id", "value"]
    p.append(pd.DataFrame(ev, columns=cols).assign(annotator_id="a"))
    return p


def test_modules_chosen_at_init_and_listed(tmp_path) -> None:
    p = Project.create(tmp_path / "p", corpus=make_corpus(tmp_path / "c"), codebook=SDT,
                       coders="a,b", per_item=2, modules="trust,sycophancy")  # fmt: skip
    assert p.modules == ["trust", "sycophancy"]
    assert TRUST <= set(p.codebook.code_ids) and "ai_flattery" in p.codebook.code_ids
    assert "ai_anthropomorphism" not in p.codebook.code_ids
    q = Project.open(p.path)
    assert q.modules == ["trust", "sycophancy"] and q.codebook.hash == p.codebook.hash
    res = CliRunner().invoke(main, ["project", "status", str(p.path), "--json"])
    assert json.loads(res.output)["modules"] == ["trust", "sycophancy"]
    none = Project.create(tmp_path / "n", corpus=make_corpus(tmp_path / "c2"), codebook=SDT,
                          coders="a,b", per_item=2, modules="none")  # fmt: skip
    assert none.modules == [] and not TRUST & set(none.codebook.code_ids)
    res = CliRunner().invoke(
        main,
        ["project", "init", str(tmp_path / "x"), "--corpus", str(tmp_path / "c"), "--codebook",
         str(SDT), "--coders", "a,b", "--per-item", "2", "--modules", "trust,nope"],
    )  # fmt: skip
    assert res.exit_code == 1 and "E207" in res.output and "nope" in res.output
    assert not (tmp_path / "x").exists()


def test_modules_w450_says_which_module_is_not_loaded(tmp_path) -> None:
    p = _labelled(tmp_path, modules=[])
    with pytest.warns(UserWarning, match="W450") as caught:
        sequence_queries(p.unit_labels(), p.codebook, annotator="a", permutations=10, seed=0)
    text = str(caught[0].message)
    # "pushback_hold_or_cave" needs user_challenge (trust) and the sycophancy codes
    assert "pushback_hold_or_cave" in text
    assert (
        "user_challenge" in text and "module(s) " in text and "not loaded in this project" in text
    )
    assert "add --modules companionship,sycophancy,trust" in text
    assert "Project.create(..., modules=" in text  # a Python caller gets a Python hint
    # a code that no module of the codebook has is reported as such
    toy = Project.create(tmp_path / "t", corpus=tmp_path / "c", codebook=REPO / "codebooks" /
                         "toy.yaml", coders="a,b", per_item=2)  # fmt: skip
    toy.append([{"annotator_id": "a", "unit": "turn", "conversation_id": "c000",
                 "turn_index": 1, "code_id": "ai_empathy", "value": "1"},
                {"annotator_id": "a", "unit": "conversation", "conversation_id": "c000",
                 "code_id": "_status", "value": "done"}])  # fmt: skip
    with pytest.warns(UserWarning, match="W450") as caught:
        sequence_queries(toy.unit_labels(), toy.codebook, permutations=10, seed=0)
    text = str(caught[0].message)
    not_loaded, _, unknown = text.partition("not loaded in this project")
    assert "user_support_seeking are not in codebook 'toy'" in unknown
    assert "user_support_seeking" not in not_loaded  # toy has no module with that code


def test_modules_explicit_query_on_a_module_code(tmp_path) -> None:
    p = _labelled(tmp_path, modules=[])
    q = SequenceQuery("mine", ("user_challenge",), ("ai_pushback",))
    with pytest.raises(AnalysisError, match=r"E456.*user_challenge \(module trust, not loaded"):
        sequence_queries(p.unit_labels(), p.codebook, annotator="a", queries=[q])


def test_modules_describe_runs_queries_from_a_file(tmp_path) -> None:
    p = _labelled(tmp_path, modules=["trust"])
    qfile = tmp_path / "queries.yaml"
    qfile.write_text(
        "queries:\n"
        "  - name: challenge_pushback\n"
        "    antecedent: [user_challenge]\n"
        "    consequent: ai_pushback\n"
        "    question: After a challenge, does the AI push back?\n"
    )
    args = ["describe", str(p.path), "--annotator", "a", "--bootstrap", "0",
            "--permutations", "10", "--queries", str(qfile), "--json"]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)["tables"]["sequence_queries"]
    assert [r["query"] for r in rows] == ["challenge_pushback"]
    # c000, c003, c006, c009: a challenge on turn 2, pushback on turn 3, always
    # 10 conversations x 2 user -> assistant transitions = 20; 4 with a challenge
    row = rows[0]
    assert (row["count"], row["given_n"], row["n"]) == (4, 4, 20)
    assert row["probability"] == pytest.approx(1.0)
    bad = tmp_path / "bad.yaml"
    bad.write_text("- name: x\n  antecedent: [user_challenge]\n  consequent: []\n")
    res = CliRunner().invoke(main, [*args[:-3], "--queries", str(bad)])
    assert (
        res.exit_code == 1 and "E902" in res.output and "query 1 (line 1): consequent" in res.output
    )
    other = _labelled(tmp_path, modules="none", name="o")
    res = CliRunner().invoke(main, ["describe", str(other.path), "--annotator", "a",
                                    "--queries", str(qfile)])  # fmt: skip
    assert res.exit_code == 1 and "E456" in res.output
    assert "user_challenge (module trust, not loaded in this project: add --modules trust)" in (
        res.output
    )
