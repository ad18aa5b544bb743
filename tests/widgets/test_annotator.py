"""The widget's Python side, driven by the messages the front end sends (no browser)."""

from __future__ import annotations

import pytest

from annotate.widgets.annotator import Annotator


class Sent(list):
    """Collects what the widget sends to the front end."""


@pytest.fixture
def widget(project):
    w = Annotator(project, annotator="alice", session_id="s-widget")
    w.sent = Sent()
    w.send = w.sent.append  # the comm would carry these to the browser
    return w


def msg(w, **content):
    w._on_msg(w, content, [])
    return w.sent[-1] if w.sent else None


def test_annotator_initial_state(widget, project):
    assert widget.annotator_id == "alice"
    assert widget.conversation["id"] == project.queue("alice")[0]
    assert widget.progress == {"done": 0, "total": len(project.queue("alice")), "index": 0}
    assert set(widget.codebook_data["turn"]["user"]) == {
        c.id for c in project.codebook.codes_for("turn", "user")
    }
    assert widget.save_state["status"] == "saved"


def test_annotator_set_acks_after_store(widget, project):
    conv = widget.conversation
    t = next(t for t in conv["turns"] if t["role"] == "assistant")
    code_id = widget.codebook_data["turn"]["assistant"][0]
    reply = msg(
        widget, type="set", seq="v:1", code_id=code_id, value="1", turn_index=t["i"], elapsed_ms=50
    )
    assert reply["type"] == "ack" and reply["seq"] == "v:1" and len(reply["event_ids"]) == 1
    stored = project.labels(history=True)
    assert reply["event_ids"][0] in set(stored["event_id"])  # on disk before the ack
    assert widget.labels["t"][str(t["i"])][code_id] == "1"
    assert widget.labels["unsaved"] == []


def test_annotator_store_error_is_reported_and_retried(widget, project, monkeypatch):
    real = project.append
    monkeypatch.setattr(project, "append", lambda ev: (_ for _ in ()).throw(OSError("disk full")))
    reply = msg(widget, type="set", seq="v:1", code_id="conv_warmth", value="4", elapsed_ms=1)
    assert reply["type"] == "error" and "disk full" in reply["message"] and reply["pending"] == 1
    assert widget.save_state["status"] == "error"
    assert widget.labels["c"]["conv_warmth"] == "4" and widget.labels["unsaved"] == [
        "c:conv_warmth"
    ]
    monkeypatch.setattr(project, "append", real)
    reply = msg(widget, type="retry", seq="v:2")
    assert reply["type"] == "ack" and len(reply["event_ids"]) == 1
    assert widget.save_state["status"] == "saved" and widget.labels["unsaved"] == []


def test_annotator_nav_finish_and_progress(widget, project):
    first = widget.conversation["id"]
    last = widget.conversation["turns"][-1]["i"]
    msg(widget, type="nav", seq="v:1", to="finish", reached_end=False)
    assert widget.conversation["index"] == 1 and widget.progress["done"] == 0
    msg(widget, type="nav", seq="v:2", to="prev")
    assert widget.conversation["id"] == first
    reply = msg(widget, type="nav", seq="v:3", to="finish", reached_end=True)
    assert len(reply["event_ids"]) == 1 and widget.progress["done"] == 1
    assert widget.queue_items[0]["status"] == "done" and last >= 0


def test_annotator_jump_skip_done_undo(widget, project):
    msg(widget, type="nav", seq="v:1", to=2)
    assert widget.conversation["index"] == 2
    reply = msg(widget, type="skip", seq="v:2", reason="")
    assert reply["type"] == "error" and "E607" in reply["message"]
    msg(widget, type="skip", seq="v:3", reason="not relevant")
    assert widget.conversation["index"] == 3 and widget.progress["done"] == 1
    msg(widget, type="set", seq="v:4", code_id="conv_warmth", value="6")
    msg(widget, type="undo", seq="v:5")
    assert "conv_warmth" not in widget.labels["c"]
    msg(widget, type="done", seq="v:6")
    assert widget.progress["done"] == 2


def test_annotator_memo_and_flag(widget, project):
    msg(widget, type="memo", seq="v:1", text="ambiguous", turn_index=0)
    msg(widget, type="flag", seq="v:2", on=True, note="ask bob", turn_index=None)
    assert widget.labels["t"]["0"]["_memo"] == "ambiguous"
    assert widget.labels["c"]["_flag"] == "1" and widget.labels["notes"]["c:_flag"] == "ask bob"


def test_annotator_picker_starts_session(project):
    w = Annotator(project)
    w.send = lambda m: None
    assert w.annotator_id == "" and w.coders == ["alice", "bob"] and w.conversation == {}
    w._on_msg(w, {"type": "pick", "annotator": "bob", "seq": "v:pick"}, [])
    assert w.annotator_id == "bob" and w.conversation["id"] == project.queue("bob")[0]


def test_annotator_content_note_and_reliability(widget):
    msg(widget, type="nav", seq="v:1", to="c3")
    assert widget.conversation["content_note"] == "self-harm"
    assert widget.conversation["reliability"] is False


def test_annotator_opens_project_folder(project):
    w = Annotator(project.path, annotator="alice", break_after_minutes=0.5)
    assert w.options["break_after_minutes"] == 0.5 and w.options["cues"] is False


def test_annotator_public_name():
    import annotate

    assert annotate.Annotator is Annotator


def test_annotator_action_before_pick_is_reported(project):
    w = Annotator(project)
    sent = []
    w.send = sent.append
    w._on_msg(w, {"type": "set", "seq": "v:1", "code_id": "conv_warmth", "value": "3"}, [])
    assert sent[-1]["type"] == "error" and "E609" in sent[-1]["message"]


def test_annotator_conversation_model_fills_turns(widget):
    models = {t["model"] for t in widget.conversation["turns"] if t["role"] == "assistant"}
    assert models == {"gpt-test"}


def test_annotator_reliability_sample_is_marked(tmp_path):
    from widget_data import make_project

    w = Annotator(make_project(tmp_path, reliability=1.0), annotator="alice")
    assert w.conversation["reliability"] is True  # the front end shows no cues there


def test_annotator_folder_opens_as_coder_session(project):
    w = Annotator(project.path, annotator="alice")
    assert w.project.coder == "alice"


def test_annotator_nav_keeps_reporting_unsaved_changes(widget, project, monkeypatch):
    monkeypatch.setattr(project, "append", lambda ev: (_ for _ in ()).throw(OSError("offline")))
    msg(widget, type="set", seq="v:1", code_id="conv_warmth", value="2")
    reply = msg(widget, type="nav", seq="v:2", to="next")
    assert reply["type"] == "ack" and reply["pending"] == 1
    assert widget.save_state["status"] == "error" and "offline" in widget.save_state["message"]


def test_annotator_set_passes_the_flag_note(widget, project):
    msg(widget, type="set", seq="v:1", code_id="_flag", value="1", turn_index=0, note="why")
    ev = project.labels(history=True).iloc[-1]
    assert ev["code_id"] == "_flag" and ev["note"] == "why" and int(ev["turn_index"]) == 0


def test_annotator_unexpected_failure_is_shown_then_raised(widget, monkeypatch):
    def boom(content):
        raise RuntimeError("bug")

    monkeypatch.setattr(widget, "handle", boom)
    with pytest.raises(RuntimeError):
        widget._on_msg(widget, {"type": "undo", "seq": "v:1"}, [])
    assert widget.sent[-1]["type"] == "error" and "E610" in widget.sent[-1]["message"]
