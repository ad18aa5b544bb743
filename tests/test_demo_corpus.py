"""The demo corpus (corpora/demo/demo.jsonl) keeps the shape and the coverage the demos rely on.

Read with the stdlib json module only, so these tests do not depend on the importer.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

DEMO = Path(__file__).resolve().parents[1] / "corpora" / "demo" / "demo.jsonl"

TOP_KEYS = {"id", "user_id", "created_at", "model", "meta", "messages"}
META_KEYS = {"persona", "context", "content_note"}
MESSAGE_KEYS = {"role", "content", "created_at"}
ROLES = {"system", "user", "assistant"}
CONTEXTS = {"task_help", "advice", "emotional_support", "companionship"}
UTC_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
ID = re.compile(r"^c\d{3}$")
USER_ID = re.compile(r"^u\d{2}$")

Conversation = dict[str, Any]


def _parse_time(stamp: str) -> datetime:
    assert UTC_STAMP.match(stamp), f"not an ISO 8601 UTC stamp (YYYY-MM-DDTHH:MM:SSZ): {stamp!r}"
    return datetime.fromisoformat(stamp)


def _dialogue(conv: Conversation) -> list[dict[str, str]]:
    """The messages without a leading system prompt."""
    return [m for m in conv["messages"] if m["role"] != "system"]


@pytest.fixture(scope="module")
def lines() -> list[str]:
    raw = DEMO.read_bytes()
    assert raw.endswith(b"\n"), "the file ends with a newline"
    text = raw.decode("utf-8")  # fails on anything that is not UTF-8
    return text.splitlines()


@pytest.fixture(scope="module")
def corpus(lines: list[str]) -> list[Conversation]:
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def sessions(corpus: list[Conversation]) -> dict[str, list[Conversation]]:
    by_user: dict[str, list[Conversation]] = defaultdict(list)
    for conv in corpus:
        by_user[conv["user_id"]].append(conv)
    return {u: sorted(cs, key=lambda c: c["created_at"]) for u, cs in by_user.items()}


def test_demo_every_line_is_one_json_object(lines: list[str]) -> None:
    for number, line in enumerate(lines, 1):
        assert line.strip(), f"line {number} is blank"
        assert isinstance(json.loads(line), dict), f"line {number} is not a JSON object"


def test_demo_has_at_least_48_conversations_with_unique_ids(corpus: list[Conversation]) -> None:
    ids = [c["id"] for c in corpus]
    assert len(ids) >= 48
    assert len(set(ids)) == len(ids), [i for i, n in Counter(ids).items() if n > 1]
    assert all(ID.match(i) for i in ids)


def test_demo_conversation_shape(corpus: list[Conversation]) -> None:
    for conv in corpus:
        cid = conv["id"]
        assert set(conv) == TOP_KEYS, cid
        assert USER_ID.match(conv["user_id"]), cid
        assert isinstance(conv["model"], str) and conv["model"], cid
        meta = conv["meta"]
        assert isinstance(meta, dict) and set(meta) <= META_KEYS and "context" in meta, cid
        assert meta["context"] in CONTEXTS, cid
        assert meta.get("persona") is None or isinstance(meta["persona"], str), cid
        note = meta.get("content_note")
        assert note is None or (isinstance(note, str) and 0 < len(note) <= 40), cid
        assert isinstance(conv["messages"], list), cid
        for message in conv["messages"]:
            assert set(message) == MESSAGE_KEYS, cid
            assert message["role"] in ROLES, cid
            assert isinstance(message["content"], str) and message["content"].strip(), cid


def test_demo_system_prompt_only_first_and_user_opens(corpus: list[Conversation]) -> None:
    for conv in corpus:
        roles = [m["role"] for m in conv["messages"]]
        assert "system" not in roles[1:], conv["id"]
        assert _dialogue(conv)[0]["role"] == "user", conv["id"]
        assert {"user", "assistant"} <= set(roles), conv["id"]


def test_demo_roles_mostly_alternate(corpus: list[Conversation]) -> None:
    pairs = same = 0
    for conv in corpus:
        roles = [m["role"] for m in _dialogue(conv)]
        repeats = sum(a == b for a, b in pairwise(roles))
        assert repeats <= 2, f"{conv['id']}: {repeats} same-speaker neighbours"
        pairs += len(roles) - 1
        same += repeats
    assert same / pairs <= 0.05
    assert same > 0, "a few double user turns keep the demo realistic"


def test_demo_lengths(corpus: list[Conversation]) -> None:
    lengths = {c["id"]: len(_dialogue(c)) for c in corpus}
    assert all(4 <= n <= 60 for n in lengths.values()), lengths
    assert sum(n > 30 for n in lengths.values()) >= 2, "long views need long conversations"
    typical = sum(6 <= n <= 24 for n in lengths.values())
    assert typical / len(lengths) >= 0.75


def test_demo_timestamps_are_utc_and_ordered(corpus: list[Conversation]) -> None:
    for conv in corpus:
        start = _parse_time(conv["created_at"])
        times = [_parse_time(m["created_at"]) for m in conv["messages"]]
        assert times[0] == start, conv["id"]
        assert times == sorted(times), f"{conv['id']}: message times go backwards"
        assert times[-1] - start < timedelta(hours=6), conv["id"]
        assert datetime(2026, 2, 1).date() <= start.date() <= datetime(2026, 5, 31).date()


def test_demo_sessions_increase_per_user(sessions: dict[str, list[Conversation]]) -> None:
    for user, convs in sessions.items():
        for earlier, later in pairwise(convs):
            ended = _parse_time(earlier["messages"][-1]["created_at"])
            assert ended < _parse_time(later["created_at"]), f"{user}: sessions overlap"


def test_demo_is_longitudinal(sessions: dict[str, list[Conversation]]) -> None:
    repeat = {u: cs for u, cs in sessions.items() if len(cs) >= 3}
    assert len(repeat) >= 6, sorted(repeat)
    for user, convs in repeat.items():
        span = _parse_time(convs[-1]["created_at"]) - _parse_time(convs[0]["created_at"])
        assert span >= timedelta(weeks=3), f"{user}: sessions should spread over weeks"
    assert sum(len(cs) == 1 for cs in sessions.values()) >= 5, "some single-session users"


def test_demo_covers_contexts_models_and_personas(corpus: list[Conversation]) -> None:
    assert {c["meta"]["context"] for c in corpus} == CONTEXTS
    assert len({c["model"] for c in corpus}) >= 2
    assert len({c["meta"].get("persona") for c in corpus} - {None}) >= 1
    assert any(c["messages"][0]["role"] == "system" for c in corpus)


def test_demo_content_notes_are_handled_responsibly(corpus: list[Conversation]) -> None:
    noted = [c for c in corpus if c["meta"].get("content_note")]
    assert len(noted) >= 2
    help_words = ("988", "hotline", "helpline", "crisis", "emergency", "doctor")
    for conv in noted:
        replies = " ".join(
            m["content"].lower() for m in conv["messages"] if m["role"] == "assistant"
        )
        assert any(w in replies for w in help_words), f"{conv['id']} points to no help"


def test_demo_holds_the_rendering_and_masking_cases(corpus: list[Conversation]) -> None:
    assistant = [m["content"] for c in corpus for m in c["messages"] if m["role"] == "assistant"]
    fenced = [t for t in assistant if "```" in t]
    assert fenced, "a code block in an assistant turn"
    assert any("<script>" in t for t in fenced), "literal <script> text inside a code block"
    text = "\n".join(m["content"] for c in corpus for m in c["messages"])
    assert re.search(r"[\w.+-]+@example\.com", text), "an email address"
    assert re.search(r"https://[\w.-]*example\.com", text), "a URL"
    assert re.search(r"\b555-\d{4}\b", text), "a phone number"
    assert re.search(r"(?<![\w.])@[a-z_]{3,}\b", text), "an @handle"


def test_demo_contact_details_are_fake(corpus: list[Conversation]) -> None:
    text = "\n".join(m["content"] for c in corpus for m in c["messages"])
    for email in re.findall(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)", text):
        assert email == "example.com", email
    for host in re.findall(r"https?://([\w.-]+)", text):
        assert host == "example.com" or host.endswith(".example.com"), host
