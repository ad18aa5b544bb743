"""The two corpus tables (docs/internals.md, Tables), declared once."""

from __future__ import annotations

import pyarrow as pa

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
