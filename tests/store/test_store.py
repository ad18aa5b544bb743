"""LabelStore: append, current labels, history, validation, files on disk, compaction."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from annotate.errors import LabelStoreError
from annotate.store import LABEL_COLUMNS, LABEL_SCHEMA, LabelStore, validate_events


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


@pytest.fixture()
def store(tmp_path: Path, codebook) -> LabelStore:  # type: ignore[no-untyped-def]
    return LabelStore(tmp_path / "labels", codebook)


def _parts(store: LabelStore) -> list[Path]:
    return sorted((store.path / "parts").rglob("*.parquet"))


def test_store_append_fills_defaults_and_writes_one_part(store: LabelStore, codebook) -> None:
    saved = store.append(ev(elapsed_ms=1200))
    assert list(saved.columns) == list(LABEL_COLUMNS)
    row = saved.iloc[0]
    assert row["op"] == "set" and row["context"] == "full"
    assert row["codebook_id"] == codebook.id and row["codebook_version"] == str(codebook.version)
    assert row["session_id"] == store.session_id and len(row["event_id"]) == 32
    (part,) = _parts(store)
    assert pq.read_table(part).schema.names == LABEL_SCHEMA.names
    assert not [p for p in (store.path / "parts").iterdir() if p.name.startswith(".")]


def test_store_current_latest_wins_and_clear_removes(store: LabelStore) -> None:
    store.append(ev(code_id="ai_move", value="ask"))
    store.append(ev(code_id="ai_move", value="advise"))
    store.append(ev(code_id="ai_empathy", value="1"))
    store.append(ev(code_id="ai_empathy", op="clear", value=None))
    cur = store.current()
    assert cur[["code_id", "value"]].values.tolist() == [["ai_move", "advise"]]
    hist = store.events()
    assert hist["value"].iloc[:3].tolist() == ["ask", "advise", "1"]
    assert pd.isna(hist["value"].iloc[3]) and hist["op"].iloc[3] == "clear"
    assert hist["created_at"].is_monotonic_increasing


def test_store_current_keys_are_per_annotator_and_turn(store: LabelStore) -> None:
    store.append([ev(), ev(annotator_id="bob"), ev(turn_index=3)])
    store.append(ev(unit="conversation", turn_index=None, code_id="conv_warmth", value=5))
    cur = store.current()
    assert len(cur) == 4
    conv = cur[cur["unit"] == "conversation"]
    assert conv["turn_index"].isna().all() and conv["value"].tolist() == ["5"]


def test_store_current_dtypes(store: LabelStore) -> None:
    store.append(ev())
    cur = store.current()
    assert str(cur["turn_index"].dtype) == "Int32"
    assert str(cur["created_at"].dtype) == "datetime64[us, UTC]"
    assert cur["annotator_id"].dtype == pd.StringDtype("pyarrow")


def test_store_empty_reads(store: LabelStore) -> None:
    assert list(store.current().columns) == list(LABEL_COLUMNS)
    assert len(store.events()) == 0


def test_store_system_codes_need_no_codebook_entry(store: LabelStore) -> None:
    store.append(
        [
            ev(unit="conversation", turn_index=None, code_id="_status", value="done"),
            ev(code_id="_flag", value=1, note="unclear"),
            ev(code_id="_memo", value="sarcasm?"),
        ]
    )
    assert sorted(store.current()["code_id"]) == ["_flag", "_memo", "_status"]


def test_store_set_values_are_normalised(store: LabelStore) -> None:
    store.append(ev(turn_index=0, code_id="user_emotions", value=["joy", "anger"]))
    store.append(ev(turn_index=2, code_id="user_emotions", value="[]"))
    values = store.current().sort_values("turn_index")["value"].tolist()
    assert values == ['["anger","joy"]', "[]"]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"code_id": "nope"}, "is not a code of codebook"),
        ({"value": "7"}, "is not allowed for 'ai_empathy'"),
        ({"value": None}, "a 'set' event needs a value"),
        ({"op": "clear", "value": "1"}, "must be empty when op is 'clear'"),
        ({"op": "delete"}, "op: 'delete'"),
        ({"annotator_id": "../etc"}, "annotator_id: '../etc' is not a valid id"),
        ({"annotator_id": ""}, "annotator_id: '' is not a valid id"),
        ({"annotator_id": "Alice"}, "is not a valid id"),
        ({"unit": "conversation"}, "does not fit code 'ai_empathy'"),
        ({"turn_index": -1}, "turn_index: -1 must be a whole number"),
        ({"turn_index": 1.5}, "turn_index: 1.5"),
        ({"code_id": "conv_warmth", "unit": "conversation"}, "must be empty for a conversation"),
        ({"code_id": "user_emotions", "value": '["joy","joy"]'}, "distinct values"),
        ({"code_id": "user_emotions", "value": "joy"}, "JSON list"),
        (
            {"code_id": "_status", "unit": "conversation", "turn_index": None, "value": "x"},
            "_status",
        ),
        ({"codebook_version": "9.9.9"}, "is not the project's codebook"),
        ({"context": "partial"}, "context: 'partial'"),
        ({"elapsed_ms": -5}, "elapsed_ms: -5"),
        ({"created_at": "not a time"}, "created_at"),
        # found by attacks on the public API: each raised a raw TypeError, OverflowError or
        # UnicodeEncodeError instead of a rejected batch
        ({"event_id": ["a", "b"]}, "event_id: ['a', 'b'] must be a string"),
        ({"event_id": {"x": 1}}, "must be a string"),
        ({"created_at": datetime(1, 1, 1)}, "between 1970 and 2200"),
        ({"created_at": datetime(9999, 12, 31)}, "between 1970 and 2200"),
        ({"created_at": 12}, "between 1970 and 2200"),  # seconds or ms, not microseconds
        ({"note": "bad \udc80 memo"}, "lone surrogate"),
        ({"conversation_id": "c\ud800"}, "lone surrogate"),
        ({"code_id": ["ai_empathy"]}, "is not a code of codebook"),
        ({"code_id": "_memo", "value": "\u0085"}, "must be the memo text"),
        ({"code_id": "_flag", "value": "yes"}, "is not a _flag value"),
    ],
)
def test_store_rejects_invalid_event_and_writes_nothing(store, bad, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LabelStoreError, match="E301") as info:
        store.append([ev(), ev(**bad)])
    cases = info.value.failure_cases
    assert isinstance(cases, pd.DataFrame)
    assert cases["row"].tolist() == [1]
    assert reason in cases["reason"].iloc[0]
    assert _parts(store) == []


def test_store_failure_cases_list_every_bad_row(store: LabelStore) -> None:
    frame = pd.DataFrame([ev(), ev(code_id="x"), ev(value="9"), ev()])
    with pytest.raises(LabelStoreError) as info:
        store.append(frame)
    assert info.value.failure_cases["row"].tolist() == [1, 2]
    assert "2 of 4" in str(info.value)


def test_store_rejects_unknown_columns_and_non_tables(store: LabelStore) -> None:
    with pytest.raises(LabelStoreError, match=r"E303.*labeler"):
        store.append(ev(labeler="x"))
    with pytest.raises(LabelStoreError, match="E302"):
        store.append("ai_empathy=1")
    assert _parts(store) == []


def test_store_session_annotator_is_enforced(tmp_path: Path, codebook) -> None:
    store = LabelStore(tmp_path / "labels", codebook, annotator="alice")
    saved = store.append({k: v for k, v in ev().items() if k != "annotator_id"})
    assert saved["annotator_id"].tolist() == ["alice"]
    with pytest.raises(LabelStoreError, match="not this session's coder"):
        store.append(ev(annotator_id="bob"))


def test_store_validate_events_does_not_write(tmp_path: Path, codebook) -> None:
    out = validate_events([ev()], codebook)
    assert len(out) == 1 and out["event_id"].iloc[0]
    assert not tmp_path.joinpath("labels").exists()


def test_store_compaction_folds_parts_and_keeps_everything(store: LabelStore) -> None:
    for i in range(30):
        store.append(ev(turn_index=i % 5, value=str(i % 2)))
    before_cur, before_hist = store.current(), store.events()
    stats = store.compact()
    assert stats["folded"] == 30 and stats["events"] == 30
    assert _parts(store) == []
    (folded,) = (store.path / "compacted").rglob("*.parquet")
    assert pq.read_table(folded).num_rows == 30
    pd.testing.assert_frame_equal(store.events(), before_hist)
    key = ["annotator_id", "turn_index", "code_id"]
    after = store.current().sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(after, before_cur.sort_values(key).reset_index(drop=True))


def test_store_reads_new_parts_beside_a_compacted_file(store: LabelStore) -> None:
    store.append([ev(turn_index=i, value="1") for i in range(6)])
    store.compact()
    store.append(ev(turn_index=2, value="0"))
    store.append(ev(conversation_id="c9", turn_index=0, value="1"))
    cur = store.current().set_index(["conversation_id", "turn_index"])["value"]
    assert cur[("c1", 2)] == "0" and cur[("c1", 3)] == "1" and len(cur) == 7


def test_store_duplicates_from_a_crashed_compaction_are_dropped(store: LabelStore) -> None:
    store.append([ev(turn_index=i) for i in range(4)])
    parts = _parts(store)
    copies = [p.read_bytes() for p in parts]
    store.compact()  # as if the compactor died before deleting: put the parts back
    for p, data in zip(parts, copies, strict=True):
        p.write_bytes(data)
    store.compact()  # a second, concurrent-looking compaction
    for p, data in zip(parts, copies, strict=True):
        p.write_bytes(data)
    assert len(store.events()) == 4 and store.events()["event_id"].is_unique
    assert len(store.current()) == 4


def test_store_auto_compacts_past_threshold(tmp_path: Path, codebook) -> None:
    store = LabelStore(tmp_path / "labels", codebook, auto_compact=10)
    for i in range(12):
        store.append(ev(turn_index=i))
    assert len(_parts(store)) == 12  # appends check only every 64th time
    assert len(store.current()) == 12  # a read folds first
    assert _parts(store) == []


def _write_half_file(store: LabelStore, n_good: int = 1) -> Path:
    for i in range(n_good):
        store.append(ev(turn_index=i))
    data = _parts(store)[0].read_bytes()
    half = store.path / "parts" / "0000-half.parquet"
    half.write_bytes(data[: len(data) // 2])
    return half


@pytest.mark.parametrize("n_good", [1, 12])  # 12: the parts are read in one dataset scan
def test_store_skips_and_reports_a_truncated_file(store: LabelStore, n_good: int) -> None:
    half = _write_half_file(store, n_good)
    with pytest.warns(UserWarning, match=rf"W301.*{half.name}"):
        assert len(store.events()) == n_good
    with pytest.warns(UserWarning, match=rf"W301.*{half.name}"):
        assert len(store.current()) == n_good


@pytest.mark.parametrize("n_good", [1, 12])
def test_store_skips_and_reports_foreign_files(store: LabelStore, n_good: int) -> None:
    for i in range(n_good):
        store.append(ev(turn_index=i))
    foreign = store.path / "parts" / "notes.txt"
    foreign.write_text("my notes")
    other = store.path / "compacted" / "other.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), other)
    stray = store.path / "parts" / "stray.parquet"
    pq.write_table(pa.table({"event_id": ["e1"], "value": ["1"]}), stray)
    with pytest.warns(UserWarning) as record:
        events = store.events()
    text = "\n".join(str(w.message) for w in record)
    assert "W301" in text and all(str(p) in text for p in (foreign, other, stray))
    assert len(events) == n_good and "e1" not in set(events["event_id"])


def test_store_reports_leftover_temp_files_only_when_stale(store: LabelStore) -> None:
    store.append(ev())
    tmp = store.path / "parts" / ".123-alice-x.parquet.tmp"
    tmp.write_bytes(b"PAR1 half")
    store.events()  # a save in progress: silent (warnings are errors here)
    old = time.time() - 3 * 3600
    os.utime(tmp, (old, old))
    with pytest.warns(UserWarning, match=rf"W302.*{tmp.name}"):
        assert len(store.events()) == 1
    with pytest.warns(UserWarning, match="W302"):
        store.compact()  # and compaction removes it
    assert not tmp.exists()


def test_store_compaction_leaves_bad_files_in_place(store: LabelStore) -> None:
    half = _write_half_file(store)
    with pytest.warns(UserWarning, match="W301"):
        store.compact()
    assert half.exists()


def test_store_part_names_carry_no_user_text(store: LabelStore) -> None:
    store.append(ev(event_id="../../escape", note=json.dumps({"a": 1})))
    (part,) = _parts(store)
    assert part.parent == store.path / "parts" / "alice" and "escape" not in part.name


def _reference_current(events: pd.DataFrame) -> set[tuple[object, ...]]:
    """Latest-wins by brute force over the full history (the definition)."""
    key = ["annotator_id", "unit", "conversation_id", "turn_index", "code_id"]
    ev = events.drop_duplicates("event_id").sort_values(["created_at", "event_id"])
    last = ev.groupby(key, dropna=False, sort=False).tail(1)
    last = last[last["op"] != "clear"]
    return {tuple(r) for r in last[[*key, "value", "event_id"]].astype(str).itertuples(index=False)}


@pytest.mark.parametrize("seed", range(6))
def test_store_current_matches_brute_force_latest_wins(tmp_path: Path, codebook, seed) -> None:  # type: ignore[no-untyped-def]
    import random

    rng = random.Random(seed)
    store = LabelStore(tmp_path / "labels", codebook, auto_compact=0)
    for _ in range(40):
        batch = []
        for _ in range(rng.randint(1, 6)):
            who, conv, t = (
                rng.choice(["alice", "bob"]),
                rng.choice(["c1", "c2", "c3"]),
                rng.randrange(3),
            )
            if rng.random() < 0.3:
                batch.append(
                    ev(annotator_id=who, conversation_id=conv, turn_index=t, op="clear", value=None)
                )
            else:
                batch.append(
                    ev(annotator_id=who, conversation_id=conv, turn_index=t, value=rng.choice("01"))
                )
        store.append(batch)
        roll = rng.random()
        if roll < 0.15:
            store.compact()
        elif roll < 0.25:  # a compactor that died after writing, before deleting
            copies = {p: p.read_bytes() for p in _parts(store)}
            store.compact()
            for p, data in copies.items():
                p.write_bytes(data)
    events = store.events()
    cur = store.current()
    key = ["annotator_id", "unit", "conversation_id", "turn_index", "code_id"]
    got = {tuple(r) for r in cur[[*key, "value", "event_id"]].astype(str).itertuples(index=False)}
    assert got == _reference_current(events)
    assert len(cur) == len(got)


def test_store_reports_a_folder_it_cannot_create(tmp_path: Path, codebook) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(LabelStoreError, match=r"E304.*cannot be created"):
        LabelStore(blocker / "labels", codebook)


def test_store_auto_compaction_defers_to_a_fresh_note(tmp_path: Path, codebook) -> None:
    store = LabelStore(tmp_path / "labels", codebook, auto_compact=3)
    store.append([ev(turn_index=i) for i in range(2)])
    for i in range(3):
        store.append(ev(turn_index=i))
    note = store.path / ".compacting"
    note.write_text("4242\n")  # another process says it is compacting
    assert len(store.events()) == 5 and len(_parts(store)) == 4
    old = time.time() - 600
    os.utime(note, (old, old))  # ... but it died ten minutes ago
    assert len(store.events()) == 5 and _parts(store) == []
    assert not note.exists()


def test_store_full_compaction_leaves_one_file(store: LabelStore) -> None:
    for batch in range(3):
        store.append([ev(turn_index=i, value=str(batch % 2)) for i in range(4)])
        store.compact()
    assert len(list((store.path / "compacted").rglob("*.parquet"))) == 3
    before = store.current()
    store.compact(full=True)
    assert len(list((store.path / "compacted").rglob("*.parquet"))) == 1
    assert len(store.events()) == 12
    pd.testing.assert_frame_equal(store.current(), before)


def test_store_merges_small_compacted_files_without_rewriting_the_big_one(
    store: LabelStore,
) -> None:
    store.append([ev(conversation_id=f"b{i}", turn_index=i % 4) for i in range(6000)])
    store.compact()
    (big,) = (store.path / "compacted").rglob("*.parquet")
    for i in range(5):
        store.append(ev(turn_index=i))
        store.compact()
    files = sorted((store.path / "compacted").rglob("*.parquet"))
    assert big in files and len(files) == 2  # the five small ones became one
    assert len(store.events()) == 6005 and len(store.current()) == 6005
