"""The headless AnnotationSession against a real project and label store."""

from __future__ import annotations

import json

import pytest

from annotate.clock import CLOCK
from annotate.errors import WidgetError
from annotate.widgets.session import AnnotationSession


def events(project, **match):
    df = project.labels(history=True)
    for k, v in match.items():
        df = df[df[k] == v]
    return df


def test_session_queue_and_resume_start_at_first(session, project):
    assert session.queue == list(project.queue("alice"))
    assert session.index == 0
    assert session.progress() == (0, len(session.queue))


def test_session_unknown_annotator_raises(project):
    with pytest.raises(WidgetError, match="E601"):
        AnnotationSession(project, "mallory")


def test_session_toggle_writes_set_then_clear(session, project):
    ti = int(session.turns()["turn_index"][0])
    role = session.turns()["role"][0]
    code = session.codes_for("turn", role)[0]
    ids = session.toggle(code.id, turn_index=ti, elapsed_ms=1234)
    assert len(ids) == 1 and session.value(code.id, ti) == code.present_value
    ev = events(project, event_id=ids[0]).iloc[0]
    assert ev["op"] == "set" and ev["value"] == code.present_value
    assert ev["annotator_id"] == "alice" and ev["session_id"] == "s-test"
    assert ev["context"] == "full" and int(ev["elapsed_ms"]) == 1234
    assert ev["unit"] == "turn" and int(ev["turn_index"]) == ti
    session.toggle(code.id, turn_index=ti)
    assert session.value(code.id, ti) is None
    hist = events(project, code_id=code.id)
    assert list(hist["op"]) == ["set", "clear"]
    assert len(project.labels(annotator="alice").query("code_id == @code.id")) == 0


def test_session_set_code_sorted_json(session, project):
    session.goto(_first_with_role(session, "user"))
    ti = _turn_of_role(session, "user")
    ids = session.set("user_emotions", ["sadness", "anger"], turn_index=ti)
    stored = events(project, event_id=ids[0]).iloc[0]["value"]
    assert json.loads(stored) == ["anger", "sadness"]


def test_session_bad_value_is_refused_before_queueing(session):
    with pytest.raises(WidgetError, match="E605"):
        session.set("conv_warmth", "99")
    with pytest.raises(WidgetError, match="E605"):
        session.set("conv_warmth", "3", turn_index=0)  # a conversation code on a turn
    assert session.pending == []


@pytest.mark.parametrize(
    ("code_id", "value", "turn"),
    [
        ("_memo", "\u0085", None),  # the browser's trim() keeps it, the store refuses it
        ("_memo", "\u0085", 0),
        ("_flag", "yes", None),
        ("_flag", "yes", 0),
        ("_memo", "bad \udc80 text", None),  # a lone surrogate
    ],
)
def test_session_refused_change_never_blocks_later_saves(session, project, code_id, value, turn):
    """A value the store refuses is reported and dropped; every later save still works."""
    with pytest.raises(WidgetError, match="E605"):
        session.set(code_id, value, turn_index=turn)
    assert session.pending == [] and session.last_error is None
    assert session.value(code_id, turn) is None
    ids = session.set("conv_warmth", "3")
    assert len(ids) == 1 and session.pending == []
    session.undo()  # undoes the last saved change; the refused one left no trace to undo
    assert session.value("conv_warmth") is None and session.undo() == []
    stored = project.labels(annotator="alice")
    assert code_id not in set(stored["code_id"])


def test_session_last_action_wins_when_the_wall_clock_steps_back(project, monkeypatch):
    """Set, then the wall clock steps back 10 minutes, then clear: the code is off everywhere."""
    from annotate import clock as clock_module

    now = {"ns": clock_module.time.time_ns()}
    monkeypatch.setattr(clock_module.time, "time_ns", lambda: now["ns"])
    s = AnnotationSession(project, "alice")
    s.set("conv_warmth", "3")
    now["ns"] -= 10 * 60 * 10**9
    s.set("conv_warmth", None)
    assert s.value("conv_warmth") is None
    assert "conv_warmth" not in set(project.labels(annotator="alice")["code_id"])
    # a new session (a restarted kernel) whose wall clock is still behind: its change wins too
    CLOCK._last_us = 0  # what a fresh process starts from
    s2 = AnnotationSession(project, "alice")
    s2.set("conv_warmth", "5")
    current = project.labels(annotator="alice")
    assert list(current.loc[current["code_id"] == "conv_warmth", "value"]) == ["5"]


def test_session_undo_restores_previous_value(session, project):
    session.set("conv_warmth", "3")
    session.set("conv_warmth", "5")
    session.undo()
    assert session.value("conv_warmth") == "3"
    session.undo()
    assert session.value("conv_warmth") is None
    assert session.undo() == []
    assert list(events(project, code_id="conv_warmth")["op"]) == ["set", "set", "set", "clear"]


