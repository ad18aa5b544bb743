"""The label store: append-only, durable parquet label events (layer 2).

See :class:`LabelStore` and docs/internals.md ("Label events and the store").
"""

from __future__ import annotations

from annotate.store._check import validate_events
from annotate.store._schema import KEY_COLUMNS, LABEL_COLUMNS, LABEL_SCHEMA, ORDER_COLUMNS
from annotate.store._validate import TextLookup, TurnLookup, evidence_span
from annotate.store._withdraw import withdraw_conversations
from annotate.store.store import AUTO_COMPACT_PARTS, LabelStore

__all__ = [
    "AUTO_COMPACT_PARTS",
    "KEY_COLUMNS",
    "LABEL_COLUMNS",
    "LABEL_SCHEMA",
    "ORDER_COLUMNS",
    "LabelStore",
    "TextLookup",
    "TurnLookup",
    "evidence_span",
    "validate_events",
    "withdraw_conversations",
]
