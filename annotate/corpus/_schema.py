"""The two corpus tables (docs/internals.md, Tables), declared once."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

#: one row per turn, ordered by (conversation_id, turn_index)
TURNS_SCHEMA = pa.schema(
    [
        pa.field("conversation_id", pa.string(), nullable=False),
        pa.field("turn_index", pa.int32(), nullable=False),
        pa.field("turn_id", pa.string(), nullable=False),
        pa.field("role", pa.string(), nullable=False),
        pa.field("speaker", pa.string()),
        pa.field("text", pa.string(), nullable=False),
        pa.field("created_at", pa.timestamp("us", tz="UTC")),
        pa.field("model", pa.string()),
        pa.field("meta", pa.string()),
    ]
)

#: one row per conversation, ordered by conversation_id
CONVERSATIONS_SCHEMA = pa.schema(
    [
        pa.field("conversation_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_id", pa.string()),
        pa.field("user_id", pa.string()),
        pa.field("started_at", pa.timestamp("us", tz="UTC")),
        pa.field("n_turns", pa.int32(), nullable=False),
        pa.field("language", pa.string()),
        pa.field("model", pa.string()),
        pa.field("meta", pa.string()),
    ]
)

TURN_COLUMNS: tuple[str, ...] = tuple(TURNS_SCHEMA.names)
CONVERSATION_COLUMNS: tuple[str, ...] = tuple(CONVERSATIONS_SCHEMA.names)

#: rows per parquet row group (about 64k, for predicate pushdown by id)
ROW_GROUP_SIZE = 65_536

#: version of the on-disk corpus folder layout, recorded in manifest.json
FOLDER_VERSION = 1


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The parquet column paths of ``schema`` to dictionary-encode: all but floating-point ones.

    Scores (WildChat's moderation and detoxify results in ``turn_fields.parquet``) are nearly
    all distinct: pyarrow would hash every row group's values into a dictionary (it falls back
    to plain encoding only past 1 MiB of dictionary, i.e. never at 64k rows of float64), which
    took half the time of writing ``turn_fields.parquet`` and made it a fifth larger. The values
    written are the same either way; only their encoding in the file differs.
    """
    sink = pa.BufferOutputStream()
    pq.write_table(schema.empty_table(), sink)  # the parquet schema of this Arrow schema
    parquet = pq.read_metadata(pa.BufferReader(sink.getvalue())).schema
    return [
        parquet.column(i).path
        for i in range(len(parquet))
        if parquet.column(i).physical_type not in ("FLOAT", "DOUBLE")
    ]
