"""The label event table, declared once (docs/internals.md, Tables), and its pandas form."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa

#: one evidence span: [start, end) in Python string indexes (code points) of ``turns.text``,
#: and the sha256 (hex) of that slice's UTF-8 bytes, so that a changed corpus is detected
EVIDENCE_TYPE = pa.list_(
    pa.struct(
        [
            pa.field("start", pa.int32(), nullable=False),
            pa.field("end", pa.int32(), nullable=False),
            pa.field("sha256", pa.string(), nullable=False),
        ]
    )
)

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
        # added in release 0.2 (files without them read with nulls, see upgrade()):
        # what the coder saw of an LLM coder's suggestion when making this event
        pa.field("exposure", pa.string()),
        # evidence spans: character offsets into the turn's text, with the quoted text's hash
        pa.field("evidence", EVIDENCE_TYPE),
    ]
)

#: columns of release 0.1's label events; files with exactly these are read with nulls added
LABEL_COLUMNS_V1: tuple[str, ...] = tuple(LABEL_SCHEMA.names[:15])

#: ``exposure`` values: no suggestion was visible, one was visible before the coder's own
#: label (``before``), or revealed only after it was saved (``after``)
EXPOSURES: tuple[str, ...] = ("none", "before", "after")

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


def upgrade(table: pa.Table) -> pa.Table | None:
    """A table of an older label-event layout with the newer columns added as nulls; None
    when its columns are not a known layout (a foreign file)."""
    names = tuple(table.schema.names)
    if names == tuple(LABEL_SCHEMA.names):
        return table
    if names == LABEL_COLUMNS_V1:
        for f in list(LABEL_SCHEMA)[len(names) :]:
            table = table.append_column(f, pa.nulls(table.num_rows, f.type))
        return table
    return None


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow label events -> pandas: pyarrow strings, nullable Int32, UTC timestamps."""
    return table.to_pandas(types_mapper=_PANDAS_TYPES.get, ignore_metadata=True)


def empty_events() -> pd.DataFrame:
    """An empty label-event frame with the right columns and dtypes."""
    return to_pandas(LABEL_SCHEMA.empty_table())
