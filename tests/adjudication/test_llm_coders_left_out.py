"""Gold labels, the adjudication queue and the export's agreement rest on people: an LLM coder's
label never makes a unit unanimous, never outvotes or blocks a person, and is no case to settle
(its validity is measured against the people in ``annotate agreement``)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "widgets"))
from widget_data import LLM, add_llm_coder, make_project

from annotate.adjudication import Adjudication, gold_labels
from annotate.export import write


def _ev(coder: str, cid: str, turn: int | None, code: str, value: str) -> dict:
    unit = "conversation" if turn is None else "turn"
    return {"annotator_id": coder, "conversation_id": cid, "unit": unit, "turn_index": turn,
            "code_id": code, "value": value, "session_id": "s"}  # fmt: skip


@pytest.fixture
def project(tmp_path):
    """alice codes c1 (one coder per conversation); gpt-x, an LLM coder, codes everything and
    differs from her on user_move of turn 0 and on ai_empathy of turn 1."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = make_project(tmp_path, coders=("alice", "bob"), spans_required=False)
        add_llm_coder(p)
    turns = p.corpus.conversation("c1")
    user = int(turns.loc[turns["role"] == "user", "turn_index"].iloc[0])
    asst = int(turns.loc[turns["role"] == "assistant", "turn_index"].iloc[0])
    p.append([
        _ev("alice", "c1", user, "user_move", "task"),  # gpt-x: support
        _ev("alice", "c1", asst, "ai_empathy", "0"),  # gpt-x: 1
        _ev("alice", "c1", asst, "ai_move", "listen"),  # gpt-x: listen (agrees)
        _ev("bob", "c1", asst, "ai_move", "listen"),
    ])  # fmt: skip
    return p, user, asst


def _value(gold: pd.DataFrame, turn: int, code: str):
    row = gold[(gold["conversation_id"] == "c1") & (gold["turn_index"] == turn)
               & (gold["code_id"] == code)]  # fmt: skip
    assert len(row) == 1, row
    return row.iloc[0]


def test_gold_rests_on_people(project) -> None:
    p, user, asst = project
    gold = gold_labels(p)
    move = _value(gold, user, "user_move")
    assert move["value"] == "task" and move["n_coders"] == 1  # the model does not block alice
    empathy = _value(gold, asst, "ai_empathy")
    assert empathy["value"] == "0" and empathy["n_coders"] == 1
    ai_move = _value(gold, asst, "ai_move")
    assert ai_move["n_coders"] == 2 and ai_move["n_agree"] == 2  # alice and bob, not the model
    assert LLM not in set(gold["annotator_id"])
    # asked for, the model counts like a person: alice and gpt-x disagree, nothing is resolved
    with_llm = gold_labels(p, llm=True)
    assert pd.isna(_value(with_llm, user, "user_move")["value"])
    assert _value(with_llm, asst, "ai_move")["n_coders"] == 3


def test_adjudication_queue_holds_people_disagreements_only(project) -> None:
    p, user, _ = project
    p.append([_ev("bob", "c1", user, "user_move", "support")])  # a real disagreement
    queue = Adjudication(p, adjudicator="dana").queue
    keys = {(i.conversation_id, i.turn_index, i.code_id) for i in queue}
    assert keys == {("c1", user, "user_move")}
    assert set(queue[0].values) == {"alice", "bob"}


def test_export_agreement_and_gold_leave_the_llm_out(project, tmp_path) -> None:
    p = project[0]
    out = write(p, tmp_path / "ds", bootstrap=0, labels="all")
    agreement = pd.read_parquet(out / "agreement.parquet")
    assert agreement["n_coders"].max() == 2  # alice and bob; the model is not pooled in
    long = pd.read_parquet(out / "labels_long.parquet")
    assert LLM in set(long["annotator_id"])  # its labels are exported, with their kind
    assert set(long.loc[long["annotator_id"] == LLM, "kind"]) == {"llm"}
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "rest on the human coders only" in card
