"""Project: creation, the frozen codebook, the assignment plan, blind mode, growth."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from annotate.errors import CorpusError, LabelStoreError, ProjectError
from annotate.project import ASSIGNMENT_COLUMNS, Project

from .conftest import make_corpus


def create(tmp_path: Path, corpus_dir: Path, toy_path: Path, **kw) -> Project:  # type: ignore[no-untyped-def]
    opts = {"coders": ["alice", "bob", "carol"], "per_item": 1, "reliability": 0.2, "seed": 3}
    opts.update(kw)
    return Project.create(tmp_path / "proj", corpus=corpus_dir, codebook=toy_path, **opts)


def test_project_create_writes_the_folder(tmp_path, corpus_dir, toy_path, codebook) -> None:
    p = create(tmp_path, corpus_dir, toy_path)
    doc = json.loads((p.path / "project.json").read_text())
    assert doc["corpus"]["counts"]["conversations"] == 10
    assert len(doc["corpus"]["fingerprint"]) == 64
    assert doc["codebook"]["hash"] == codebook.hash and doc["codebook"]["version"] == "1.0.0"
    assert (p.path / "codebook.yaml").read_bytes() == toy_path.read_bytes()
    assert (p.path / "labels" / "parts").is_dir()
    assert list(p.assignments.columns) == list(ASSIGNMENT_COLUMNS)
    q = Project.open(p.path)
    assert q.coders == ["alice", "bob", "carol"] and q.seed == 3 and q.blind
    assert q.codebook.hash == codebook.hash
    assert len(q.corpus) == 10


def test_project_codebook_copy_is_frozen(tmp_path, corpus_dir, toy_path) -> None:
    edited = tmp_path / "cb.yaml"
    edited.write_text(toy_path.read_text())
    p = create(tmp_path, corpus_dir, edited)
    edited.write_text(toy_path.read_text().replace("Supports autonomy", "Backs autonomy"))
    assert Project.open(p.path).codebook.code("ai_autonomy_support").label == "Supports autonomy"
    frozen = p.path / "codebook.yaml"
    frozen.write_text(edited.read_text())
    with pytest.raises(ProjectError, match="E317"):
        Project.open(p.path)


def test_project_create_refuses_an_existing_project(tmp_path, corpus_dir, toy_path) -> None:
    create(tmp_path, corpus_dir, toy_path)
    with pytest.raises(ProjectError, match="E310"):
        create(tmp_path, corpus_dir, toy_path)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"coders": []}, "E312.*coders"),
        ({"coders": ["alice", "alice"]}, "E312.*twice"),
        ({"coders": ["../x"]}, "E313"),
        ({"coders": ["alice", "gold"]}, "E312.*reserved"),
        ({"coders": "alice,Bob"}, "E313.*'Bob'"),
        ({"per_item": 4}, "E312.*per_item"),
        ({"per_item": 0}, "E312.*per_item"),
        ({"reliability": 1.5}, "E312.*reliability"),
        ({"coders": ["alice"], "reliability": 0.1}, "two or more coders"),
        ({"reliability_coders": 1}, "E312.*reliability_coders"),
    ],
)
def test_project_create_rejects_bad_plans(tmp_path, corpus_dir, toy_path, kw, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ProjectError, match=match):
        create(tmp_path, corpus_dir, toy_path, **kw)
    assert not (tmp_path / "proj").exists()


def test_project_create_reports_a_missing_corpus(tmp_path, toy_path) -> None:
    with pytest.raises(CorpusError):
        create(tmp_path, tmp_path / "nope", toy_path)


def test_project_open_reports_a_non_project(tmp_path) -> None:
    with pytest.raises(ProjectError, match=r"E311.*no project\.json"):
        Project.open(tmp_path)
    (tmp_path / "project.json").write_text("{not json")
    with pytest.raises(ProjectError, match=r"E311.*unreadable"):
        Project.open(tmp_path)
    (tmp_path / "project.json").write_text('{"format": "annotate-project/1", "plan": {}}')
    with pytest.raises(ProjectError, match=r"E311.*lacks corpus\.path"):
        Project.open(tmp_path)


def test_project_missing_plan_is_reported(tmp_path, corpus_dir, toy_path) -> None:
    p = create(tmp_path, corpus_dir, toy_path)
    (p.path / "plan" / "v000001.parquet").unlink()
    with pytest.raises(ProjectError, match=r"E320.*plan/v000001\.parquet is missing"):
        Project.open(p.path)


def test_project_assignment_covers_each_conversation_k_times(tmp_path, toy_path) -> None:
    corpus = make_corpus(tmp_path / "big", n_conversations=60, n_turns=2)
    p = Project.create(
        tmp_path / "p", corpus=corpus, codebook=toy_path, coders=["a", "b", "c", "d"],
        per_item=2, reliability=0.25, seed=1,
    )  # fmt: skip
    a = p.assignments
    per_conv = a.groupby("conversation_id")["annotator_id"].nunique()
    rel = a.groupby("conversation_id")["is_reliability"].first()
    assert len(per_conv) == 60
    assert rel.sum() == 15
    assert (per_conv[rel] == 4).all() and (per_conv[~rel] == 2).all()
    assert not a.duplicated(["conversation_id", "annotator_id"]).any()
    loads = a[~a["is_reliability"]].groupby("annotator_id").size()
    assert loads.max() - loads.min() <= 1


def test_project_plan_is_reproducible_from_the_seed(tmp_path, corpus_dir, toy_path) -> None:
    a = create(tmp_path / "1", corpus_dir, toy_path).assignments
    b = create(tmp_path / "2", corpus_dir, toy_path).assignments
    c = create(tmp_path / "3", corpus_dir, toy_path, seed=4).assignments
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_project_reliability_coders_limits_the_sample(tmp_path, toy_path) -> None:
    corpus = make_corpus(tmp_path / "c", n_conversations=40, n_turns=2)
    p = Project.create(
        tmp_path / "p", corpus=corpus, codebook=toy_path, coders=["a", "b", "c", "d"],
        reliability=0.5, reliability_coders=2, seed=0,
    )  # fmt: skip
    a = p.assignments
    rel = a[a["is_reliability"]].groupby("conversation_id")["annotator_id"].nunique()
    assert len(rel) == 20 and (rel == 2).all()


def test_project_queue_is_stable_and_interleaves_reliability(tmp_path, toy_path) -> None:
    corpus = make_corpus(tmp_path / "c", n_conversations=40, n_turns=2)
    p = Project.create(
        tmp_path / "p", corpus=corpus, codebook=toy_path, coders=["a", "b"], reliability=0.2
    )
    q = p.queue("a")
    assert q == Project.open(p.path).queue("a")
    flags = [p.is_reliability(c) for c in q]
    n_rel = sum(flags)
    assert n_rel == 8
    positions = [i for i, f in enumerate(flags) if f]
    assert positions[0] < len(q) / n_rel  # not all at the start ...
    assert positions[-1] >= len(q) - len(q) / n_rel - 1  # ... spread to the end
    assert [c for c in q if p.is_reliability(c)] == [c for c in p.queue("b") if p.is_reliability(c)]
    with pytest.raises(ProjectError, match="E314"):
        p.queue("zed")


def test_project_add_coders_keeps_existing_assignments(tmp_path, corpus_dir, toy_path) -> None:
    p = create(tmp_path, corpus_dir, toy_path)
    before = p.assignments
    new = p.add_coders(["dave"])
    after = Project.open(p.path).assignments
    pd.testing.assert_frame_equal(after.iloc[: len(before)], before)
    rel = set(before.loc[before["is_reliability"], "conversation_id"])
    assert set(new["conversation_id"]) == rel and (new["annotator_id"] == "dave").all()
    assert Project.open(p.path).coders[-1] == "dave"
    with pytest.raises(ProjectError, match="already coders"):
        p.add_coders("alice")


def test_project_add_conversations_keeps_existing_assignments(tmp_path, toy_path) -> None:
    corpus = make_corpus(tmp_path / "c", n_conversations=10, n_turns=2)
    p = Project.create(
        tmp_path / "p", corpus=corpus, codebook=toy_path, coders=["a", "b"], reliability=0.2
    )
    before = p.assignments
    make_corpus(tmp_path / "c2", n_conversations=20, n_turns=2)
    import shutil

    shutil.rmtree(corpus)
    shutil.copytree(tmp_path / "c2", corpus)
    with pytest.warns(UserWarning, match="W303.*conversations 10 -> 20"):
        q = Project.open(p.path)
    new = q.add_conversations()
    assert set(new["conversation_id"]) == {f"c{i:03d}" for i in range(10, 20)}
    after = Project.open(p.path).assignments  # no warning: fingerprint recorded anew
    pd.testing.assert_frame_equal(after.iloc[: len(before)], before)
    for coder in ("a", "b"):
        old_max = before.loc[before["annotator_id"] == coder, "position"].max()
        added = new[new["annotator_id"] == coder]["position"]
        assert (added > old_max).all()
    assert new["is_reliability"].sum() == 2 * 2  # 20 % of 10, both coders
    with pytest.raises(ProjectError, match="E318"):
        q.add_conversations(["nope"])


def test_project_blind_session_reads_only_own_labels(tmp_path, corpus_dir, toy_path) -> None:
    p = create(tmp_path, corpus_dir, toy_path)
    p.append(
        [
            {"annotator_id": who, "unit": "turn", "conversation_id": "c000", "turn_index": 1,
             "code_id": "ai_empathy", "value": "1"}
            for who in ("alice", "bob")
        ]
    )  # fmt: skip
    s = Project.open(p.path, coder="alice")
    assert s.labels()["annotator_id"].unique().tolist() == ["alice"]
    assert s.labels(history=True)["annotator_id"].unique().tolist() == ["alice"]
    assert s.unit_labels()["annotator_id"].unique().tolist() == ["alice"]
    with pytest.raises(ProjectError, match="E315"):
        s.labels(annotator="bob")
    with pytest.raises(ProjectError, match="E315"):
        s.unit_labels(["bob"])
    with pytest.raises(LabelStoreError, match="not this session's coder"):
        s.append({"annotator_id": "bob", "unit": "turn", "conversation_id": "c000",
                  "turn_index": 1, "code_id": "ai_empathy", "value": "0"})  # fmt: skip
    assert sorted(p.labels()["annotator_id"]) == ["alice", "bob"]  # not a coder session
    assert p.labels(annotator="bob")["annotator_id"].tolist() == ["bob"]
    with pytest.raises(ProjectError, match="E314"):
        Project.open(p.path, coder="zed")


def test_project_without_blind_lets_coders_read_all(tmp_path, corpus_dir, toy_path) -> None:
    p = create(tmp_path, corpus_dir, toy_path, blind=False)
    p.append({"annotator_id": "bob", "unit": "conversation", "conversation_id": "c000",
              "code_id": "_status", "value": "done"})  # fmt: skip
    assert len(Project.open(p.path, coder="alice").labels(annotator="bob")) == 1


def test_project_validates_turns_against_the_corpus(tmp_path, corpus_dir, toy_path) -> None:
    p = create(tmp_path, corpus_dir, toy_path)
    bad = [
        {"annotator_id": "alice", "unit": "turn", "conversation_id": "c000", "turn_index": 0,
         "code_id": "ai_empathy", "value": "1"},  # turn 0 is a user turn
        {"annotator_id": "alice", "unit": "turn", "conversation_id": "c000", "turn_index": 7,
         "code_id": "user_move", "value": "task"},  # no turn 7
        {"annotator_id": "alice", "unit": "conversation", "conversation_id": "zzz",
         "code_id": "_status", "value": "done"},
    ]  # fmt: skip
    with pytest.raises(LabelStoreError) as info:
        p.append(bad)
    reasons = info.value.failure_cases["reason"].tolist()
    assert "applies to assistant turns, but turn 0 of 'c000' is a user turn" in reasons[0]
    assert "has no turn 7" in reasons[1] and "not in the project's corpus" in reasons[2]
    assert len(p.labels(history=True)) == 0


def test_project_moved_corpus_needs_a_path(tmp_path, corpus_dir, toy_path) -> None:
    p = create(tmp_path, corpus_dir, toy_path)
    moved = corpus_dir.rename(tmp_path / "elsewhere")
    q = Project.open(p.path)
    with pytest.raises(ProjectError, match="E316"):
        q.corpus  # noqa: B018
    assert len(Project.open(p.path, corpus=moved).corpus) == 10


def test_project_corrections_and_undo_are_new_events(tmp_path, corpus_dir, toy_path) -> None:
    p = create(tmp_path, corpus_dir, toy_path)
    base = {"annotator_id": "alice", "unit": "turn", "conversation_id": "c000",
            "turn_index": 1, "code_id": "ai_move"}  # fmt: skip
    p.append({**base, "value": "ask"})
    p.append({**base, "value": "inform"})
    p.append({**base, "op": "clear", "value": None})  # undo
    p.append({**base, "value": "ask", "note": "on reflection"})
    hist = p.labels(history=True)
    assert hist["op"].tolist() == ["set", "set", "clear", "set"]
    assert p.labels()[["value", "note"]].values.tolist() == [["ask", "on reflection"]]
