"""The adjudication widget's Python side, driven by the messages the front end sends.

A real project: the demo corpus, the default codebook, coders alice/bob/carol and the demo's
illustrative labels (annotate.demo.demo_project).
"""

from __future__ import annotations

import json

import pytest

from annotate.demo import demo_project
from annotate.widgets.adjudicator import Adjudicator


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    work = tmp_path_factory.mktemp("adj-demo")
    demo_project(work)
    return work


@pytest.fixture
def project(demo_dir, tmp_path):
    import shutil

    work = tmp_path / "demo"
    shutil.copytree(demo_dir, work)
    return demo_project(work)  # opens the copy


@pytest.fixture
def widget(project):
    w = Adjudicator(project, adjudicator="dana")
    w.sent = []
    w.send = w.sent.append  # the comm would carry these to the browser
    return w


def msg(w, **content):
    w._on_msg(w, content, [])
    return w.sent[-1] if w.sent else None


def gold_events(project):
    ev = project.labels(history=True)
    return ev[ev["annotator_id"] == "gold"].sort_values("event_id").reset_index(drop=True)


def test_lazy_exports():
    import annotate.adjudication
    import annotate.widgets

    assert not hasattr(annotate.adjudication, "Adjudicator")  # layers point down only
    assert annotate.widgets.Adjudicator is Adjudicator


def test_initial_state_shows_first_item_in_its_conversation(widget, project):
    n = len(widget.session.items)
    assert n > 0 and widget.progress == {"decided": 0, "total": n, "index": 0}
    it = widget.item
    first = widget.session.queue[0]
    assert it["code_id"] == first.code_id and it["conversation_id"] == first.conversation_id
    assert it["values"] == first.values and it["gold"] is None
    assert set(it["values"]) <= {"alice", "bob", "carol"} and len(set(it["values"].values())) > 1
    assert widget.conversation["id"] == first.conversation_id
    turns = project.corpus.conversation(first.conversation_id)
    assert [t["i"] for t in widget.conversation["turns"]] == list(turns["turn_index"])
    assert widget.kinds == ["ambiguous_text", "codebook_gap", "coder_error", "other"]
    assert it["code_id"] in widget.codebook_data["codes"]
    assert len(widget.items_index) == n and not any(x["decided"] for x in widget.items_index)
    assert widget._esm.index("function turnNode") < widget._esm.index("function render(")


def test_turn_item_with_memos(widget):
    i = next(n for n, it in enumerate(widget.session.items) if it.memos and it.turn_index)
    msg(widget, type="nav", seq="v:1", to=i)
    assert widget.sent[-1] == {"type": "ack", "seq": "v:1", "event_ids": []}
    it = widget.item
    assert it["index"] == i and it["unit"] == "turn" and it["turn_index"] is not None
    assert it["memos"] and set(it["memos"]) <= set(it["values"])
    assert any(t["i"] == it["turn_index"] for t in widget.conversation["turns"])


def test_decide_writes_gold_event_before_ack(widget, project):
    it = widget.session.items[0]
    value = sorted(it.values.values())[0]
    reply = msg(
        widget, type="decide", seq="v:1", index=0, value=value, kind="codebook_gap",
        memo="  definition unclear  ", codebook_change="1.0.1: clarified ai_empathy",
    )  # fmt: skip
    assert reply["type"] == "ack" and reply["seq"] == "v:1" and len(reply["event_ids"]) == 1
    gold = gold_events(project)
    assert list(gold["event_id"]) == reply["event_ids"]  # on disk before the ack went back
    row = gold.iloc[0]
    assert (row["conversation_id"], row["code_id"], row["value"]) == (
        it.conversation_id, it.code_id, value,
    )  # fmt: skip
    assert json.loads(row["note"]) == {
        "adjudicator": "dana", "kind": "codebook_gap", "memo": "definition unclear",
        "codebook_change": "1.0.1: clarified ai_empathy",
    }  # fmt: skip
    assert widget.item["gold"] == value and widget.item["decision"]["kind"] == "codebook_gap"
    assert widget.progress["decided"] == 1 and widget.items_index[0]["decided"]


def test_revise_writes_a_new_event(widget, project):
    it = widget.session.items[0]
    a, b = sorted(set(it.values.values()))[:2]
    msg(widget, type="decide", seq="v:1", index=0, value=a, kind="coder_error", memo="first")
    msg(widget, type="nav", seq="v:2", to="next")
    msg(widget, type="nav", seq="v:3", to="prev")
    assert widget.item["gold"] == a and widget.item["decision"]["memo"] == "first"
    reply = msg(widget, type="decide", seq="v:4", index=0, value=b, kind="other", memo="second")
    assert reply["type"] == "ack"
    gold = gold_events(project)
    assert list(gold["value"]) == [a, b] and widget.item["gold"] == b
    assert widget.progress["decided"] == 1
    assert project.labels().query("annotator_id == 'gold'")["value"].tolist() == [b]


