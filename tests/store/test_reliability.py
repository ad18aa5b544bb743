"""Reliability of the label store with real processes and real files (slow).

Writers and compactors are forked by tests/store/_spawner.py and killed with SIGKILL; every
event a writer acknowledged (printed after ``append`` returned) must be in the store, once,
with the content it was written with, and the store must read cleanly after every kill.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pandas as pd
import pytest

from annotate.store import LabelStore

sys.path.insert(0, str(Path(__file__).parent))
from _spawner import event

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="fork and SIGKILL are POSIX"),
]


def _check_acked(events: pd.DataFrame, acks: list[tuple[str, int, str]]) -> None:
    """Every acknowledged event is present exactly once and uncorrupted."""
    assert events["event_id"].is_unique
    if not acks:
        return
    by_id = events.set_index("event_id")
    missing = [a for a in acks if a[2] not in by_id.index]
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {missing[:3]}"
    got = by_id.loc[[a[2] for a in acks]]
    want = pd.DataFrame([event(tag, seq) for tag, seq, _ in acks])
    for col in ("annotator_id", "conversation_id", "code_id", "value", "note"):
        assert got[col].astype(str).tolist() == want[col].astype(str).tolist(), col
    assert got["turn_index"].astype(int).tolist() == want["turn_index"].tolist()
    assert got["elapsed_ms"].astype(int).tolist() == want["elapsed_ms"].tolist()


def test_reliability_eight_writers_and_a_compactor(tmp_path, codebook, spawner) -> None:
    folder = tmp_path / "labels"
    acks, done = spawner.run(f"writers {folder} 8 2000", "done")
    assert done.split()[1:9] == ["0"] * 8, done  # every writer exited cleanly
    assert len(acks) == 16_000
    assert list((folder / "compacted").rglob("*.parquet")), "the compactor never ran"
    store = LabelStore(folder, codebook, auto_compact=0)
    events = store.events()
    assert len(events) == 16_000
    _check_acked(events, acks)
    current = store.current()
    assert len(current) == 16_000  # every writer wrote distinct keys
    store.compact()
    assert len(store.events()) == 16_000
    assert list((folder / "parts").rglob("*.parquet")) == []


def test_reliability_writer_killed_fifty_times(tmp_path, codebook, spawner) -> None:
    folder = tmp_path / "labels"
    rng = random.Random(4)
    acked: list[tuple[str, int, str]] = []
    mid_stream = 0
    for i in range(50):
        delay = rng.uniform(0.0, 0.25)
        acks, _ = spawner.run(f"killwrite {folder} {delay:.4f} k{i}", "killed")
        acked += acks
        mid_stream += bool(acks)
        events = LabelStore(folder, codebook).events()  # reads cleanly (folds past 1,000 parts)
        _check_acked(events, acked)
    assert mid_stream >= 25, f"only {mid_stream} of 50 kills hit a writer that had saved"


def test_reliability_compactor_killed_at_random_moments(tmp_path, codebook, spawner) -> None:
    folder = tmp_path / "labels"
    rng = random.Random(7)
    acked: list[tuple[str, int, str]] = []
    for i in range(20):
        acks, status = spawner.run(f"write {folder} {rng.randint(10, 50)} c{i}", "exit")
        assert status == f"exit c{i} 0"
        acked += acks
        spawner.run(f"killcompact {folder} {rng.uniform(0.0, 0.15):.4f}", "killed")
        store = LabelStore(folder, codebook, auto_compact=0)
        _check_acked(store.events(), acked)
        assert len(store.current()) == len(acked)
    store.compact()
    _check_acked(store.events(), acked)
    per_coder = [list(d.glob("*.parquet")) for d in (folder / "compacted").iterdir()]
    assert len(per_coder) == 20 and all(1 <= len(files) <= 5 for files in per_coder)
