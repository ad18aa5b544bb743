"""Issue 13's importer defects, each reproduced: deep JSON, malformed oasst fields, a bad csv
delimiter, and the ConvoKit thread roots. Each test failed (RecursionError, TypeError or a wrong
result) before the fix."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

from annotate.corpus import load_corpus
from annotate.errors import CorpusError
from annotate.importers import import_corpus
from annotate.importers._base import MAX_META_DEPTH


def deep(levels: int, leaf: str = "1", kind: str = "object") -> str:
    """JSON text of a value nested ``levels`` containers deep (written as text: json.dumps of
    such a value would itself recurse)."""
    if kind == "object":
        return '{"a":' * levels + leaf + "}" * levels
    return "[" * levels + leaf + "]" * levels


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _quiet_import(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return import_corpus(*args, **kwargs)


CHAT = '[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]'
SHARE = '[{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]'

#: format -> a valid record (JSON text) with an over-deep value in its meta, where {deep} goes
DEEP_META = {
    "openai": '{"id": "c1", "messages": ' + CHAT + ', "meta": {"ok": 1, "x": {deep}}}',
    "sharegpt": '{"id": "c1", "conversations": ' + SHARE + ', "ok": 1, "x": {deep}}',
    "hh-rlhf": '{"chosen": "\\n\\nHuman: Hi\\n\\nAssistant: Hello", "x": {deep}}',
    "mathdial": '{"qid": 7, "conversation": "Teacher: Hi|EOM|Student: 4", "ok": 1, "x": {deep}}',
    "oasst": (
        '{"message_tree_id": "c1", "prompt": {"message_id": "p", "role": "prompter", '
        '"text": "Hi", "detoxify": {deep}, "replies": [{"message_id": "a", '
        '"role": "assistant", "text": "Hello", "rank": 0, "replies": []}]}}'
    ),
}


@pytest.mark.parametrize("levels", [990, 5_000, 100_000])
@pytest.mark.parametrize("array", [False, True])
@pytest.mark.parametrize("fmt", sorted(DEEP_META))
def test_importers_deep_meta_imported_without_it(
    tmp_path: Path, fmt: str, array: bool, levels: int
) -> None:
    record = DEEP_META[fmt].replace("{deep}", deep(levels))
    src = tmp_path / "src.json"
    src.write_text(f"[{record}]" if array else record + "\n", encoding="utf-8")
    corpus = _quiet_import(src, fmt, out=tmp_path / "c")
    assert len(corpus) == 1
    assert corpus.turns["text"].tolist() == (["Hi", "4"] if fmt == "mathdial" else ["Hi", "Hello"])
    again = load_corpus(tmp_path / "c")
    stored = [json.loads(m) for m in again.conversations["meta"].dropna()]
    stored += [json.loads(m) for m in again.turns["meta"].dropna()]
    assert all("x" not in m and "detoxify" not in m for m in stored), stored
    if fmt == "hh-rlhf":  # hh-rlhf keeps no source keys in meta: nothing to drop
        assert again.manifest["repaired"] == {}
    else:
        assert again.manifest["repaired"] == {"meta_too_deep": 1}
        key = "detoxify" if fmt == "oasst" else "x"
        assert again.manifest["examples"]["meta_too_deep"][0].endswith(f"meta key '{key}'")
    if fmt in ("openai", "sharegpt", "mathdial"):
        assert stored[0]["ok"] == 1  # the rest of the meta is kept


@pytest.mark.parametrize("levels", [MAX_META_DEPTH - 1, MAX_META_DEPTH])
def test_importers_meta_depth_limit(tmp_path: Path, levels: int) -> None:
    """The meta object is level 1: a value of MAX-1 levels is kept, one of MAX is dropped."""
    src = _write(
        tmp_path / "src.jsonl",
        ['{"messages": ' + CHAT + ', "meta": {"x": ' + deep(levels, kind="list") + "}}"],
    )
    corpus = _quiet_import(src, "openai", out=tmp_path / "c")
    meta = corpus.conversation_meta(corpus.conversation_ids[0])["meta"]
    if levels < MAX_META_DEPTH:
        value, n = meta["x"], 0
        while isinstance(value, list):
            value, n = value[0], n + 1
        assert (n, value) == (levels, 1)
        assert corpus.manifest["repaired"] == {}
    else:
        assert meta is None or "x" not in meta
        assert corpus.manifest["repaired"] == {"meta_too_deep": 1}


def test_importers_deep_values_in_turn_fields(tmp_path: Path) -> None:
    """A deep role label or text is a counted skip (never a RecursionError when it is shown)."""
    lines = [
        '{"id": 1, "messages": [{"role": '
        + deep(50_000, kind="list")
        + ', "content": "x"}, '
        + CHAT[1:-1]
        + "]}",
        '{"id": 2, "messages": [{"role": "user", "content": '
        + deep(50_000)
        + "}, "
        + CHAT[1:-1]
        + "]}",
        '{"id": 3, "messages": ' + CHAT + ', "meta": ' + deep(3_000) + "}",
        '{"messages": ' + CHAT + ', "meta": {"x": ' + deep(3_000)[:-1],  # cut: malformed
    ]
    corpus = _quiet_import(_write(tmp_path / "src.jsonl", lines), "openai", out=tmp_path / "c")
    m = corpus.manifest
    assert len(corpus) == 3
    assert m["skipped"] == {"unknown_role": 1, "invalid_turn": 1, "malformed_json": 1}
    assert m["examples"]["unknown_role"] == ["src.jsonl line 1 message 0: <a list of 1>"]
    assert m["repaired"] == {"meta_too_deep": 1}


def test_importers_deep_convokit_files(tmp_path: Path) -> None:
    folder = tmp_path / "ck"
    folder.mkdir()
    _write(
        folder / "utterances.jsonl",
        [
            '{"id": "r", "conversation_id": "r", "reply-to": null, "speaker": "ann", '
            '"text": "Hi", "meta": {"ok": 1, "x": ' + deep(5_000) + "}}",
            '{"id": "s", "conversation_id": "r", "reply-to": "r", "speaker": "bot", '
            '"text": "Hello"}',
        ],
    )
    (folder / "speakers.json").write_text(
        '{"bot": {"meta": {"role": "assistant", "x": ' + deep(5_000) + "}}}"
    )
    (folder / "conversations.json").write_text('{"r": {"meta": {"x": ' + deep(5_000) + "}}}")
    (folder / "corpus.json").write_text('{"name": "t", "x": ' + deep(5_000) + "}")
    corpus = _quiet_import(folder, "convokit", out=tmp_path / "c")
    assert corpus.conversation("r")["role"].tolist() == ["user", "assistant"]
    assert json.loads(corpus.conversation("r")["meta"].iloc[0])["ok"] == 1
    assert corpus.manifest["repaired"] == {"meta_too_deep": 3}  # utterance, conversation, corpus
    assert corpus.manifest["source_meta"] == {"ck": {}}


def test_importers_oasst_malformed_ids_and_emojis(jsonl, tmp_path: Path) -> None:
    rows = [
        {"message_id": "r", "parent_id": None, "role": "prompter", "text": "Q"},
        {"message_id": "a", "parent_id": "r", "role": "assistant", "text": "A", "rank": 0},
        {"message_id": "bad", "parent_id": ["r"], "role": "assistant", "text": "B"},
        {"message_id": "below", "parent_id": "bad", "role": "prompter", "text": "C"},
        {"message_id": "obj", "parent_id": {"id": "r"}, "role": "assistant", "text": "D"},
        {
            "message_id": "r2",
            "parent_id": None,
            "message_tree_id": ["t"],
            "role": "prompter",
            "text": "Q2",
            "emojis": {"name": [{"x": 1}, "+1", ["y"]], "count": [1, 2, 3]},
            "labels": {"name": [{"x": 1}, "spam"], "value": [0.5, 0.1], "count": [2, 3]},
        },
        {"message_id": "a2", "parent_id": "r2", "role": "assistant", "text": "A2"},
    ]
    with pytest.warns(UserWarning) as caught:
        corpus = import_corpus(jsonl(rows), "oasst", out=tmp_path / "c")
    summary = " ".join(str(w.message) for w in caught)
    m = corpus.manifest
    assert m["skipped"] == {"invalid_parent_id": 2, "orphan_message": 1}, summary
    assert m["repaired"] == {"invalid_emoji_or_label_name": 3}
    assert (
        m["examples"]["invalid_parent_id"][0] == "src.jsonl line 3: bad: parent_id is <a list of 1>"
    )
    assert sorted(corpus.conversation_ids) == ["r", "r2"]  # r2: the bad tree id is not used
    assert corpus.conversation("r")["text"].tolist() == ["Q", "A"]
    meta = json.loads(corpus.conversation("r2")["meta"].iloc[0])
    assert meta["emojis"] == {"+1": 2}
    assert meta["labels"] == {"spam": {"value": 0.1, "count": 3}}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("ab", r"one character.* not 2"),
        ('"', "a quote or a line break"),
        ("\n", "a quote or a line break"),
        (5, "expected one character"),
    ],
)
def test_importers_csv_bad_delimiter(tmp_path: Path, value, problem: str) -> None:
    src = tmp_path / "t.csv"
    src.write_text("conversation_id,role,text\nc,user,hi\nc,assistant,yo\n")
    with pytest.raises(CorpusError, match=r"\[E104\] Option 'delimiter' of format 'csv'") as info:
        import_corpus(src, "csv", out=tmp_path / "c", delimiter=value)
    assert re.search(problem, str(info.value)), str(info.value)
    assert "delimiter=" in str(info.value)  # the fix names the option
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("name", ["tab", "\\t", "TAB", "\t"])
def test_importers_csv_tab_delimiter_by_name(tmp_path: Path, name: str) -> None:
    src = tmp_path / "t.txt"
    src.write_text("conversation_id\trole\ttext\nc\tuser\thi, there\nc\tassistant\tyo\n")
    corpus = import_corpus(src, "csv", out=tmp_path / "c", delimiter=name)
    assert corpus.turns["text"].tolist() == ["hi, there", "yo"]


def test_importers_convokit_thread_roots_without_ids(tmp_path: Path) -> None:
    """Roots found by following reply-to (no conversation ids); a reply cycle is one thread."""
    utts = [
        {"id": "r", "reply-to": None, "text": "root", "timestamp": 1},
        {"id": "x", "reply-to": "r", "text": "x", "timestamp": 3},
        {"id": "y", "reply-to": "x", "text": "y", "timestamp": 2},
        {"id": "c1", "reply-to": "c2", "text": "c1", "timestamp": 5},
        {"id": "c2", "reply-to": "c1", "text": "c2", "timestamp": 4},
        {"id": "in", "reply-to": "c1", "text": "into the cycle", "timestamp": 6},
        {"id": "o", "reply-to": "gone", "text": "orphan", "timestamp": 7},
    ]
    folder = tmp_path / "ck"
    folder.mkdir()
    _write(folder / "utterances.jsonl", [json.dumps(u) for u in utts])
    corpus = import_corpus(folder, "convokit", out=tmp_path / "c")
    assert sorted(corpus.conversation_ids) == ["c1", "o", "r"]
    assert corpus.conversation("r")["text"].tolist() == ["root", "y", "x"]
    assert corpus.conversation("c1")["text"].tolist() == ["c2", "c1", "into the cycle"]


def test_importers_convokit_malformed_ids(tmp_path: Path) -> None:
    utts = [
        {"id": "r", "reply-to": None, "text": "Q", "speaker": {"n": 1}, "conversation_id": "r"},
        {"id": "a", "reply-to": "r", "text": "A", "speaker": "bot", "conversation_id": ["r"]},
        {"id": "b", "reply-to": ["r"], "text": "B", "speaker": "bot", "conversation_id": "r"},
    ]
    folder = tmp_path / "ck"
    folder.mkdir()
    _write(folder / "utterances.jsonl", [json.dumps(u) for u in utts])
    (folder / "speakers.json").write_text('{"bot": {"meta": {"role": "assistant"}}}')
    with pytest.warns(UserWarning):
        corpus = import_corpus(folder, "convokit", out=tmp_path / "c")
    m = corpus.manifest
    assert m["skipped"] == {"invalid_reply_to": 1}
    assert m["repaired"] == {"invalid_conversation_id": 1, "invalid_speaker": 1}
    conv = corpus.conversation("r")  # "a" joins r's thread through its reply-to
    assert conv["text"].tolist() == ["Q", "A"]
    assert conv["speaker"].isna().tolist() == [True, False]


def test_importers_deep_record_across_chunks_of_an_array(tmp_path: Path) -> None:
    """A deep record longer than the 1 MiB read chunk, between two plain ones."""
    plain = '{"id": "p%d", "conversations": ' + SHARE + "}"
    record = DEEP_META["sharegpt"].replace("{deep}", deep(220_000))
    src = tmp_path / "src.json"
    src.write_text(f"[{plain % 1},\n{record},\n{plain % 2}]", encoding="utf-8")
    assert src.stat().st_size > 1 << 20
    corpus = _quiet_import(src, "sharegpt", out=tmp_path / "c")
    assert corpus.conversation_ids == ["c1", "p1", "p2"]
    assert corpus.manifest["repaired"] == {"meta_too_deep": 1}
    assert corpus.manifest["examples"]["meta_too_deep"] == [
        "src.json record 2 (line 2): meta key 'x'"
    ]
