"""The label event table, declared once (docs/internals.md, Tables), and its pandas form."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

#: the columns of a label event, in order, with their Arrow types (docs/internals.md, Tables)
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