def test_nav_next_prev_jump_and_next_open(widget):
    n = len(widget.session.items)
    msg(widget, type="nav", seq="v:1", to="prev")
    assert widget.item["index"] == 0
    msg(widget, type="nav", seq="v:2", to="next")
    assert widget.item["index"] == 1
    msg(widget, type="nav", seq="v:3", to=n - 1)
    assert widget.item["index"] == n - 1 and widget.progress["index"] == n - 1
    msg(widget, type="nav", seq="v:4", to="next")
    assert widget.item["index"] == n - 1
    v0 = next(iter(widget.session.items[0].values.values()))
    msg(widget, type="decide", seq="v:5", index=0, value=v0, kind="other", memo="")
    msg(widget, type="nav", seq="v:6", to=0)
    msg(widget, type="nav", seq="v:7", to="next_open")
    assert widget.item["index"] == 1
    reply = msg(widget, type="nav", seq="v:8", to=n + 5)
    assert reply["type"] == "error" and "out of range" in reply["message"]


def test_conversation_item_and_next_conversation(widget):
    items = widget.session.items
    i = next(n for n, it in enumerate(items) if it.turn_index is None)
    msg(widget, type="nav", seq="v:1", to=i)
    assert widget.item["unit"] == "conversation" and widget.item["turn_index"] is None
    j = next(n for n, it in enumerate(items) if it.conversation_id != items[i].conversation_id)
    msg(widget, type="nav", seq="v:2", to=j)
    assert widget.conversation["id"] == items[j].conversation_id


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"kind": None}, "kind of disagreement"),
        ({"kind": "whatever"}, "kind of disagreement"),
        ({"value": None}, "Cannot decide"),
        ({"value": "not-a-value"}, "Cannot decide"),
        ({"index": 10**6}, "out of range"),
    ],
)
def test_invalid_decisions_are_reported_not_stored(widget, project, change, needle):
    value = next(iter(widget.session.items[0].values.values()))
    content = {"type": "decide", "seq": "v:1", "index": 0, "value": value, "kind": "other"}
    reply = msg(widget, **{**content, **change})
    assert reply["type"] == "error" and reply["seq"] == "v:1" and needle in reply["message"]
    assert gold_events(project).empty and widget.item["gold"] is None


def test_store_error_is_reported_and_retry_works(widget, project, monkeypatch):
    real = project.append
    monkeypatch.setattr(project, "append", lambda ev: (_ for _ in ()).throw(OSError("disk full")))
    value = next(iter(widget.session.items[0].values.values()))
    decision = {"type": "decide", "index": 0, "value": value, "kind": "ambiguous_text"}
    reply = msg(widget, seq="v:1", **decision)
    assert reply["type"] == "error" and "disk full" in reply["message"]
    assert "still in the form" in reply["message"]
    assert widget.item["gold"] is None and widget.progress["decided"] == 0
    monkeypatch.setattr(project, "append", real)
    reply = msg(widget, seq="v:2", **decision)
    assert reply["type"] == "ack" and len(gold_events(project)) == 1


def test_unknown_action_and_bug_are_reported(widget, monkeypatch):
    reply = msg(widget, type="explode", seq="v:1")
    assert reply["type"] == "error" and "explode" in reply["message"]
    monkeypatch.setattr(widget, "_nav", lambda to: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        msg(widget, type="nav", seq="v:2", to="next")
    assert widget.sent[-1]["type"] == "error" and "ZeroDivisionError" in widget.sent[-1]["message"]


def test_set_codes_are_encoded(tmp_path):
    from widget_data import make_project

    project = make_project(tmp_path)
    set_codes = [c for c in project.codebook.codes if c.level == "set"]
    if not set_codes:
        pytest.skip("the toy codebook has no set code")
    code = set_codes[0]
    coders = list(project.coders)[:2]
    cid = project.corpus.conversation_ids[0]
    turn = None if code.unit == "conversation" else 0
    ids = list(code.value_ids)
    events = [
        {"annotator_id": a, "unit": code.unit, "conversation_id": cid, "turn_index": turn,
         "code_id": code.id, "op": "set", "value": code.encode_set(v)}
        for a, v in zip(coders, [ids[:1], ids[1:2]], strict=True)
    ]  # fmt: skip
    project.append(events)
    w = Adjudicator(project, adjudicator="dana")
    w.send = lambda m: setattr(w, "last", m)
    i = next(n for n, it in enumerate(w.session.items) if it.code_id == code.id)
    w._on_msg(w, {"type": "decide", "seq": "v:1", "index": i, "value": [ids[1], ids[0]],
                  "kind": "other"}, [])  # fmt: skip
    assert w.last["type"] == "ack"
    assert w.item["gold"] == code.encode_set(ids[:2])


def test_project_path_and_bad_adjudicator(demo_dir):
    w = Adjudicator(demo_dir / "project", adjudicator="dana")
    assert w.progress["total"] == len(w.session.items)
    with pytest.raises(Exception, match="dana dana"):
        Adjudicator(demo_dir / "project", adjudicator="dana dana")


def test_front_end_never_parses_markup(widget):
    """Corpus text reaches the browser as a block tree of plain strings, and the view builds
    DOM nodes from it with textContent only (no script from the corpus ever runs)."""
    import re

    code = re.sub(r"//[^\n]*", "", widget._esm)  # the comments may name what is never used
    for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function"):
        assert forbidden not in code
    blocks = [b for t in widget.conversation["turns"] for b in t["blocks"]]
    assert blocks and all(isinstance(b, dict) and "t" in b for b in blocks)
