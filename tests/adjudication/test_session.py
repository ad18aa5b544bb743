"""The adjudication session on a real project: queue, decisions as durable gold events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import annotate
from annotate.adjudication import Adjudication, disagreements, gold_labels
from annotate.errors import ExportError

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path):
    annotate.import_corpus(REPO / "corpora/demo/demo.jsonl", "openai", out=tmp_path / "corpus")
    p = annotate.Project.create(
        tmp_path / "p", corpus=tmp_path / "corpus",
        codebook=REPO / "codebooks/sdt-socioaffective.yaml", coders=["alice", "bob"],
    )  # fmt: skip
    turn_code = p.codebook.code("ai_empathy")
    conv_code = p.codebook.code("conv_warmth")
    base = {"conversation_id": "c002", "op": "set"}
    events = []
    for who, v_turn, v_conv in (("alice", "1", conv_code.value_ids[1]),
                                ("bob", "0", conv_code.value_ids[3])):  # fmt: skip
        events += [
            {**base, "annotator_id": who, "unit": "turn", "turn_index": 1,
             "code_id": turn_code.id, "value": v_turn},
            {**base, "annotator_id": who, "unit": "conversation", "code_id": conv_code.id,
             "value": v_conv},
            {**base, "annotator_id": who, "unit": "conversation", "code_id": "_status",
             "value": "done"},
        ]  # fmt: skip
    events.append({**base, "annotator_id": "bob", "unit": "turn", "turn_index": 1,
                   "code_id": "_memo", "value": "tone is polite, not empathic"})  # fmt: skip
    p.append(events)
    return p


def test_session_queue_lists_each_disagreement_once(project) -> None:
    items = disagreements(project.unit_labels(), project.labels(history=True))
    keys = {(i.unit, i.turn_index, i.code_id) for i in items}
    assert ("turn", 1, "ai_empathy") in keys
    assert ("conversation", None, "conv_warmth") in keys
    emp = next(i for i in items if i.code_id == "ai_empathy")
    assert emp.values == {"alice": "1", "bob": "0"}
    assert emp.memos == {"bob": "tone is polite, not empathic"}
    assert emp.role == "assistant"
    # units where the coders agree are not in the queue
    labels = project.unit_labels()
    agree = labels.groupby(["unit", "turn_index", "code_id"], dropna=False)["value"].nunique()
    assert len(items) == int((agree > 1).sum())


def test_session_shows_the_latest_memo_by_the_clock_not_by_id(project) -> None:
    """Two memos of one coder from two writers whose ids sort the other way round (e.g. the
    widget and the API): the adjudicator sees the one made last."""
    from annotate.clock import CLOCK

    memo = {"annotator_id": "bob", "unit": "turn", "conversation_id": "c002", "turn_index": 1,
            "code_id": "_memo", "op": "set"}  # fmt: skip
    first_at, second_at = CLOCK.now_us(), CLOCK.now_us() + 5_000_000
    project.append([
        {**memo, "value": "old memo", "event_id": "f" * 32, "created_at": first_at},
        {**memo, "value": "new memo", "event_id": "0" * 32, "created_at": second_at},
    ])  # fmt: skip
    items = disagreements(project.unit_labels(), project.labels(history=True))
    emp = next(i for i in items if i.code_id == "ai_empathy")
    assert emp.memos == {"bob": "new memo"}


def test_session_decisions_are_durable_gold_events(project) -> None:
    adj = Adjudication(project, adjudicator="dana")
    n = len(adj.queue)
    item = next(i for i in adj.queue if i.code_id == "ai_empathy")
    adj.decide(item, "1", kind="codebook_gap", memo="warmth counts", codebook_change="1.0.1")
    assert len(adj.queue) == n - 1
    # a fresh session (another process could be reading) sees the decision on disk
    again = Adjudication(annotate.Project.open(project.path), adjudicator="erin")
    assert len(again.queue) == n - 1
    dec = again.decisions()
    assert len(dec) == 1
    row = dec.iloc[0]
    assert (row.adjudicator, row.kind, row.memo, row.codebook_change) == (
        "dana", "codebook_gap", "warmth counts", "1.0.1",
    )  # fmt: skip
    assert json.loads(row.note)["adjudicator"] == "dana"
    status = project.status()
    assert list(status["coders"]["annotator_id"]) == ["alice", "bob"]  # gold is no coder
    emp = status["codes"].set_index("code_id").loc["ai_empathy"]
    turns = project.corpus.conversation("c002")
    n_assistant = int((turns["role"] == "assistant").sum())  # both coders marked c002 done
    assert int(emp["units_2plus"]) == n_assistant  # implicit absences; gold adds no coder
    gold = gold_labels(project)
    g = gold[(gold.code_id == "ai_empathy") & (gold.turn_index == 1)].iloc[0]
    assert (g.value, g.source, g.n_agree) == ("1", "adjudicated", 1)


def test_session_refuses_bad_input(project) -> None:
    with pytest.raises(ExportError, match="E509"):
        Adjudication(project, adjudicator="../dana")
    adj = Adjudication(project, adjudicator="dana")
    with pytest.raises(ExportError, match="E501"):
        adj.decide(adj.queue[0], "1", kind="tired")
    bad_value = next(i for i in adj.queue if i.code_id == "ai_empathy")
    with pytest.raises(annotate.AnnotateError):
        adj.decide(bad_value, "maybe", kind="other")  # not a value of the code: store refuses
    assert adj.decisions().empty
