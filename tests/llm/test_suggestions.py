"""Suggestions of an LLM coder in the annotation session (headless; the widget's display of them
comes with the front end): the project setting, the blinding of the reliability sample, the
setting followed elsewhere, and the ``exposure`` every event records on disk.

The LLM coder here is a declared coder (its record, through ``add_llm_coder`` with an HTTP
backend that is never called) whose labels are appended to the store as a run would append
them; the sessions are the real AnnotationSession on a real project and store.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from annotate.errors import ProjectError
from annotate.widgets.session import AnnotationSession

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "widgets"))

from widget_data import make_project

LLM = "gpt-x"


def _llm_events(project) -> list[dict]:
    """The LLM coder's labels on every turn of every conversation (user turns: user_defers
    present and user_move 'support'; assistant turns: ai_empathy present), with rationales."""
    out = []
    for cid in project.corpus.conversation_ids:
        for t in project.corpus.conversation(cid).itertuples():
            base = {
                "annotator_id": LLM,
                "unit": "turn",
                "conversation_id": cid,
                "turn_index": int(t.turn_index),
                "session_id": "run-1",
            }
            if t.role == "user":
                out.append(base | {"code_id": "user_defers", "value": "1"})
                out.append(base | {"code_id": "user_move", "value": "support"})
                why = "LLM rationale\nuser_defers: asks to be told\nuser_move: wants support"
                out.append(base | {"code_id": "_memo", "value": why})
            elif t.role == "assistant":
                out.append(base | {"code_id": "ai_empathy", "value": "1"})
    return out


def _project(tmp_path: Path, *, reliability: float):
    p = make_project(tmp_path, reliability=reliability)
    p.add_llm_coder(LLM, backend="openai", base_url="http://127.0.0.1:9/v1", model="x")
    p.append(_llm_events(p))
    return p


def _turn(session, role: str) -> int:
    t = session.turns()
    return int(t[t["role"] == role]["turn_index"].iloc[0])


def _open_conversation(session, reliability: bool) -> str:
    """Open the first conversation (with a user turn) that is (not) in the reliability sample."""
    for cid in session.queue:
        t = session.turns(cid)
        if session.is_reliability(cid) == reliability and (t["role"] == "user").any():
            session.goto(cid)
            return cid
    raise AssertionError(f"no conversation with reliability={reliability}")


def _events(project, coder: str = "alice") -> pd.DataFrame:
    return project.labels(history=True, annotator=coder)


def test_suggestions_setting_is_versioned_and_checked(tmp_path) -> None:
    p = _project(tmp_path, reliability=0.0)
    assert p.suggestions == {"mode": "off", "coder": None, "version": 0}
    p.set_suggestions("after", LLM)
    p.set_suggestions("before", LLM)
    assert p.suggestions == {"mode": "before", "coder": LLM, "version": 2}
    from annotate.project._settings import settings_history

    assert [h["what"] for h in settings_history(p.path)] == [
        f"suggestions after from {LLM}",
        f"suggestions before from {LLM}",
    ]
    with pytest.raises(ProjectError, match=r"E713.*use one of off, after, before"):
        p.set_suggestions("always", LLM)
    with pytest.raises(ProjectError, match=r"E713.*it is a human coder; LLM coders: gpt-x"):
        p.set_suggestions("after", "alice")
    with pytest.raises(ProjectError, match=r"E713.*name the LLM coder"):
        p.set_suggestions("before")
    assert p.suggestions["version"] == 2  # refused changes wrote nothing


def test_suggestions_reliability_sample_is_blind_until_own_label_whatever_the_setting(
    tmp_path,
) -> None:
    p = _project(tmp_path, reliability=1.0)
    p.set_suggestions("before", LLM)
    s = AnnotationSession(p, "alice")
    cid = _open_conversation(s, reliability=True)
    assert s.suggestion_mode() == "after"  # 'before' does not apply on the reliability sample
    assert s.suggestions() == {}
    payload = s.suggestion_payload()
    assert payload["items"] == [] and payload["hidden"] > 0
    user = _turn(s, "user")
    # the coder's own label, saved with no suggestion in view
    ids = s.set("user_move", "task", turn_index=user)
    seen = s.suggestions()
    assert set(seen) == {(user, "user_move")}  # only that code on that unit is revealed
    sug = seen[(user, "user_move")]
    assert (sug.value, sug.shown, sug.coder) == ("support", "after", LLM)
    assert sug.rationale == "wants support"
    assert s.suggestion("user_defers", user) is None  # not labelled yet: still hidden
    # a change after seeing it is recorded as made after the suggestion
    ids2 = s.set("user_move", "support", turn_index=user)
    ev = _events(p).set_index("event_id")
    assert ev.loc[ids[0], "exposure"] == "none" and ev.loc[ids2[0], "exposure"] == "after"
    # done: everything of the conversation is revealed; the done event itself saw none of
    # the labels it completes (implicit absences)
    done = s.mark_done()
    assert _events(p).set_index("event_id").loc[done[0], "exposure"] == "none"
    assert s.suggestion_payload()["hidden"] == 0
    assert all(x.shown == "after" for x in s.suggestions().values())
    assert s.suggestions(cid) == s.suggestions()


def test_suggestions_before_outside_the_reliability_sample(tmp_path) -> None:
    p = _project(tmp_path, reliability=0.5)
    p.set_suggestions("before", LLM)
    s = AnnotationSession(p, "alice")
    _open_conversation(s, reliability=False)
    user, ai = _turn(s, "user"), _turn(s, "assistant")
    assert s.suggestion_mode() == "before"
    seen = s.suggestions()
    assert {(user, "user_defers"), (user, "user_move"), (ai, "ai_empathy")} <= set(seen)
    assert all(x.shown == "before" for x in seen.values())
    assert seen[(user, "user_defers")].rationale == "asks to be told"
    ids = s.toggle("user_defers", turn_index=user)  # accepts the hint
    memo = s.memo("a note", turn_index=ai)
    done = s.mark_done()
    ev = _events(p).set_index("event_id")
    assert ev.loc[ids[0], "exposure"] == "before"
    assert ev.loc[memo[0], "exposure"] == "before"
    assert ev.loc[done[0], "exposure"] == "before"  # it completes labels made with hints
    # the reliability conversations of the same session stay blind
    _open_conversation(s, reliability=True)
    assert s.suggestion_mode() == "after" and s.suggestions() == {}


def test_suggestions_after_outside_the_reliability_sample_and_off(tmp_path) -> None:
    p = _project(tmp_path, reliability=0.0)
    p.set_suggestions("after", LLM)
    s = AnnotationSession(p, "alice")
    _open_conversation(s, reliability=False)
    ai = _turn(s, "assistant")
    assert s.suggestions() == {}
    first = s.toggle("ai_empathy", turn_index=ai)
    assert s.suggestion("ai_empathy", ai).shown == "after"
    again = s.toggle("ai_empathy", turn_index=ai)  # switched off after seeing the model's value
    ev = _events(p).set_index("event_id")
    assert ev.loc[first[0], "exposure"] == "none" and ev.loc[again[0], "exposure"] == "after"
    # off: nothing is shown, every event says none
    p.set_suggestions("off")
    s.goto(s.index)  # opening a conversation reads the setting again
    assert s.suggestion_mode() == "off" and s.suggestions() == {}
    third = s.toggle("ai_empathy", turn_index=ai)
    assert _events(p).set_index("event_id").loc[third[0], "exposure"] == "none"


def test_suggestions_revealed_stay_revealed_in_a_new_session(tmp_path) -> None:
    p = _project(tmp_path, reliability=1.0)
    p.set_suggestions("after", LLM)
    s = AnnotationSession(p, "alice")
    cid = _open_conversation(s, reliability=True)
    user = _turn(s, "user")
    s.set("user_move", "task", turn_index=user)
    # a new session (kernel restart) of the same coder: what was revealed stays revealed
    from annotate.project import Project

    s2 = AnnotationSession(Project.open(p.path, coder="alice"), "alice")  # a blind session
    s2.goto(cid)
    assert set(s2.suggestions()) == {(user, "user_move")}
    later = s2.set("user_move", "support", turn_index=user)
    assert _events(p).set_index("event_id").loc[later[0], "exposure"] == "after"
    # bob, on the same conversation, has seen nothing
    b = AnnotationSession(p, "bob")
    b.goto(cid)
    assert b.suggestions() == {}
    ids = b.set("user_move", "task", turn_index=user)
    assert _events(p, "bob").set_index("event_id").loc[ids[0], "exposure"] == "none"


def test_suggestions_every_session_event_records_exposure(tmp_path) -> None:
    p = _project(tmp_path, reliability=0.5)
    s = AnnotationSession(p, "alice")  # setting off
    _open_conversation(s, reliability=False)
    s.toggle("user_defers", turn_index=_turn(s, "user"))
    s.flag(note="why")
    s.skip("not a chat")
    ev = _events(p)
    assert len(ev) == 3 and set(ev["exposure"]) == {"none"}


def test_suggestions_cli_project_set(tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from annotate.cli import main

    p = _project(tmp_path, reliability=0.5)

    def run(*args: str):
        res = CliRunner().invoke(main, ["project", "set", str(p.path), *args])
        return res.exit_code, res.stdout, res.stderr

    code, out, err = run("--suggestions", "after", "--suggest-from", LLM)
    assert code == 0, err
    assert f"suggestions after from {LLM} (settings version 1)" in out
    code, out, _ = run("--suggestions", "before", "--json")  # the coder is kept
    doc = json.loads(out)
    assert doc["suggestions"] == {"mode": "before", "coder": LLM, "version": 2}
    assert [h["version"] for h in doc["history"]] == [1, 2]
    code, out, err = run("--suggestions", "after", "--suggest-from", "alice")
    assert code == 1 and "E713" in err and "Traceback" not in out + err
    assert "annotate project set PROJECT" in err  # the command-line form of the hint
    assert p.suggestions["version"] == 2
