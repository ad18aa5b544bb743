"""The per-coder layout: scoped reads, stores of release 0.1, planted links, full disks."""

from __future__ import annotations

import errno
import os
import time
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from annotate import durable
from annotate.clock import CLOCK
from annotate.errors import LabelStoreError, StorageError
from annotate.store import LABEL_SCHEMA, LabelStore, _files
from annotate.store._schema import LABEL_COLUMNS_V1

#: a code of the toy codebook that takes evidence spans (evidence: optional)
EVIDENCED = "ai_autonomy_support"


def ev(who: str = "alice", conv: str = "c1", turn: int = 1, value: str = "1", **kw: object):
    return {"annotator_id": who, "unit": "turn", "conversation_id": conv, "turn_index": turn,
            "code_id": "ai_empathy", "value": value, **kw}  # fmt: skip


def _files_of(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.parquet"))


def test_layout_each_coder_writes_into_own_folder(tmp_path: Path, codebook) -> None:
    store = LabelStore(tmp_path / "labels", codebook)
    store.append(ev("alice"))
    store.append(ev("bob"))
    store.append([ev("alice", turn=2), ev("bob", turn=2)])  # one batch of two coders
    files = _files_of(store.path / "parts")
    assert [f.split("/")[0] for f in files if "/" in f] == ["alice", "bob"]
    assert [f for f in files if "/" not in f and "~mixed" in f]  # the mixed batch: top folder
    store.compact()
    assert [f.split("/")[0] for f in _files_of(store.path / "compacted")] == ["alice", "bob"]
    assert _files_of(store.path / "parts") == []
    assert len(store.current()) == 4 and len(store.current("alice")) == 2


def test_layout_scoped_read_never_opens_other_coders_files(tmp_path: Path, codebook) -> None:
    store = LabelStore(tmp_path / "labels", codebook, auto_compact=0)
    store.append([ev("alice", turn=t) for t in range(3)])
    store.append([ev("bob", turn=t) for t in range(3)])
    store.compact()
    (bob_file,) = (store.path / "compacted" / "bob").glob("*.parquet")
    bob_file.write_bytes(b"PAR1 damaged")  # any read of bob's file would warn (W301)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mine = store.current("alice")  # silent: bob's file is never opened
        assert store.latest_us("alice") is not None
    assert set(mine["annotator_id"]) == {"alice"} and len(mine) == 3
    with pytest.warns(UserWarning, match="W301"):
        assert set(store.current()["annotator_id"]) == {"alice"}


def test_layout_blind_store_of_a_coder_reads_only_that_coder(tmp_path: Path, codebook) -> None:
    LabelStore(tmp_path / "labels", codebook).append([ev("alice"), ev("bob")])
    mine = LabelStore(tmp_path / "labels", codebook, annotator="alice")
    assert set(mine.current()["annotator_id"]) == {"alice"}
    assert set(mine.events()["annotator_id"]) == {"alice"}
    with pytest.raises(LabelStoreError, match="E306"):
        mine.current("bob")
    open_coder = LabelStore(tmp_path / "labels", codebook, annotator="alice", blind=False)
    assert set(open_coder.current()["annotator_id"]) == {"alice", "bob"}


def _legacy_store(root: Path, codebook) -> pd.DataFrame:
    """A store as release 0.1 wrote it: one compacted file and parts of every coder, all in
    the top folders (built from rows a current store validated)."""
    scratch = LabelStore(root.parent / "scratch", codebook)
    rows = scratch.validate(
        [
            ev(w, conv=f"c{i}", turn=i % 3, value=str(i % 2))
            for w in ("alice", "bob")
            for i in range(6)
        ]
    )
    # release 0.1 files had the first 15 columns only (no exposure, no evidence)
    table = pa.Table.from_pylist(rows, schema=LABEL_SCHEMA).select(list(LABEL_COLUMNS_V1))
    from annotate.store._fold import sort_by_key, split_head

    head, tail = split_head(sort_by_key(table.slice(0, 8)))
    for sub in ("parts", "compacted"):
        (root / sub).mkdir(parents=True)
    # as 0.1 wrote it: head rows first, their count in the metadata (here in one row group,
    # which also exercises a head that ends inside a row group)
    both = pa.concat_tables([head, tail])
    both = both.replace_schema_metadata({_files.HEAD_ROWS: str(head.num_rows).encode()})
    sink = pa.BufferOutputStream()
    pq.write_table(both, sink)
    durable.write_file(root / "compacted" / "c-0001-aaaa.parquet", sink.getvalue().to_pybytes())
    assert pq.read_schema(root / "compacted" / "c-0001-aaaa.parquet").names == list(
        LABEL_COLUMNS_V1
    )
    for i in range(8, 12):
        one = table.slice(i, 1)
        who = one.column("annotator_id")[0].as_py()
        name = f"{rows[i]['created_at']:016d}-{who}-{rows[i]['event_id']}.parquet"
        durable.write_file(root / "parts" / name, _files.table_bytes(one))
    return table.to_pandas()


def test_layout_reads_and_migrates_a_release_0_1_store(tmp_path: Path, codebook) -> None:
    root = tmp_path / "labels"
    rows = _legacy_store(root, codebook)
    scoped = LabelStore(root, codebook, auto_compact=0)
    assert len(scoped.current("alice")) == (rows["annotator_id"] == "alice").sum()
    assert len(scoped.events()) == 12
    assert scoped.events()[["exposure", "evidence"]].isna().all().all()  # read with nulls
    before = scoped.current()
    lead = LabelStore(root, codebook)  # an unscoped read folds the old files into coders'
    pd.testing.assert_frame_equal(lead.current(), before)
    assert _files_of(root / "parts") == []
    assert sorted({f.split("/")[0] for f in _files_of(root / "compacted")}) == ["alice", "bob"]
    pd.testing.assert_frame_equal(lead.current(), before)


def test_layout_planted_links_are_refused(tmp_path: Path, codebook) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store = LabelStore(tmp_path / "labels", codebook)
    store.append(ev("alice"))
    # a group member replaces alice's compacted folder by a link to somewhere else
    (store.path / "compacted" / "alice").rmdir() if (
        store.path / "compacted" / "alice"
    ).exists() else None
    (store.path / "compacted" / "alice").symlink_to(outside, target_is_directory=True)
    with pytest.raises(StorageError, match="E003"):
        store.compact()
    with pytest.raises(StorageError, match="E003"):
        store.current()
    assert list(outside.iterdir()) == []
    # ... or the whole compacted folder
    (store.path / "compacted" / "alice").unlink()
    os.rename(store.path / "compacted", tmp_path / "moved")
    (store.path / "compacted").symlink_to(outside, target_is_directory=True)
    with pytest.raises(StorageError, match="E003"):
        LabelStore(tmp_path / "labels", codebook)
    assert list(outside.iterdir()) == []


def test_layout_compaction_on_a_full_disk_keeps_no_space(tmp_path: Path, codebook, monkeypatch):
    store = LabelStore(tmp_path / "labels", codebook, auto_compact=0)
    store.append([ev("alice", turn=t) for t in range(3)])
    old_tmp = store.path / "parts" / "alice" / ".x.parquet.1234.tmp"
    old_tmp.write_bytes(b"left by a save killed long ago")
    old = time.time() - 2 * 3600
    os.utime(old_tmp, (old, old))

    real_write = durable.os.write

    def full(fd: int, data: object) -> int:
        if len(bytes(data)) > 2000:  # the compacted file, not small writes
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(durable.os, "write", full)
    with pytest.raises(StorageError, match="E001"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        store.compact()
    leftovers = [p for p in store.path.rglob(".*.tmp")]
    assert leftovers == []  # its own temp file and the stale one are gone
    monkeypatch.undo()
    assert len(store.current()) == 3  # nothing lost; the parts are still there
    store.append(ev("alice", turn=5))  # and saving works again


def test_layout_latest_time_counts_clears(tmp_path: Path, codebook) -> None:
    store = LabelStore(tmp_path / "labels", codebook)
    store.append(ev("alice"))
    cleared = store.append(ev("alice", op="clear", value=None))
    store.append(ev("bob"))
    want = int(cleared["created_at"].iloc[0].value // 1000)
    assert store.latest_us("alice") == want
    store.compact()
    assert store.latest_us("alice") == want  # from the compacted file's metadata
    assert store.latest_us() >= want and store.latest_us("carol") is None
    assert CLOCK.now_us() > want


def test_layout_exposure_and_evidence_round_trip(tmp_path: Path, codebook) -> None:
    import hashlib

    store = LabelStore(tmp_path / "labels", codebook)
    sha = hashlib.sha256(b"I feel").hexdigest()
    span = {"start": 0, "end": 6, "sha256": sha}
    store.append([ev("alice", exposure="after", evidence=[span], code_id=EVIDENCED),
                  ev("alice", turn=2, exposure="none", code_id=EVIDENCED)])  # fmt: skip
    store.compact()
    cur = store.current("alice").set_index("turn_index")
    assert cur.loc[1, "exposure"] == "after" and cur.loc[2, "exposure"] == "none"
    assert [dict(s) for s in cur.loc[1, "evidence"]] == [{"start": 0, "end": 6, "sha256": sha}]
    assert cur.loc[2, "evidence"] is None


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"exposure": "maybe"}, "exposure: 'maybe' is not one of none, before, after"),
        ({"evidence": [{"start": 5, "end": 2, "sha256": "0" * 64}]}, "0 <= start < end"),
        ({"evidence": [{"start": 0, "end": 2, "sha256": "xyz"}]}, "64 lower-case hex"),
        ({"evidence": "not json"}, "is not a list of spans"),
        (
            {
                "evidence": [{"start": 0, "end": 2, "sha256": "0" * 64}],
                "op": "clear",
                "value": None,
            },
            "spans belong to a 'set' event",
        ),
    ],
)
def test_layout_bad_exposure_or_evidence_is_refused(tmp_path: Path, codebook, bad, reason):
    store = LabelStore(tmp_path / "labels", codebook)
    with pytest.raises(LabelStoreError, match="E301") as info:
        store.append([ev("alice", code_id=EVIDENCED, **bad)])
    assert reason in info.value.failure_cases["reason"].iloc[0]
