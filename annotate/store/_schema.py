"""The label event table, declared once (DESIGN.md §3), and its pandas form."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pandas as pd
import pyarrow as pa

#: the columns of a label event, in order, with their Arrow types (DESIGN.md §3)
LABEL_SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("annotator_id", pa.string(), nullable=False),
        pa.field("session_id", pa.string(), nullable=False),
        pa.field("unit", pa.string(), nullable=False),
        pa.field("conversation_id", pa.string(), nullable=False),
        pa.field("turn_index", pa.int32()),
        pa.field("code_id", pa.string(), nullable=False),
        pa.field("value", pa.string()),
        pa.field("op", pa.string(), nullable=False),
        pa.field("codebook_id", pa.string(), nullable=False),
        pa.field("codebook_version", pa.string(), nullable=False),
        pa.field("created_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("elapsed_ms", pa.int32()),
        pa.field("context", pa.string(), nullable=False),
        pa.field("note", pa.string()),
    ]
)

#: column names of a label event, in order
LABEL_COLUMNS: tuple[str, ...] = tuple(LABEL_SCHEMA.names)

#: the key of a current label: the latest event per key wins; a ``clear`` removes it
KEY_COLUMNS: tuple[str, ...] = ("annotator_id", "unit", "conversation_id", "turn_index", "code_id")

#: the order of events: writer time, then event id (ids are monotonic within a session)
ORDER_COLUMNS: tuple[str, ...] = ("created_at", "event_id")

_PANDAS_TYPES: dict[pa.DataType, Any] = {
    pa.string(): pd.StringDtype("pyarrow"),
    pa.int32(): pd.Int32Dtype(),
}


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow label events -> pandas: pyarrow strings, nullable Int32, UTC timestamps."""
    return table.to_pandas(types_mapper=_PANDAS_TYPES.get, ignore_metadata=True)


def empty_events() -> pd.DataFrame:
    """An empty label-event frame with the right columns and dtypes."""
    return to_pandas(LABEL_SCHEMA.empty_table())


class _Clock:
    """Monotonic per-process event ids and timestamps.

    Event ids are 32 hex characters: 48 bits of milliseconds since the epoch, then 80 bits that
    start random each millisecond and count up within it, so ids sort in creation order inside a
    process even when the wall clock steps back (the ULID "monotonic" rule). ``created_at`` is
    kept strictly increasing per process for the same reason: latest-wins orders by
    (created_at, event_id), and a coder's relabel always comes from the same session.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._last_rand = 0
        self._last_us = 0

    def event_id(self) -> str:
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms <= self._last_ms:
                ms = self._last_ms
                self._last_rand += 1
            else:
                self._last_ms = ms
                self._last_rand = int.from_bytes(os.urandom(10), "big") >> 2
            return f"{ms:012x}{self._last_rand:020x}"

    def now_us(self) -> int:
        with self._lock:
            us = max(time.time_ns() // 1_000, self._last_us + 1)
            self._last_us = us
            return us


CLOCK = _Clock()
