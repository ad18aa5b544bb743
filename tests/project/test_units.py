"""Project.unit_labels (implicit absence) and Project.status, checked by hand-counted cases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from annotate.project import UNIT_LABEL_COLUMNS, Project

TURN_BINARY = {"assistant": ["ai_autonomy_support", "ai_empathy", "ai_pressure"],
               "user": ["user_defers", "user_seeks_support"]}  # fmt: skip


@pytest.fixture()
def project(tmp_path: Path, corpus_dir: Path, toy_path: Path) -> Project:
    return Project.create(
        tmp_path / "p", corpus=corpus_dir, codebook=toy_path, coders=["alice", "bob"],
        reliability=1.0, seed=0,
    )  # fmt: skip


def turn(who: str, cid: str, t: int, code: str, value: object = "1", **kw) -> dict:  # type: ignore[no-untyped-def]
    return {"annotator_id": who, "unit": "turn", "conversation_id": cid, "turn_index": t,
            "code_id": code, "value": value, **kw}  # fmt: skip


def status(who: str, cid: str, value: str = "done") -> dict:  # type: ignore[no-untyped-def]
    return {"annotator_id": who, "unit": "conversation", "conversation_id": cid,
            "code_id": "_status", "value": value}  # fmt: skip


def _values(units: pd.DataFrame, who: str, cid: str) -> dict[tuple[int, str], str]:
    sel = units[(units["annotator_id"] == who) & (units["conversation_id"] == cid)]
    return {
        (int(t), c): v
        for t, c, v in sel[["turn_index", "code_id", "value"]].itertuples(index=False)
    }


def test_units_done_conversation_gets_implicit_absences(project: Project) -> None:
    project.append([turn("alice", "c000", 1, "ai_empathy"),
                    turn("alice", "c000", 0, "user_move", "task"),
                    status("alice", "c000")])  # fmt: skip
    units = project.unit_labels()
    assert list(units.columns) == list(UNIT_LABEL_COLUMNS)
    got = _values(units, "alice", "c000")
    expected = {(1, "ai_empathy"): "1", (0, "user_move"): "task"}
    for t, role in enumerate(["user", "assistant", "user", "assistant"]):
        for code in TURN_BINARY[role]:
            expected.setdefault((t, code), "0")
    assert got == expected  # nominal/set codes never implicit; roles respected
    roles = units.set_index(["turn_index", "code_id"])["role"]
    assert roles[(1, "ai_empathy")] == "assistant" and roles[(2, "user_defers")] == "user"


def test_units_without_done_no_absences(project: Project) -> None:
    project.append([turn("alice", "c001", 1, "ai_empathy"), status("alice", "c001", "skipped"),
                    turn("bob", "c002", 1, "ai_pressure")])  # fmt: skip
    units = project.unit_labels()
    assert len(units) == 2 and set(units["value"]) == {"1"}


def test_units_done_is_per_coder(project: Project) -> None:
    project.append([status("bob", "c003"), turn("alice", "c003", 1, "ai_empathy")])
    units = project.unit_labels()
    assert _values(units, "alice", "c003") == {(1, "ai_empathy"): "1"}
    assert len(_values(units, "bob", "c003")) == 10  # 2 user x 2 + 2 assistant x 3


def test_units_clear_counts_as_absent_once_done(project: Project) -> None:
    project.append(turn("alice", "c004", 3, "ai_pressure"))
    project.append(turn("alice", "c004", 3, "ai_pressure", None, op="clear"))
    project.append(status("alice", "c004"))
    got = _values(project.unit_labels(), "alice", "c004")
    assert got[(3, "ai_pressure")] == "0" and len(got) == 10


def test_units_status_cleared_again_removes_absences(project: Project) -> None:
    project.append(status("alice", "c005"))
    project.append({**status("alice", "c005"), "op": "clear", "value": None})
    assert len(project.unit_labels()) == 0


def test_units_conversation_units_have_no_role(project: Project) -> None:
    project.append({"annotator_id": "bob", "unit": "conversation", "conversation_id": "c006",
                    "code_id": "conv_warmth", "value": "6"})  # fmt: skip
    units = project.unit_labels()
    assert units["role"].isna().all() and units["turn_index"].isna().all()
    assert units["value"].tolist() == ["6"]


def test_units_filter_by_annotators(project: Project) -> None:
    project.append([status("alice", "c007"), status("bob", "c007")])
    assert set(project.unit_labels(["bob"])["annotator_id"]) == {"bob"}
    assert len(project.unit_labels()) == 20


def test_units_status_counts(project: Project) -> None:
    project.append([turn("alice", "c000", 1, "ai_empathy", elapsed_ms=30_000),
                    status("alice", "c000"),
                    turn("bob", "c000", 1, "ai_empathy", elapsed_ms=90_000), status("bob", "c000"),
                    turn("bob", "c001", 0, "user_move", "task", elapsed_ms=60_000)])  # fmt: skip
    st = project.status()
    coders = st["coders"].set_index("annotator_id")
    assert coders.loc["alice", "done"] == 1 and coders.loc["alice", "assigned"] == 10
    assert coders.loc["bob", "time_spent_min"] == 2.5
    assert coders.loc["alice", "reliability_done"] == 1
    assert coders.loc["bob", "last_activity"] > coders.loc["alice", "last_activity"]
    codes = st["codes"].set_index("code_id")
    assert codes.loc["ai_empathy", "units_2plus"] == 2  # turns 1 and 3 of c000
    assert codes.loc["user_defers", "units_2plus"] == 2
    assert codes.loc["user_move", "units_coded"] == 1 and codes.loc["user_move", "units_2plus"] == 0
    assert codes.loc["conv_warmth", "units_coded"] == 0