def test_session_undo_only_in_open_conversation(session):
    session.set("conv_warmth", "3")
    session.next()
    assert session.undo() == []
    session.previous()
    session.undo()
    assert session.value("conv_warmth") is None


def test_session_memo_flag_status(session, project):
    session.memo("  unsure about turn 1 ", turn_index=1)
    session.flag(note="discuss", turn_index=1)
    session.mark_done()
    cur = project.labels(annotator="alice")
    got = {(r.code_id, r.value) for r in cur.itertuples()}
    assert {("_memo", "unsure about turn 1"), ("_flag", "1"), ("_status", "done")} <= got
    assert session.status() == "done" and session.progress()[0] == 1


def test_session_skip_needs_reason(session, project):
    with pytest.raises(WidgetError, match="E607"):
        session.skip("  ")
    session.skip("not a companion chat")
    ev = events(project, code_id="_status").iloc[-1]
    assert ev["value"] == "skipped" and ev["note"] == "not a companion chat"


def test_session_next_finish_marks_done_only_after_last_turn(session):
    first = session.conversation_id
    session.next(finish=True)
    assert session.status(first) is None
    session.previous()
    session.focus(len(session.turns()) - 1)
    session.next(finish=True)
    assert session.status(first) == "done" and session.index == 1


def test_session_resume_opens_first_unfinished(project):
    s = AnnotationSession(project, "alice")
    s.mark_done()
    s.next()
    s.skip("off topic")
    again = AnnotationSession(project, "alice")
    assert again.index == 2
    assert again.progress() == (2, len(again.queue))


def test_session_blind_reads_only_own_labels(project):
    bob = AnnotationSession(project, "bob")
    bob.goto("c4")
    bob.set("conv_warmth", "7")
    bob.mark_done()
    alice = AnnotationSession(project, "alice")
    alice.goto("c4")
    assert alice.value("conv_warmth") is None and alice.status("c4") is None
    assert all(k[1] != "c4" or k[3] != "conv_warmth" for k in alice.labels("c4"))


def test_session_failing_store_keeps_pending_and_retries(session, project, monkeypatch):
    real_append = project.append
    calls = {"n": 0}

    def flaky(events):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise OSError("disk full")
        return real_append(events)

    monkeypatch.setattr(project, "append", flaky)
    with pytest.raises(WidgetError, match="E606"):
        session.set("conv_warmth", "4")
    assert session.value("conv_warmth") == "4"  # the change stays visible, unsaved
    assert len(session.pending) == 1 and "disk full" in session.last_error
    with pytest.raises(WidgetError, match="E606"):
        session.set("conv_human_bonds", session.codebook.code("conv_human_bonds").value_ids[0])
    assert len(session.pending) == 2
    ids = session.retry()
    assert len(ids) == 2 and session.pending == [] and session.last_error is None
    assert set(events(project)["event_id"]) >= set(ids)


def test_session_elapsed_from_clock(project, clock):
    s = AnnotationSession(project, "alice", clock=clock)
    clock.now += 2.5
    ids = s.set("conv_warmth", "2")
    assert int(events(project, event_id=ids[0]).iloc[0]["elapsed_ms"]) == 2500


def test_session_goto_bad_target(session):
    with pytest.raises(WidgetError, match="E603"):
        session.goto("nope")
    with pytest.raises(WidgetError, match="E604"):
        session.goto(99)


def test_session_event_ids_are_unique_and_ordered():
    ids = [CLOCK.event_id() for _ in range(200)]
    assert len(set(ids)) == 200
    assert ids[0][:8] <= ids[-1][:8]


def test_session_reliability_flag(tmp_path):
    from widget_data import make_project

    p = make_project(tmp_path, reliability=1.0)
    s = AnnotationSession(p, "alice")
    assert s.is_reliability()


def _first_with_role(session, role):
    for cid in session.queue:
        if (session.turns(cid)["role"] == role).any():
            return cid
    raise AssertionError(role)


def _turn_of_role(session, role):
    t = session.turns()
    return int(t[t["role"] == role]["turn_index"].iloc[0])


def test_session_next_at_end_goes_to_first_unfinished(session):
    session.goto(len(session.queue) - 1)
    session.next()
    assert session.index == 0


def test_session_code_must_apply_to_the_turn_role(session):
    session.goto("c1")  # turn 0 is the user's
    with pytest.raises(WidgetError, match="E605"):
        session.set("ai_empathy", "1", turn_index=0)
    with pytest.raises(WidgetError, match="E605"):
        session.set("user_defers", "1", turn_index=99)
    assert session.pending == []
