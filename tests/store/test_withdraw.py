"""LabelStore.withdraw: every event of some conversations leaves every file of the store."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow.parquet as pq

from annotate.store import LabelStore, withdraw_conversations


def ev(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "annotator_id": "alice",
        "unit": "turn",
        "conversation_id": "c1",
        "turn_index": 1,
        "code_id": "ai_empathy",
        "value": "1",
    }
    base.update(kw)
    return base


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_store_withdraw_from_parts_compacted_and_mixed_files(tmp_path: Path, codebook) -> None:
    store = LabelStore(tmp_path / "labels", codebook, auto_compact=0)
    for who in ("alice", "bob"):
        store.append([ev(annotator_id=who, conversation_id=c) for c in ("c1", "c2", "c3")])
        store.append([ev(annotator_id=who, conversation_id="c2", code_id="_memo",
                         value=f"{who} on the withdrawn one")])  # fmt: skip
    store.compact(full=True)  # compacted files with a head and a tail
    store.append([ev(annotator_id="alice", conversation_id="c2", value="0")])  # a part
    mixed = [
        ev(annotator_id="alice", conversation_id="c2", code_id="_flag", value="1"),
        ev(annotator_id="bob", conversation_id="c3", code_id="_flag", value="1"),
    ]
    store.append(mixed)  # several coders in one append: a part in the top folder
    before = store.current()
    assert set(before["conversation_id"]) == {"c1", "c2", "c3"}
    stale = tmp_path / "labels" / "parts" / "alice" / ".0001-x.parquet.abc.tmp"
    stale.write_bytes(b"c2 half a save")
    os.utime(stale, (time.time() - 60, time.time() - 60))

    removed = store.withdraw({"c2"})

    assert removed == 2 + 2 + 1 + 1  # two coders' c2 label and memo, the part, the mixed part
    assert not stale.exists()
    after = store.current()
    assert "c2" not in set(after["conversation_id"])
    assert "c2" not in set(store.events()["conversation_id"])
    keep = before[before["conversation_id"] != "c2"].reset_index(drop=True)
    assert (
        after.sort_values(["annotator_id", "conversation_id", "code_id"])
        .reset_index(drop=True)[["annotator_id", "conversation_id", "code_id", "value", "event_id"]]
        .equals(
            keep.sort_values(["annotator_id", "conversation_id", "code_id"]).reset_index(drop=True)[
                ["annotator_id", "conversation_id", "code_id", "value", "event_id"]
            ]
        )
    )
    for f in _files(tmp_path / "labels"):
        assert b"c2" not in f.read_bytes() or f.suffix == ".parquet"
        if f.suffix == ".parquet":
            assert "c2" not in pq.read_table(f)["conversation_id"].to_pylist()
    assert store.withdraw({"c2"}) == 0  # idempotent


def test_store_withdraw_keeps_compacted_heads_current(tmp_path: Path, codebook) -> None:
    store = LabelStore(tmp_path / "labels", codebook, auto_compact=0)
    store.append([ev(conversation_id="c1", value="1"), ev(conversation_id="c9", value="1")])
    store.append([ev(conversation_id="c1", value="0"), ev(conversation_id="c9", value="0")])
    store.compact(full=True)
    (compacted,) = (tmp_path / "labels" / "compacted" / "alice").glob("*.parquet")
    assert int(pq.read_schema(compacted).metadata[b"annotate.head_rows"]) == 2
    withdraw_conversations(tmp_path / "labels", ["c9"])
    (rewritten,) = (tmp_path / "labels" / "compacted" / "alice").glob("*.parquet")
    assert rewritten != compacted
    assert int(pq.read_schema(rewritten).metadata[b"annotate.head_rows"]) == 1
    cur = store.current()
    assert cur["conversation_id"].tolist() == ["c1"] and cur["value"].tolist() == ["0"]
    assert len(store.events()) == 2
