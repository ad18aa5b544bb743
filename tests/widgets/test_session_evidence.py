"""Evidence spans in the headless session and the widget's Python side (no browser).

The toy codebook marks ``user_defers`` (binary) ``evidence: required``, ``ai_move`` (nominal)
and ``user_emotions`` (set) ``optional``; ``ai_empathy`` takes none. Conversation c1, turn 2
(user): "Just tell me what to do, you decide."
"""

from __future__ import annotations

import hashlib

import pytest

from annotate.errors import WidgetError
from annotate.widgets.annotator import Annotator
from annotate.widgets.session import AnnotationSession

TEXT = "Just tell me what to do, you decide."


def span_of(words: str) -> tuple[int, int]:
    start = TEXT.index(words)
    return start, start + len(words)


@pytest.fixture
def s(project) -> AnnotationSession:
    session = AnnotationSession(project, "alice", session_id="s-ev")
    session.goto("c1")
    assert session.text(2) == TEXT
    return session


def on_disk(project, code_id: str = "user_defers"):
    hist = project.labels(history=True)
    return hist[(hist["code_id"] == code_id) & (hist["annotator_id"] == "alice")]


def test_required_code_is_not_saved_without_a_span(s, project):
    with pytest.raises(WidgetError, match=r"E620.*'Defers the decision' \(user_defers\) needs"):
        s.set("user_defers", "1", turn_index=2)
    with pytest.raises(WidgetError, match="E620"):
        s.toggle("user_defers", turn_index=2)
    assert s.value("user_defers", 2) is None and on_disk(project).empty and not s.pending


def test_span_saved_with_its_hash_and_kept_on_change(s, project):
    start, end = span_of("you decide")
    s.set("user_defers", "1", turn_index=2, evidence=[(start, end)])
    ev = on_disk(project).iloc[-1]
    (stored,) = [dict(x) for x in ev["evidence"]]
    assert (stored["start"], stored["end"]) == (start, end)
    assert stored["sha256"] == hashlib.sha256(b"you decide").hexdigest()
    assert TEXT[stored["start"] : stored["end"]] == "you decide"
    # a change of value keeps the spans (a nominal code with optional evidence)
    s.set("user_move", "support", turn_index=2)  # no evidence: fine, optional/none
    s.mark("user_emotions", *span_of("Just tell me"), turn_index=2, value='["anxiety"]')
    s.set("user_emotions", ["anxiety", "anger"], turn_index=2)
    assert s.evidence("user_emotions", 2) == [span_of("Just tell me")]
    last = on_disk(project, "user_emotions").iloc[-1]
    assert last["value"] == '["anger","anxiety"]' and len(last["evidence"]) == 1


def test_mark_unmark_undo_and_clear(s, project):
    s.mark("user_defers", *span_of("you decide"), turn_index=2)
    assert s.value("user_defers", 2) == "1"  # marking a binary code sets it
    s.mark("user_defers", *span_of("tell me what to do"), turn_index=2)
    assert s.evidence("user_defers", 2) == [span_of("tell me what to do"), span_of("you decide")]
    s.unmark("user_defers", *span_of("what"), turn_index=2)  # overlaps the first span
    assert s.evidence("user_defers", 2) == [span_of("you decide")]
    s.undo()
    assert s.evidence("user_defers", 2) == [span_of("tell me what to do"), span_of("you decide")]
    with pytest.raises(WidgetError, match="E620"):  # the last span of a required code
        s.unmark("user_defers", 0, len(TEXT), turn_index=2)
    s.toggle("user_defers", turn_index=2)  # off: a clear, the spans go with it
    assert s.value("user_defers", 2) is None and s.evidence("user_defers", 2) == []
    assert on_disk(project).iloc[-1]["op"] == "clear"
    s.undo()
    assert s.value("user_defers", 2) == "1" and len(s.evidence("user_defers", 2)) == 2
    ops = [
        (r.op, 0 if r.evidence is None else len(r.evidence)) for r in on_disk(project).itertuples()
    ]
    assert ops == [("set", 1), ("set", 2), ("set", 1), ("set", 2), ("clear", 0), ("set", 2)]


def test_spans_survive_a_new_session(s, project):
    s.mark("user_defers", *span_of("you decide"), turn_index=2)
    again = AnnotationSession(project, "alice", session_id="s-ev2")
    again.goto("c1")
    assert again.evidence("user_defers", 2) == [span_of("you decide")]
    again.set("user_move", "task", turn_index=2)
    assert again.evidence("user_defers", 2) == [span_of("you decide")]


def test_bad_spans_are_refused_with_the_reason(s, project):
    with pytest.raises(WidgetError, match=r"E621.*\[30, 99\)"):
        s.set("user_defers", "1", turn_index=2, evidence=[(30, 99)])
    with pytest.raises(WidgetError, match=r"E621.*not a \(start, end\) pair"):
        s.set("user_defers", "1", turn_index=2, evidence=[("a", 3)])
    with pytest.raises(WidgetError, match=r"E605.*takes no evidence spans"):
        s.set("user_seeks_support", "1", turn_index=2, evidence=[span_of("you decide")])
    assert on_disk(project).empty and on_disk(project, "user_seeks_support").empty


def test_widget_message_with_evidence_and_the_labels_trait(project):
    w = Annotator(project, annotator="alice", session_id="s-w")
    sent: list = []
    w.send = sent.append
    w.session.goto("c1")
    w._push_conversation()
    start, end = span_of("you decide")
    w._on_msg(w, {"type": "set", "seq": "v:1", "code_id": "user_defers", "value": "1",
                  "turn_index": 2, "evidence": [{"start": start, "end": end}]}, [])  # fmt: skip
    assert sent[-1]["type"] == "ack" and len(sent[-1]["event_ids"]) == 1
    assert w.labels["ev"] == {"t:2:user_defers": [[start, end]]}
    w._on_msg(w, {"type": "set", "seq": "v:2", "code_id": "user_defers", "value": "1",
                  "turn_index": 2}, [])  # fmt: skip
    w._on_msg(w, {"type": "set", "seq": "v:3", "code_id": "user_defers", "value": "1",
                  "turn_index": 2, "evidence": []}, [])  # fmt: skip
    assert sent[-1]["type"] == "error" and "E620" in sent[-1]["message"]
    assert w.labels["ev"] == {"t:2:user_defers": [[start, end]]}  # unchanged
    assert w.codebook_data["codes"]["user_defers"]["evidence"] == "required"
    assert w.codebook_data["codes"]["ai_empathy"]["evidence"] == "none"
    blocks = next(t for t in w.conversation["turns"] if t["i"] == 2)["blocks"]
    assert blocks == [{"t": "p", "c": [TEXT], "o": [[[0, 0, len(TEXT), len(TEXT)]]]}]
