"""Evidence spans in label events, checked against the corpus text by a project's store.

A span is ``[start, end)`` in Python string offsets (code points) of ``turns.text`` with the
sha256 of that slice's UTF-8 bytes. The project's store checks that it lies inside the turn and
that the hash is the text's there; a store without a corpus checks the shape only.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from annotate.corpus import write_corpus
from annotate.errors import LabelStoreError
from annotate.project import Project
from annotate.store import LabelStore, evidence_span

REPO = Path(__file__).resolve().parents[2]
TOY = REPO / "codebooks" / "toy.yaml"

#: an astral emoji (two UTF-16 units in a browser, one code point in Python) and Hebrew
USER_TEXT = "I can't choose 😩 — just tell me what to do, you decide. אתה תחליט"
ASSISTANT_TEXT = "It's your call, but **which fits you** better?"


def _turn(cid: str, i: int, role: str, text: str) -> dict[str, object]:
    none = dict.fromkeys(("created_at", "model", "meta"))
    return {"conversation_id": cid, "turn_index": i, "turn_id": f"{cid}-{i}", "role": role,
            "speaker": role, "text": text, **none}  # fmt: skip


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    turns = [_turn("c1", 0, "user", USER_TEXT), _turn("c1", 1, "assistant", ASSISTANT_TEXT)]
    none = dict.fromkeys(("started_at", "model", "meta"))
    convs = [{"conversation_id": "c1", "source": "test", "source_id": "c1", "user_id": "u1",
              "n_turns": 2, "language": "en", **none}]  # fmt: skip
    corpus = write_corpus(tmp_path / "corpus", pd.DataFrame(turns), pd.DataFrame(convs), {})
    return Project.create(
        tmp_path / "project", corpus=corpus, codebook=TOY, coders=["alice", "bob"], per_item=2
    )


def event(spans: object, code: str = "user_defers", turn: int = 0) -> dict[str, object]:
    return {"annotator_id": "alice", "unit": "turn", "conversation_id": "c1",
            "turn_index": turn, "code_id": code, "value": "1", "evidence": spans}  # fmt: skip


def reason_of(err: pytest.ExceptionInfo[LabelStoreError]) -> str:
    assert err.value.failure_cases is not None
    return str(err.value.failure_cases["reason"].iloc[0])


def test_evidence_span_counts_code_points_and_hashes_utf8() -> None:
    start = USER_TEXT.index("just tell me")
    end = USER_TEXT.index(", you decide")
    span = evidence_span(USER_TEXT, start, end)
    assert USER_TEXT[span["start"] : span["end"]] == "just tell me what to do"
    assert span["sha256"] == hashlib.sha256(b"just tell me what to do").hexdigest()
    # the emoji is one code point: the offset is one less than in UTF-16 (a browser's string)
    assert start == USER_TEXT.encode("utf-16-le").index("just".encode("utf-16-le")) // 2 - 1
    with pytest.raises(LabelStoreError, match="E307"):
        evidence_span(USER_TEXT, 5, len(USER_TEXT) + 1)


def test_project_store_keeps_a_right_span_across_emoji_and_rtl(project: Project) -> None:
    start = USER_TEXT.index("😩")
    rtl = USER_TEXT.index("אתה")
    spans = [
        evidence_span(USER_TEXT, rtl, len(USER_TEXT)),
        evidence_span(USER_TEXT, start, start + 1),
    ]
    project.append(event(spans))
    cur = project.labels(annotator="alice").iloc[0]
    got = [dict(s) for s in cur["evidence"]]
    assert [(s["start"], s["end"]) for s in got] == [
        (start, start + 1),
        (rtl, len(USER_TEXT)),
    ]  # sorted
    assert [USER_TEXT[s["start"] : s["end"]] for s in got] == ["😩", "אתה תחליט"]


def test_project_store_refuses_a_span_past_the_turn(project: Project) -> None:
    span = {"start": 10, "end": len(USER_TEXT) + 1, "sha256": "0" * 64}
    with pytest.raises(LabelStoreError, match="E301") as err:
        project.append(event([span]))
    assert f"ends past turn 0 of 'c1', whose text has {len(USER_TEXT)} characters" in reason_of(err)
    assert project.labels().empty  # nothing written


def test_project_store_refuses_a_hash_of_other_text(project: Project) -> None:
    """The offsets counted in UTF-16 (as a browser does) point at other text: refused."""
    utf16_start = USER_TEXT.encode("utf-16-le").index("just".encode("utf-16-le")) // 2
    sha = hashlib.sha256(b"just tell me").hexdigest()
    span = {"start": utf16_start, "end": utf16_start + 12, "sha256": sha}
    with pytest.raises(LabelStoreError, match="E301") as err:
        project.append(event([span]))
    reason = reason_of(err)
    assert "hashes otherwise" in reason and "the corpus text changed" in reason
    assert repr(USER_TEXT[utf16_start : utf16_start + 12]) in reason


def test_evidence_on_a_code_without_evidence_is_refused(project: Project) -> None:
    span = evidence_span(USER_TEXT, 0, 5)
    with pytest.raises(LabelStoreError, match="E301") as err:
        project.append(event([span], code="user_seeks_support"))
    assert "takes no evidence spans (its codebook entry says evidence: none)" in reason_of(err)


def test_store_without_corpus_checks_shape_only(tmp_path: Path, project: Project) -> None:
    store = LabelStore(tmp_path / "labels", project.codebook)
    span = {"start": 0, "end": 999, "sha256": "0" * 64}  # no text to check against
    saved = store.append(event([span]))
    assert saved.iloc[0]["evidence"] == [span]


def test_texts_are_read_only_for_events_with_spans(tmp_path: Path, project: Project) -> None:
    """A store's text look-up opens the corpus only when an event carries spans."""
    from annotate.project._turns import TurnTexts

    opened: list[str] = []

    class Corpus:
        def conversation(self, cid: str) -> pd.DataFrame:
            opened.append(cid)
            return project.corpus.conversation(cid)

    store = LabelStore(tmp_path / "labels", project.codebook, texts=TurnTexts(Corpus))
    store.append([event(None), event(None, code="ai_empathy", turn=1)])
    assert opened == []
    store.append(event([evidence_span(USER_TEXT, 0, 1)]))
    store.append(event([evidence_span(USER_TEXT, 2, 5)]))
    assert opened == ["c1"]  # once, then kept
