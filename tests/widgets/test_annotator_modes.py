"""The widget's Python side for suggestions and calibration mode, driven by the messages the
front end sends (no browser; the browser tests are tests/e2e/test_suggestions_e2e.py and
tests/e2e/test_calibration_e2e.py)."""

from __future__ import annotations

import pytest
from widget_data import GOLD_SET, LLM, add_gold, add_llm_coder, make_project

from annotate.errors import WidgetError
from annotate.project import Attempt, Calibration
from annotate.widgets.annotator import Annotator


def _widget(project, **kw) -> Annotator:
    w = Annotator(project, annotator="alice", session_id="s-widget", **kw)
    w.sent = []
    w.send = w.sent.append
    return w


def msg(w, **content):
    w._on_msg(w, {"seq": "v:1", **content}, [])
    return w.sent[-1]


def test_suggestions_trait_never_holds_a_hidden_suggestion(tmp_path) -> None:
    p = make_project(tmp_path, reliability=0.5)
    add_llm_coder(p)
    p.set_suggestions("before", LLM)
    w = _widget(p)
    msg(w, type="nav", to=p.queue("alice").index("c5"))  # a reliability conversation
    assert w.conversation["reliability"]
    sug = w.suggestions
    assert (sug["conversation_id"], sug["mode"], sug["coder"]) == ("c5", "after", LLM)
    # c5: 2 user and 2 assistant turns with 2 LLM labels each, and Warmth: all 9 hidden
    assert sug["items"] == [] and sug["hidden"] == 9
    assert "names the feeling" not in repr(w.get_state())  # no reason synced either
    msg(w, type="toggle", code_id="ai_empathy", turn_index=1, elapsed_ms=5)
    (item,) = w.suggestions["items"]
    assert (item["code_id"], item["turn_index"], item["value"], item["shown"]) == (
        "ai_empathy",
        1,
        "1",
        "after",
    )
    assert item["rationale"] == "names the feeling" and w.suggestions["hidden"] == 8
    msg(w, type="nav", to=p.queue("alice").index("c4"))  # outside the sample: hints
    items = w.suggestions["items"]
    assert {x["shown"] for x in items} == {"before"} and w.suggestions["hidden"] == 0
    assert {(x["turn_index"], x["code_id"]) for x in items} >= {
        (0, "user_move"),
        (None, "conv_warmth"),
    }


def test_suggestions_trait_is_off_without_a_setting(tmp_path) -> None:
    p = make_project(tmp_path)
    add_llm_coder(p)
    w = _widget(p)
    assert w.suggestions["mode"] == "off" and w.suggestions["items"] == []


def test_unknown_mode_is_refused(tmp_path) -> None:
    p = make_project(tmp_path)
    with pytest.raises(WidgetError, match=r"\[E630\].*'calibrate'"):
        Annotator(p, annotator="alice", mode="calibrate")


def test_calibration_mode_feedback_lock_and_certification(tmp_path) -> None:
    p = make_project(tmp_path)
    add_gold(p)
    w = _widget(p, mode="calibration")
    assert w.mode == "calibration" and w.calibration["attempt"] == 1
    assert w.calibration["threshold"] == 0.8 and w.calibration["min_units"] == 4
    assert w.conversation["id"] == "c1" and w.feedback == {}
    assert w.suggestions["mode"] == "off"  # calibration never shows an LLM's labels
    for cid in sorted(GOLD_SET):
        assert w.conversation["id"] == cid
        t = w.session.turns()
        first_user = int(t[t["role"] == "user"]["turn_index"].iloc[0])
        msg(w, type="toggle", code_id="user_seeks_support", turn_index=first_user)
        msg(w, type="set", code_id="user_move", value="support", turn_index=first_user)
        msg(w, type="toggle", code_id="ai_empathy", turn_index=1)
        msg(w, type="set", code_id="conv_warmth", value="3", turn_index=None)
        assert w.feedback == {}  # gold is never sent before the conversation is done
        assert msg(w, type="done", elapsed_ms=1)["type"] == "ack"
        assert w.conversation["id"] == cid and w.conversation["status"] == "done"  # stays
        rows = {(r["turn_index"], r["code_id"]): r for r in w.feedback["rows"]}
        assert w.feedback["conversation_id"] == cid
        warmth = rows[(None, "conv_warmth")]
        assert (warmth["gold"], warmth["yours"]) == ("6" if cid == "c1" else "3", "3")
        assert warmth["agree"] is (cid != "c1")
        if cid == "c1":
            assert warmth["explanation"] == "warm throughout, offers to listen"
            reply = msg(w, type="set", code_id="conv_warmth", value="6", turn_index=None)
            assert reply["type"] == "error" and "[E631]" in reply["message"]
            msg(w, type="score")
            assert {r["code_id"] for r in w.score} >= {"ai_empathy", "conv_warmth"}
            assert w.result == {}
        msg(w, type="done")  # seen: go on
    assert w.result["passed"] is True and w.result["codes_assessed"] == 2
    passed = {r["code_id"]: r["passed"] for r in w.score}
    assert passed["ai_empathy"] is True and passed["conv_warmth"] is None  # 3 units < 4
    assert len(p.labels(history=True)) == 0  # the study's labels: none
    events = Attempt(Calibration(p), "alice", 1).labels(history=True)
    assert list(events.loc[events["code_id"] == "conv_warmth", "value"]) == ["3"] * 3
    # a retake is a new attempt in a new widget
    again = _widget(p, mode="calibration", new_attempt=True)
    assert again.calibration["attempt"] == 2 and again.result == {}
