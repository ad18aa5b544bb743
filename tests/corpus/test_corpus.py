"""The corpus model: tables (docs/internals.md), sorted row groups, atomic folders, checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from annotate.corpus import (
    CONVERSATIONS_SCHEMA,
    ROW_GROUP_SIZE,
    TURNS_SCHEMA,
    CorpusBuilder,
    Tally,
    atomic_folder,
    load_corpus,
    write_corpus,
    write_tables,
)
from annotate.errors import CorpusError, StorageError


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    turns = pd.DataFrame(
        {
            "conversation_id": ["b", "a", "b", "a", "a"],
            "turn_index": [1, 0, 0, 2, 1],
            "turn_id": ["b1", "a0", "b0", "a2", "a1"],
            "role": ["assistant", "user", "user", "user", "assistant"],
            "speaker": ["gpt", "human", "human", None, "gpt"],
            "text": ["B1", "A0", "B0", "A2", "A1"],
            "created_at": [None] * 5,
            "model": [None] * 5,
            "meta": [None, '{"x": 1}', None, None, None],
        }
    )
    convs = pd.DataFrame(
        {
            "conversation_id": ["b", "a"],
            "source": ["test.v1"] * 2,
            "source_id": ["b", "a"],
            "user_id": ["u1", None],
            "started_at": [datetime(2024, 5, 1, tzinfo=UTC), None],
            "n_turns": [2, 3],
            "language": [None, "en"],
            "model": [None, None],
            "meta": ['{"content_note": "self-harm"}', None],
        }
    )
    return turns, convs


def test_corpus_write_load_roundtrip_sorted(tmp_path: Path) -> None:
    turns, convs = _tables()
    write_corpus(tmp_path / "c", turns, convs, {"name": "toy", "format": "test.v1"})
    corpus = load_corpus(tmp_path / "c")
    assert len(corpus) == 2
    assert corpus.conversation_ids == ["a", "b"]
    assert corpus.turns["text"].tolist() == ["A0", "A1", "A2", "B0", "B1"]
    assert list(corpus.turns.columns) == TURNS_SCHEMA.names
    assert list(corpus.conversations.columns) == CONVERSATIONS_SCHEMA.names
    assert all(isinstance(d, pd.ArrowDtype) for d in corpus.turns.dtypes)
    assert str(corpus.turns["turn_index"].dtype) == "int32[pyarrow]"
    assert corpus.manifest["counts"]["turns_by_role"] == {"assistant": 2, "user": 3}
    assert corpus.manifest["counts"]["users"] == 1
    assert corpus.manifest["counts"]["first_at"].startswith("2024-05-01")


def test_corpus_conversation_and_meta(tmp_path: Path) -> None:
    turns, convs = _tables()
    corpus = load_corpus(write_corpus(tmp_path / "c", turns, convs, {"name": "toy"}))
    # before the turns table is loaded: predicate pushdown on the file
    first = corpus.conversation("b")
    assert first["text"].tolist() == ["B0", "B1"]
    assert first["turn_index"].tolist() == [0, 1]
    _ = corpus.turns  # after: a slice of the loaded table, same answer
    assert corpus.conversation("b").equals(first)
    meta = corpus.conversation_meta("b")
    assert meta["meta"] == {"content_note": "self-harm"}
    assert meta["user_id"] == "u1" and meta["n_turns"] == 2
    assert corpus.conversation_meta("a")["meta"] == {}


def test_corpus_unknown_conversation_error(tmp_path: Path) -> None:
    turns, convs = _tables()
    corpus = load_corpus(write_corpus(tmp_path / "c", turns, convs, {"name": "toy"}))
    with pytest.raises(CorpusError, match=r"\[E112\] Conversation 'zz' .* e\.g\. a, b"):
        corpus.conversation("zz")


def test_corpus_builder_large_unsorted_row_groups(tmp_path: Path) -> None:
    """> 64k turns given in reverse id order: sorted file, ~64k row groups, fast lookup.

    7 turns per conversation, so conversations straddle the row-group boundaries.
    """
    builder = CorpusBuilder("test.v1")
    n_conv, k = 10_000, 7
    for i in reversed(range(n_conv)):
        turns = [{"role": "user", "text": f"q{i}-{j}"} for j in range(k)]
        builder.add(turns, conversation_id=f"c{i:05d}")
    assert not builder.is_sorted
    t, c, layout = builder.tables()
    atomic_folder(tmp_path / "big", lambda d: write_tables(d, t, c, {"name": "big"}, layout))
    meta = pq.ParquetFile(tmp_path / "big" / "turns.parquet").metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sizes == [ROW_GROUP_SIZE, n_conv * k - ROW_GROUP_SIZE]
    corpus = load_corpus(tmp_path / "big")
    turns = corpus.turns
    assert turns["conversation_id"].tolist() == [
        f"c{i:05d}" for i in range(n_conv) for _ in range(k)
    ]
    assert turns["text"].tolist() == [f"q{i}-{j}" for i in range(n_conv) for j in range(k)]
    assert turns["turn_index"].tolist() == [j for _ in range(n_conv) for j in range(k)]
    assert turns["turn_id"].tolist()[:2] == ["c00000:0", "c00000:1"]
    straddler = f"c{ROW_GROUP_SIZE // k:05d}"  # its turns are in both row groups
    assert corpus.conversation(straddler)["text"].tolist() == [
        f"q{ROW_GROUP_SIZE // k}-{j}" for j in range(k)
    ]
    assert corpus.manifest["counts"]["turns"] == n_conv * k


def test_corpus_builder_repairs_duplicates_and_surrogates(tmp_path: Path) -> None:
    tally = Tally()
    b = CorpusBuilder("test.v1", tally)
    assert b.add([{"role": "user", "text": "x", "turn_id": "m1"}], conversation_id="a") == "a"
    second = b.add(
        [{"role": "user", "text": "bad \ud800 text", "turn_id": "m1"}], conversation_id="a"
    )
    assert second == "a~2"
    assert b.add([], conversation_id="empty") is None
    t, c, order = b.tables()
    atomic_folder(tmp_path / "c", lambda d: write_tables(d, t, c, {}, order))
    turns = load_corpus(tmp_path / "c").turns
    assert turns["text"].tolist() == ["x", "bad \ufffd text"]
    assert turns["turn_id"].tolist() == ["m1", "a~2:0"]
    assert tally.repaired == {
        "duplicate_conversation_id": 1,
        "duplicate_turn_id": 1,
        "invalid_unicode": 1,
    }
    assert tally.skipped == {"empty_conversation": 1}


def test_corpus_content_hash_ids_stable() -> None:
    turns = [{"role": "user", "text": "hello"}, {"role": "assistant", "text": "hi"}]
    a, b = CorpusBuilder("x.v1"), CorpusBuilder("x.v1")
    b.add([{"role": "user", "text": "other"}])
    id_a = a.add([dict(t) for t in turns])
    id_b = b.add([dict(t) for t in turns])
    assert id_a == id_b and id_a.startswith("h") and len(id_a) == 17
    assert id_a != a.add(
        [{"role": "assistant", "text": "hello"}, {"role": "assistant", "text": "hi"}]
    )


def test_corpus_atomic_failure_leaves_nothing(tmp_path: Path) -> None:
    def boom(folder: Path) -> None:
        (folder / "turns.parquet").write_bytes(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        atomic_folder(tmp_path / "out", boom)
    assert list(tmp_path.iterdir()) == []


def test_corpus_atomic_disk_full_is_storage_error(tmp_path: Path) -> None:
    def fail(folder: Path) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(StorageError, match=r"\[E001\] No space left.*df -h"):
        atomic_folder(tmp_path / "out", fail)
    assert list(tmp_path.iterdir()) == []


def test_corpus_exists_error_and_overwrite(tmp_path: Path) -> None:
    turns, convs = _tables()
    write_corpus(tmp_path / "c", turns, convs, {"name": "one"})
    with pytest.raises(CorpusError, match=r"\[E107\]"):
        write_corpus(tmp_path / "c", turns, convs, {"name": "two"})
    write_corpus(tmp_path / "c", turns.iloc[:0], convs.iloc[:0], {"name": "two"}, overwrite=True)
    corpus = load_corpus(tmp_path / "c")
    assert corpus.manifest["name"] == "two" and len(corpus) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]
    (tmp_path / "empty").mkdir()
    write_corpus(tmp_path / "empty", turns, convs, {"name": "ok"})  # an empty folder is fine
    assert len(load_corpus(tmp_path / "empty")) == 2


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "turns.parquet").unlink(), "missing turns.parquet"),
        (lambda d: (d / "manifest.json").write_text("{oops"), "manifest.json"),
        (lambda d: (d / "manifest.json").write_text("[1]"), "not an object"),
        (lambda d: (d / "conversations.parquet").write_bytes(b"PAR1junk"), "unreadable parquet"),
        (
            lambda d: pq.write_table(
                pa.table({"conversation_id": ["a"], "turn_index": ["zero"]}), d / "turns.parquet"
            ),
            "column 'turn_index' is string, expected int32",
        ),
        (
            lambda d: pq.write_table(
                pq.read_table(d / "turns.parquet").slice(0, 2), d / "turns.parquet"
            ),
            "has 2 rows but conversations count 5 turns",
        ),
    ],
)
def test_corpus_load_validates(tmp_path: Path, damage, message: str) -> None:
    turns, convs = _tables()
    folder = write_corpus(tmp_path / "c", turns, convs, {"name": "toy"})
    damage(folder)
    with pytest.raises(CorpusError, match=r"\[E111\]") as info:
        load_corpus(folder)
    assert message in str(info.value)


def test_corpus_load_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nope")
    (tmp_path / "f").write_text("x")
    with pytest.raises(CorpusError, match="it is a file"):
        load_corpus(tmp_path / "f")


def test_corpus_write_rejects_wrong_tables(tmp_path: Path) -> None:
    turns, convs = _tables()
    with pytest.raises(CorpusError, match="missing columns"):
        write_corpus(tmp_path / "c", turns.drop(columns=["role"]), convs, {})
    bad = turns.assign(turn_index=["x"] * 5)
    with pytest.raises(CorpusError, match="wrong column types"):
        write_corpus(tmp_path / "c", bad, convs, {})
    assert not (tmp_path / "c").exists()
    assert json.dumps  # json used by other tests in this module


_KILL_MID_OVERWRITE = """
import os, signal, sys
from annotate import durable
from annotate.importers import import_corpus

real = os.rename
def rename(src, dst, *a, **kw):
    real(src, dst, *a, **kw)
    if ".old-" in str(dst):  # the old corpus is moved away: die before the new one is in
        os.kill(os.getpid(), signal.SIGKILL)
durable.os.rename = rename
import_corpus(sys.argv[1], "openai", out=sys.argv[2], overwrite=True, name="new")
"""


def test_corpus_overwrite_killed_mid_swap_never_vanishes(tmp_path: Path) -> None:
    """A kill between moving the old corpus away and the new one in: the next reader finds
    a complete corpus (the new one, which was finished), and the project on it still opens."""
    import signal
    import subprocess
    import sys

    from annotate.importers import import_corpus

    repo = Path(__file__).resolve().parents[2]
    src = repo / "corpora" / "demo" / "demo.jsonl"
    out = tmp_path / "corpus"
    import_corpus(src, "openai", out=out, name="old")
    proc = subprocess.run([sys.executable, "-c", _KILL_MID_OVERWRITE, str(src), str(out)],
                          cwd=repo)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()  # the state a kill can leave
    corpus = load_corpus(out)  # a reader restores it
    assert corpus.manifest["name"] == "new" and len(corpus) == 60
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus"]
