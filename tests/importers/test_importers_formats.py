"""Each importer on small fixtures of our own: shapes, options, traps and their counts."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from annotate.errors import CorpusError, StorageError
from annotate.importers import FORMATS, IMPORTERS, import_corpus


def _openai_record(**extra):
    return {
        "messages": [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "image_url"}]},
            {
                "role": "assistant",
                "content": "Hello!",
                "name": "Mira",
                "model": "m-1",
                "created_at": "2026-01-02T03:04:05Z",
                "tool_calls": [],
            },
        ],
        **extra,
    }


def test_importers_registry_names() -> None:
    assert set(FORMATS) >= {"openai", "sharegpt", "hh-rlhf", "oasst", "convokit", "csv"}
    assert all(IMPORTERS[v].format == k and v.endswith(".v1") for k, v in FORMATS.items())


def test_importers_openai_shape(jsonl, tmp_path: Path) -> None:
    src = jsonl(
        [
            _openai_record(
                id="c1",
                user_id="u1",
                created_at="2026-01-02T03:00:00+01:00",
                model="m-1",
                meta={"content_note": "self-harm"},
                topic="x",
            ),
            _openai_record(),
        ]
    )
    with pytest.warns(UserWarning, match=r"non_text_content_part_dropped 2"):
        corpus = import_corpus(src, "openai", out=tmp_path / "c")
    meta = corpus.conversation_meta("c1")
    assert meta["user_id"] == "u1" and meta["model"] == "m-1"
    assert meta["started_at"].isoformat() == "2026-01-02T02:00:00+00:00"
    assert meta["meta"] == {"content_note": "self-harm", "topic": "x"}
    conv = corpus.conversation("c1")
    assert conv["role"].tolist() == ["system", "user", "assistant"]
    assert conv["text"].tolist() == ["Be kind.", "Hi", "Hello!"]
    assert conv["speaker"].tolist() == ["system", "user", "Mira"]
    assert conv["model"].tolist()[2] == "m-1"
    assert str(conv["created_at"].iloc[2]) == "2026-01-02 03:04:05+00:00"
    assert json.loads(conv["meta"].iloc[2]) == {"tool_calls": []}
    other = [c for c in corpus.conversation_ids if c != "c1"]
    assert len(other) == 1 and other[0].startswith("h")  # content hash id


def test_importers_content_hash_ids_stable_across_files(jsonl, tmp_path: Path) -> None:
    recs = [{"messages": [{"role": "user", "content": f"q{i}"}]} for i in range(5)]
    a = import_corpus(jsonl(recs, "a.jsonl"), "openai", out=tmp_path / "a")
    b = import_corpus(jsonl(recs[::-1], "b.jsonl"), "openai", out=tmp_path / "b")
    assert a.conversation_ids == b.conversation_ids


def test_importers_unknown_role_skipped_or_mapped(jsonl, tmp_path: Path) -> None:
    rec = {
        "messages": [
            {"role": "narrator", "content": "Once"},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
        ]
    }
    src = jsonl([rec])
    with pytest.warns(UserWarning) as caught:
        corpus = import_corpus(src, "openai", out=tmp_path / "a")
    messages = [str(w.message) for w in caught]
    assert any("unknown_role 1" in m for m in messages), messages
    # the label and the fix are named in the warning the user sees (W105)
    assert any(
        m.startswith("[W105]") and "'narrator' (1)" in m and "roles={'narrator': 'user'}" in m
        for m in messages
    ), messages
    assert corpus.turns["text"].tolist() == ["Hi", "Hello"]
    assert corpus.manifest["examples"]["unknown_role"] == ["src.jsonl line 1 message 0: 'narrator'"]
    corpus = import_corpus(src, "openai", out=tmp_path / "b", roles={"narrator": "system"})
    assert corpus.turns["role"].tolist() == ["system", "user", "assistant"]
    assert corpus.turns["speaker"].tolist() == ["narrator", "user", "assistant"]
    with pytest.raises(CorpusError, match=r"\[E113\]"):
        import_corpus(src, "openai", out=tmp_path / "c", roles={"narrator": "robot"})


SHAREGPT = [
    {
        "id": "s1",
        "conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Yo"}],
    },
    {
        "id": "s2",
        "conversations": [
            {"from": "system", "value": "S"},
            {"from": "user", "value": "A"},
            {"from": "bing", "value": "B"},
            {"from": "bard", "value": "C"},
            {"from": "chatgpt", "value": "D"},
        ],
    },
    {
        "id": 3,
        "model": "gpt-4",
        "language": "de",
        "conversations": [{"from": "human", "value": "Hallo"}, {"from": "gpt", "value": ""}],
    },
]


@pytest.mark.parametrize("array", [True, False])
def test_importers_sharegpt_array_or_jsonl(jsonl, tmp_path: Path, array: bool) -> None:
    src = jsonl(SHAREGPT, "sg.json", array=array)
    with pytest.warns(UserWarning, match=r"empty_turn 1"):
        corpus = import_corpus(src, "sharegpt", out=tmp_path / "c")
    assert corpus.conversation_ids == ["3", "s1", "s2"]
    assert corpus.conversation("s2")["role"].tolist() == [
        "system",
        "user",
        "assistant",
        "assistant",
        "assistant",
    ]
    assert corpus.conversation("s2")["speaker"].tolist() == [
        "system",
        "user",
        "bing",
        "bard",
        "chatgpt",
    ]
    meta = corpus.conversation_meta("3")
    assert meta["language"] == "de" and meta["model"] == "gpt-4" and meta["n_turns"] == 1
    assert corpus.manifest["observed"] == {"consecutive_same_role": 1}


def test_importers_sharegpt_truncated_array(jsonl, tmp_path: Path) -> None:
    src = jsonl(SHAREGPT, "sg.json", array=True)
    text = src.read_text()
    cut = text.index('"id": 3')
    src.write_text(text[: cut + 12])
    with pytest.warns(UserWarning) as record:
        corpus = import_corpus(src, "sharegpt", out=tmp_path / "c")
    messages = [str(w.message) for w in record]
    assert any(m.startswith("[W102]") and "The 2 complete records" in m for m in messages)
    assert corpus.conversation_ids == ["s1", "s2"]
    assert corpus.manifest["skipped"] == {"truncated_file": 1}


def test_importers_sharegpt_invalid_array_midway(jsonl, tmp_path: Path) -> None:
    src = jsonl(SHAREGPT, "sg.json", array=True)
    text = src.read_text().replace('"id": "s2"', '"id": s2', 1)
    src.write_text(text)
    with pytest.warns(UserWarning) as record:
        corpus = import_corpus(src, "sharegpt", out=tmp_path / "c")
    assert any(str(w.message).startswith("[W104]") for w in record)
    assert corpus.conversation_ids == ["s1"]
    assert corpus.manifest["skipped"]["unreadable_rest_of_file"] == 1


def test_importers_jsonl_bad_lines_and_cut_end(jsonl, tmp_path: Path) -> None:
    src = jsonl(SHAREGPT, "sg.jsonl")
    lines = src.read_text().splitlines(keepends=True)
    src.write_text(lines[0] + "{not json\n" + "[1, 2]\n" + lines[1] + lines[2][:30])
    with pytest.warns(UserWarning) as record:
        corpus = import_corpus(src, "sharegpt", out=tmp_path / "c")
    messages = [str(w.message) for w in record]
    assert any(m.startswith("[W102]") and "line 5" in m for m in messages)
    w101 = [m for m in messages if m.startswith("[W101]")]
    assert len(w101) == 1
    assert corpus.conversation_ids == ["s1", "s2"]
    assert corpus.manifest["skipped"] == {
        "invalid_record": 1,
        "malformed_json": 1,
        "truncated_record": 1,
    }
    assert corpus.manifest["examples"]["malformed_json"] == ["sg.jsonl line 2"]


def test_importers_gzip_and_cut_gzip(jsonl, tmp_path: Path) -> None:
    plain = jsonl(SHAREGPT[:2], "sg.jsonl").read_bytes()
    gz = tmp_path / "sg.jsonl.gz"
    gz.write_bytes(gzip.compress(plain))
    corpus = import_corpus(gz, "sharegpt", out=tmp_path / "a")
    assert corpus.conversation_ids == ["s1", "s2"]
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(gzip.compress(plain * 50)[:-20])
    with pytest.warns(UserWarning) as record:
        corpus = import_corpus(cut, "sharegpt", out=tmp_path / "b")
    assert [str(w.message)[:6] for w in record] == ["[W102]", "[W101]"]
    assert corpus.manifest["skipped"]["truncated_file"] == 1
    assert corpus.manifest["repaired"]["duplicate_conversation_id"] == len(corpus) - 2


def test_importers_hh_rlhf_fixture(jsonl, tmp_path: Path) -> None:
    rec = {
        "chosen": "\n\nHuman: Say Human: hi\n\nAssistant: Human: hi"
        "\n\nAssistant: more\n\nAssistant: ",
        "rejected": "\n\nHuman: Say Human: hi\n\nAssistant: no",
    }
    with pytest.warns(UserWarning, match=r"empty_turn 1"):
        corpus = import_corpus(jsonl([rec]), "hh-rlhf", out=tmp_path / "c")
    conv = corpus.turns
    assert conv["text"].tolist() == ["Say Human: hi", "Human: hi", "more"]
    assert conv["role"].tolist() == ["user", "assistant", "assistant"]
    assert corpus.manifest["observed"] == {"consecutive_same_role": 1, "role_marker_inside_turn": 1}
    with pytest.raises(CorpusError, match=r"\[E104\] Option 'variant' .* 'best'"):
        import_corpus(jsonl([rec]), "hh-rlhf", out=tmp_path / "d", variant="best")
    with pytest.raises(CorpusError, match=r"\[E103\] Option 'paths' .* Its options: variant"):
        import_corpus(jsonl([rec]), "hh-rlhf", out=tmp_path / "d", paths="all")


def _msg(mid, role, text, replies=(), rank=None, deleted=False):
    return {
        "message_id": mid,
        "role": role,
        "text": text,
        "rank": rank,
        "deleted": deleted,
        "replies": list(replies),
    }


def test_importers_oasst_policies(jsonl, tmp_path: Path) -> None:
    tree = {
        "message_tree_id": "t1",
        "prompt": _msg(
            "p",
            "prompter",
            "Q",
            [
                _msg("a1", "assistant", "second best", [_msg("f", "prompter", "follow")], rank=1),
                _msg("a0", "assistant", "best", rank=0),
                _msg(
                    "a2",
                    "assistant",
                    "gone",
                    [_msg("g", "prompter", "below")],
                    rank=2,
                    deleted=True,
                ),
            ],
        ),
    }
    src = jsonl([tree])
    with pytest.warns(UserWarning, match="below_deleted_message 1, deleted_message 1"):
        best = import_corpus(src, "oasst", out=tmp_path / "best")
    assert best.conversation("t1")["turn_id"].tolist() == ["p", "a0"]
    with pytest.warns(UserWarning, match="deleted_message 1"):
        every = import_corpus(src, "oasst", out=tmp_path / "all", paths="all")
    assert sorted(every.conversation_ids) == ["a0", "f"]
    assert every.conversation("f")["text"].tolist() == ["Q", "second best", "follow"]
    kept = import_corpus(src, "oasst", out=tmp_path / "keep", paths="all", deleted="keep")
    assert sorted(kept.conversation_ids) == ["a0", "f", "g"]
    assert json.loads(kept.conversation("g")["meta"].iloc[1])["deleted"] is True


def _convokit(folder: Path, utts: list[dict]) -> Path:
    folder.mkdir()
    (folder / "utterances.jsonl").write_text("".join(json.dumps(u) + "\n" for u in utts))
    (folder / "speakers.json").write_text(json.dumps({"bot": {"meta": {"role": "assistant"}}}))
    (folder / "conversations.json").write_text(json.dumps({"r": {"meta": {"title": "T"}}}))
    return folder


def test_importers_convokit_fixture(tmp_path: Path) -> None:
    utts = [
        {
            "id": "r",
            "conversation_id": "r",
            "text": "root",
            "speaker": "ann",
            "reply-to": None,
            "timestamp": 10,
        },
        {
            "id": "x",
            "conversation_id": "r",
            "text": "late",
            "speaker": "bot",
            "reply-to": "r",
            "timestamp": 30,
        },
        {
            "id": "y",
            "conversation_id": "r",
            "text": "early",
            "speaker": "bob",
            "reply_to": "r",
            "timestamp": 20,
        },
        {
            "id": "z",
            "conversation_id": "r",
            "text": "lost",
            "speaker": "bob",
            "reply-to": "gone",
            "timestamp": 25,
        },
    ]
    folder = _convokit(tmp_path / "ck", utts)
    thread = import_corpus(folder, "convokit", out=tmp_path / "t")
    conv = thread.conversation("r")
    assert conv["text"].tolist() == ["root", "early", "lost", "late"]
    assert conv["role"].tolist() == ["user", "user", "user", "assistant"]
    assert thread.conversation_meta("r")["meta"] == {"title": "T"}
    with pytest.warns(UserWarning, match="orphan_utterance 1"):
        best = import_corpus(folder, "convokit", out=tmp_path / "b", paths="best")
    assert best.conversation("r")["text"].tolist() == ["root", "early"]
    with pytest.warns(UserWarning, match="orphan_utterance 1"):
        every = import_corpus(folder, "convokit", out=tmp_path / "a", paths="all")
    assert every.conversation_ids == ["r/x", "r/y"]


def test_importers_csv_mapping(tmp_path: Path) -> None:
    src = tmp_path / "log.csv"
    src.write_text(
        "chat,n,who,message,when\n"
        "c1,10,bot,third,2024-01-01T00:00:10Z\n"
        "c1,9,person,second,2024-01-01T00:00:09Z\n"
        "c2,1,person,only,\n"
        "c1,1,person,first,2024-01-01T00:00:01Z\n"
    )
    mapping = {
        "conversation_id": "chat",
        "turn_index": "n",
        "role": "who",
        "text": "message",
        "created_at": "when",
    }
    corpus = import_corpus(
        src, "csv", out=tmp_path / "c", mapping=mapping, roles={"person": "user"}
    )
    conv = corpus.conversation("c1")
    assert conv["text"].tolist() == ["first", "second", "third"]  # 10 sorts after 9
    assert conv["role"].tolist() == ["user", "user", "assistant"]
    assert conv["speaker"].tolist() == ["person", "person", "bot"]
    assert str(corpus.conversation_meta("c1")["started_at"]) == "2024-01-01 00:00:01+00:00"
    assert corpus.conversation("c2")["created_at"].isna().all()


def test_importers_csv_bad_mapping(tmp_path: Path) -> None:
    src = tmp_path / "log.tsv"
    src.write_text("chat\twho\tmessage\nc1\tuser\thi\n")
    with pytest.raises(
        CorpusError, match=r"\[E109\].*'msg'.*Columns in the file: 'chat', 'who', 'message'"
    ):
        import_corpus(
            src, "csv", out=tmp_path / "c", mapping={"conversation_id": "chat", "text": "msg"}
        )
    with pytest.raises(CorpusError, match=r"\[E110\].*role, text.*'chat', 'who', 'message'"):
        import_corpus(src, "csv", out=tmp_path / "c", mapping={"conversation_id": "chat"})
    with pytest.raises(CorpusError, match=r"\[E104\].*not a mapping field"):
        import_corpus(src, "csv", out=tmp_path / "c", mapping={"words": "message"})
    ok = import_corpus(
        src, "csv", out=tmp_path / "c", mapping="conversation_id=chat,role=who,text=message"
    )
    assert ok.turns["text"].tolist() == ["hi"]
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_importers_mathdial_fixture(jsonl, tmp_path: Path) -> None:
    rec = {
        "qid": 7,
        "conversation": "Teacher: (probing)What is 2+2?|EOM|Ana: 5|EOM|Student: 4"
        "|EOM|Teacher: (focus)",
    }
    with pytest.warns(UserWarning, match="empty_turn 1"):
        corpus = import_corpus(jsonl([rec]), "mathdial", out=tmp_path / "m")
    t = corpus.turns
    assert t["text"].tolist() == ["What is 2+2?", "5", "4"]
    assert t["speaker"].tolist() == ["Teacher", "Ana", "Student"]
    assert t["role"].tolist() == ["user", "assistant", "assistant"]
    assert json.loads(t["meta"].iloc[0]) == {"act": "probing"}
    assert corpus.conversations["source_id"].tolist() == ["7"]


@pytest.mark.parametrize(
    ("make", "fmt", "pattern"),
    [
        (
            lambda d: d / "missing.jsonl",
            "openai",
            r"\[E101\] Source '.*missing.jsonl' does not exist",
        ),
        (lambda d: d, "openai", r"\[E116\] .* is a folder without data files; format .openai."),
        (lambda d: _touch(d / "f.jsonl", "{}\n"), "convokit", r"\[E116\] .* is a file"),
        (lambda d: _touch(d / "f.jsonl", ""), "openai", r"\[E105\] .*holds no records"),
        (lambda d: _touch(d / "f.jsonl", "\n\n  \n"), "sharegpt", r"\[E105\]"),
        (
            lambda d: _touch(d / "f.jsonl", "{}\n"),
            "nope",
            r"\[E102\] Unknown import format 'nope'.*csv",
        ),
        (lambda d: _touch(d / "f.csv", "a,b\n1,2\n"), "csv", r"\[E110\]"),
        (lambda d: _touch(d / "f.gz", "\x1f\x8bnot gzip"), "openai", r"\[E106\].*gzip"),
    ],
)
def test_importers_clear_errors(tmp_path: Path, make, fmt: str, pattern: str) -> None:
    src = make(tmp_path)
    with pytest.raises(CorpusError, match=pattern):
        import_corpus(src, fmt, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def _touch(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("latin-1"))
    return path


def test_importers_write_failure_leaves_nothing(jsonl, tmp_path: Path, monkeypatch) -> None:
    import annotate.corpus._io as corpus_io

    def broken(folder, *args, **kwargs):
        (folder / "turns.parquet").write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(corpus_io, "write_tables", broken)
    with pytest.raises(StorageError, match=r"\[E001\] No space left"):
        import_corpus(jsonl(SHAREGPT[:1]), "sharegpt", out=tmp_path / "c")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.jsonl"]


def test_importers_existing_output(jsonl, tmp_path: Path) -> None:
    src = jsonl(SHAREGPT[:1])
    import_corpus(src, "sharegpt", out=tmp_path / "c")
    with pytest.raises(CorpusError, match=r"\[E107\]"):
        import_corpus(src, "sharegpt", out=tmp_path / "c")
    again = import_corpus(src, "sharegpt", out=tmp_path / "c", overwrite=True, name="again")
    assert again.manifest["name"] == "again"


def test_importers_reply_cycles_counted(jsonl, tmp_path: Path) -> None:
    rows = [
        {"message_id": "r", "parent_id": None, "role": "prompter", "text": "Q"},
        {"message_id": "a", "parent_id": "b", "role": "assistant", "text": "A"},
        {"message_id": "b", "parent_id": "a", "role": "prompter", "text": "B"},
    ]
    with pytest.warns(UserWarning, match="reply_cycle 2"):
        corpus = import_corpus(jsonl(rows), "oasst", out=tmp_path / "c")
    assert corpus.turns["text"].tolist() == ["Q"]
