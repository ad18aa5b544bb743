"""Latest-wins over label events, vectorised in Arrow.

Compaction writes each compacted file in two sections, both sorted by (label key, created_at,
event_id): first the *head*, the latest event of every key in the file (clears included), then
the *tail*, every superseded event. A superseded event can never be the current label (a later
event of its key is in the same file), so current labels need only the heads of compacted files
plus the recent part files: the rows of conversations the parts touch are sorted and folded
again, everything else is taken as it is. Reading current labels therefore costs about one
parquet read of the head, not a global sort.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from annotate.store._schema import KEY_COLUMNS, LABEL_SCHEMA, ORDER_COLUMNS

_SORT_KEYS = [(c, "ascending") for c in (*KEY_COLUMNS, *ORDER_COLUMNS)]


def sort_by_key(table: pa.Table) -> pa.Table:
    """Events sorted by (label key, created_at, event_id), duplicates by event id removed."""
    table = table.take(pc.sort_indices(table, sort_keys=_SORT_KEYS))
    return drop_adjacent_duplicates(table, "event_id")


def drop_adjacent_duplicates(table: pa.Table, column: str) -> pa.Table:
    """Drop rows whose ``column`` equals the previous row's (the table is sorted so)."""
    n = table.num_rows
    if n < 2:
        return table
    col = table.column(column)
    same = pc.equal(col.slice(1), col.slice(0, n - 1)).fill_null(False)
    if not pc.any(same).as_py():
        return table
    keep = np.append(True, ~same.to_numpy())
    return table.filter(pa.array(keep))


def last_of_key(table: pa.Table) -> np.ndarray:
    """Boolean mask: the last row of each label key in a key-sorted table."""
    n = table.num_rows
    if n < 2:
        return np.ones(n, dtype=bool)
    differs = np.zeros(n - 1, dtype=bool)
    for name in KEY_COLUMNS:
        col = table.column(name)
        ne = pc.not_equal(col.slice(0, n - 1), col.slice(1)).fill_null(False)
        differs |= ne.to_numpy()
        if col.null_count:
            isnull = col.is_null().to_numpy()
            differs |= isnull[:-1] != isnull[1:]
    return np.append(differs, True)


def split_head(table: pa.Table) -> tuple[pa.Table, pa.Table]:
    """A key-sorted table -> (latest event per key, superseded events)."""
    mask = last_of_key(table)
    return table.filter(pa.array(mask)), table.filter(pa.array(~mask))


def split_by_coder(table: pa.Table) -> Iterable[tuple[str, pa.Table]]:
    """(annotator, its rows) for each annotator of a table, in order of first appearance."""
    coders = table.column("annotator_id")
    values = pc.unique(coders).to_pylist()
    if len(values) == 1:
        yield values[0], table
        return
    for value in values:
        yield value, table.filter(pc.equal(coders, value))


def latest(chunks: Iterable[tuple[pa.Table, bool, str | None]]) -> pa.Table:
    """Current labels from chunks (table, is_head, coder or None) of several coders.

    Label keys begin with the annotator, so each coder's labels are folded on their own: a
    coder's big compacted head is taken as it is (see :func:`latest_of_coder`).
    """
    per_coder: dict[str, tuple[list[pa.Table], list[pa.Table]]] = {}
    for table, is_head, coder in chunks:
        pieces = [(coder, table)] if coder is not None else split_by_coder(table)
        for name, rows in pieces:
            heads, loose = per_coder.setdefault(name, ([], []))
            (heads if is_head else loose).append(rows)
    if not per_coder:
        return LABEL_SCHEMA.empty_table()
    return pa.concat_tables([latest_of_coder(*per_coder[name]) for name in sorted(per_coder)])


def latest_of_coder(heads: list[pa.Table], loose: list[pa.Table]) -> pa.Table:
    """Current labels from compacted heads (one row per key each) and loose events.

    The largest head is taken as it is except for the conversations that anything else
    touches; those rows and all the rest are sorted and folded. Keys whose latest event is a
    ``clear`` are dropped.
    """
    if not heads and not loose:
        return LABEL_SCHEMA.empty_table()
    heads = sorted(heads, key=lambda t: t.num_rows)
    big = heads.pop() if heads else LABEL_SCHEMA.empty_table()
    rest = [*heads, *loose]
    if rest:
        rest_t = pa.concat_tables(rest)
        touched = pc.unique(rest_t.column("conversation_id"))
        mask = pc.is_in(big.column("conversation_id"), value_set=touched)
        affected = sort_by_key(pa.concat_tables([big.filter(mask), rest_t]))
        affected = affected.filter(pa.array(last_of_key(affected)))
        folded = pa.concat_tables([big.filter(pc.invert(mask)), affected])
    else:
        folded = big
    cleared = pc.equal(folded.column("op"), "clear")
    if not pc.any(cleared).as_py():
        return folded  # nothing to drop: spare a copy of a million rows
    return folded.filter(pc.invert(cleared))


def history(tables: list[pa.Table]) -> pa.Table:
    """Every event once, in (created_at, event_id) order."""
    if not tables:
        return LABEL_SCHEMA.empty_table()
    table = pa.concat_tables(tables)
    order = [(c, "ascending") for c in ORDER_COLUMNS]
    table = table.take(pc.sort_indices(table, sort_keys=order))
    return drop_adjacent_duplicates(table, "event_id")
