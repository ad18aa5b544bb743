"""The store's current labels folded by DuckDB over its files (annotate.store._sql) equal
LabelStore.current: parts and compacted files, mixed batches, re-labels, clears, a part and its
compacted copy read together, release 0.1 files, one coder's files."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from annotate.errors import LabelStoreError
from annotate.store import LabelStore, _sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_store_layout import _legacy_store

KEY = ["annotator_id", "unit", "conversation_id", "turn_index", "code_id"]
COLS = [*KEY, "value", "codebook_id", "codebook_version", "note"]


def ev(who: str, conv: str, turn: int, value: str | None, **kw: object) -> dict:
    return {"annotator_id": who, "unit": "turn", "conversation_id": conv, "turn_index": turn,
            "code_id": "ai_empathy", "value": value, **kw}  # fmt: skip


def _rows(frame: pd.DataFrame) -> list[tuple]:
    out = frame[COLS].astype(object)
    return sorted(
        tuple(None if v is None or v is pd.NA or v != v else v for v in r)
        for r in out.itertuples(index=False)
    )


def _folded(root: Path, annotator: str | None = None) -> pd.DataFrame:
    con = _sql.connect()
    files = _sql.label_files(root, annotator)
    sql = _sql.current_sql(files, annotators=None if annotator is None else [annotator])
    return con.sql(sql).to_arrow_table().to_pandas()


def _busy_store(root: Path, codebook) -> LabelStore:
    store = LabelStore(root, codebook, auto_compact=0)
    store.append([ev(w, f"c{i}", i % 3, str(i % 2)) for w in ("alice", "bob") for i in range(9)])
    store.compact()
    store.append([ev("alice", "c1", 1, "0", note="second thoughts")])  # re-labelled
    store.append([ev("bob", "c2", 2, None, op="clear")])  # cleared
    store.append([ev("alice", "c7", 1, "1"), ev("bob", "c7", 1, "0")])  # a mixed batch
    store.append([ev("bob", "c2", 2, "1")])  # set again after the clear
    store.append([ev("alice", "c4", 1, None, op="clear")])
    return store


def test_sql_fold_equals_the_store_current_labels(tmp_path: Path, codebook) -> None:
    store = _busy_store(tmp_path / "labels", codebook)
    expected = store.current()
    assert len(expected) == 17  # 18 keys; bob c2/2 cleared and set again; alice c4/1 cleared
    assert _rows(_folded(store.path)) == _rows(expected)
    assert "second thoughts" in set(_folded(store.path)["note"].dropna())


def test_sql_fold_of_one_coder_reads_that_coders_files(tmp_path: Path, codebook) -> None:
    store = _busy_store(tmp_path / "labels", codebook)
    shutil.rmtree(store.path / "compacted" / "bob")  # bob's files are not needed for alice
    assert _rows(_folded(store.path, "alice")) == _rows(store.current("alice"))


def test_sql_fold_drops_a_part_and_its_compacted_copy_once(tmp_path: Path, codebook) -> None:
    """A reader that lists a part and the compacted file a compactor just wrote from it."""
    store = _busy_store(tmp_path / "labels", codebook)
    keep = tmp_path / "parts-copy"
    shutil.copytree(store.path / "parts", keep)
    store.compact()
    shutil.copytree(keep, store.path / "parts", dirs_exist_ok=True)  # both copies on disk
    assert _rows(_folded(store.path)) == _rows(store.current())


def test_sql_fold_reads_a_release_0_1_store(tmp_path: Path, codebook) -> None:
    root = tmp_path / "labels"
    _legacy_store(root, codebook)
    expected = LabelStore(root, codebook, auto_compact=0).current()
    assert len(expected) == 12
    assert _rows(_folded(root)) == _rows(expected)


def test_sql_event_rows_counts_every_file(tmp_path: Path, codebook) -> None:
    store = _busy_store(tmp_path / "labels", codebook)
    assert _sql.event_rows(store.path) == len(store.events())


def test_sql_connect_without_duckdb_is_one_clear_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)  # import duckdb raises ImportError
    with pytest.raises(LabelStoreError, match=r"\[E324\].*annotate\[scale\]"):
        _sql.connect()


def test_sql_reads_a_coders_only_compacted_file_as_its_head(tmp_path: Path, codebook) -> None:
    """After a full compaction each coder has one file: its head (the latest event per key,
    clears included) is read without a fold, its tail (superseded events) not at all."""
    store = _busy_store(tmp_path / "labels", codebook)
    store.compact(full=True)
    found = _sql.sources(store.path)
    assert len(found.heads) == 2 and found.fold == []
    assert sum(n for _, n in found.heads) < len(store.events())  # tails left unread
    con = _sql.connect()
    got = con.sql(_sql.current_sql(found)).to_arrow_table().to_pandas()
    assert _rows(got) == _rows(store.current())
    store.append([ev("bob", "c3", 0, "1", note="after compaction")])  # bob: a part again
    found = _sql.sources(store.path)
    assert len(found.heads) == 1 and len(found.fold) == 2  # bob's file and part are folded
    got = con.sql(_sql.current_sql(found)).to_arrow_table().to_pandas()
    assert _rows(got) == _rows(store.current())
