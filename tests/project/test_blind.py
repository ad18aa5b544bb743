"""Blind mode: every read path of a coder-scoped project holds only that coder's labels."""

from __future__ import annotations

import pandas as pd
import pytest

from annotate.errors import LabelStoreError
from annotate.project import Project


def _two_coders(tmp_path, corpus_dir, toy_path, blind: bool = True) -> Project:  # type: ignore[no-untyped-def]
    p = Project.create(tmp_path / "p", corpus=corpus_dir, codebook=toy_path,
                       coders=["alice", "bob"], reliability=0.2, blind=blind)  # fmt: skip
    cid = sorted(p.assignments.loc[p.assignments["is_reliability"], "conversation_id"])[0]
    rows = []
    for who, value in (("alice", "1"), ("bob", "0")):
        rows += [
            {"annotator_id": who, "unit": "turn", "conversation_id": cid, "turn_index": 1,
             "code_id": "ai_empathy", "value": value, "elapsed_ms": 60_000},
            {"annotator_id": who, "unit": "conversation", "conversation_id": cid,
             "code_id": "_status", "value": "done"},
        ]  # fmt: skip
    p.append(rows)
    return p


def test_blind_store_of_a_coder_session_reads_only_that_coder(
    tmp_path, corpus_dir, toy_path
) -> None:
    p = _two_coders(tmp_path, corpus_dir, toy_path)
    s = Project.open(p.path, coder="alice")
    assert set(s.store.current()["annotator_id"]) == {"alice"}
    assert set(s.store.events()["annotator_id"]) == {"alice"}
    mine = p.labels(history=True)
    assert s.store.latest_us() == int(
        mine.loc[mine["annotator_id"] == "alice", "created_at"].max().value // 1000
    )
    with pytest.raises(LabelStoreError, match="E306"):
        s.store.latest_us("bob")
    with pytest.raises(LabelStoreError, match="E306"):
        s.store.current("bob")
    assert len(p.store.current()) == 4  # the project opened without coder= sees everyone


def test_blind_status_of_a_coder_session_is_their_own(tmp_path, corpus_dir, toy_path) -> None:
    p = _two_coders(tmp_path, corpus_dir, toy_path)
    st = Project.open(p.path, coder="alice").status()
    assert st["coders"]["annotator_id"].tolist() == ["alice"]
    assert st["coders"]["done"].tolist() == [1] and st["coders"]["time_spent_min"].tolist() == [1.0]
    codes = st["codes"].set_index("code_id")
    assert codes.loc["ai_empathy", "units_coded"] == 2  # turn 1 set, turn 3 implicitly absent
    assert codes["units_2plus"].isna().all()  # needs everyone's labels
    full = p.status()
    assert sorted(full["coders"]["annotator_id"]) == ["alice", "bob"]
    assert full["codes"].set_index("code_id").loc["ai_empathy", "units_2plus"] == 2


def test_blind_widget_session_project_is_scoped(tmp_path, corpus_dir, toy_path) -> None:
    from annotate.widgets.session import AnnotationSession

    p = _two_coders(tmp_path, corpus_dir, toy_path)
    session = AnnotationSession(Project.open(p.path, coder="alice"), "alice")
    proj = session.project
    assert set(proj.store.current()["annotator_id"]) == {"alice"}
    assert set(proj.labels()["annotator_id"]) == {"alice"}
    units = proj.unit_labels()
    assert set(units["annotator_id"]) == {"alice"}
    empathy = units[(units["code_id"] == "ai_empathy") & (units["turn_index"] == 1)]
    assert empathy["value"].tolist() == ["1"]


def test_blind_off_lets_a_coder_session_read_everyone(tmp_path, corpus_dir, toy_path) -> None:
    p = _two_coders(tmp_path, corpus_dir, toy_path, blind=False)
    s = Project.open(p.path, coder="alice")
    assert sorted(s.labels()["annotator_id"]) == ["alice", "alice", "bob", "bob"]
    assert sorted(s.status()["coders"]["annotator_id"]) == ["alice", "bob"]
    events = pd.DataFrame(s.labels(history=True))
    assert set(events["annotator_id"]) == {"alice", "bob"}
