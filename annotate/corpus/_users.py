"""The user table of a corpus folder: ``users.parquet``, one row per ``user_id``.

Written only when the source describes its users (PRISM's survey: demographics, stated
preferences); a corpus without it (every corpus of folder version 1) reads as an empty table
with the one column ``user_id``. ``conversations.user_id`` is the key: analyses join the two to
group conversations by who had them. Columns are the source's fields, nested ones flattened to
dotted names (``location.reside_country``); a column whose values mix types, or hold lists, is
stored as JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

USERS_FILE = "users.parquet"


def users_table(rows: Mapping[str, Mapping[str, Any]]) -> pa.Table:
    """``{user_id: {column: value}}`` as a table (``user_id`` first, sorted by it)."""
    ids = sorted(rows)
    columns: dict[str, list[Any]] = {"user_id": ids}
    names: list[str] = []
    for uid in ids:
        for key in rows[uid]:
            if key != "user_id" and key not in columns:
                columns[key] = []
                names.append(key)
    arrays = [pa.array(ids, pa.string())]
    for name in names:
        arrays.append(_column([rows[uid].get(name) for uid in ids]))
    return pa.Table.from_arrays(arrays, names=["user_id", *names])


def _column(values: list[Any]) -> pa.Array:
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {bool}:
        return pa.array(values, pa.bool_())
    if kinds <= {int}:
        return pa.array(values, pa.int64())
    if kinds <= {int, float}:
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    if kinds <= {str}:
        return pa.array(values, pa.string())
    return pa.array(
        [
            None
            if v is None
            else v
            if isinstance(v, str)
            else json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
            for v in values
        ],
        pa.string(),
    )


def write_users(folder: Path, table: pa.Table | None) -> None:
    """Write ``users.parquet`` into a corpus folder being built (nothing for None or no rows)."""
    if table is None or table.num_rows == 0:
        return
    pq.write_table(table, folder / USERS_FILE, compression="zstd")


def read_users(folder: Path) -> pa.Table:
    """The user table of a corpus folder (an empty ``user_id`` table when it has none)."""
    path = folder / USERS_FILE
    if not path.is_file():
        return pa.table({"user_id": pa.array([], pa.string())})
    return pq.read_table(path)


def drop_users(table: pa.Table, user_ids: set[str]) -> pa.Table:
    """The table without the rows of ``user_ids``."""
    if not table.num_rows or not user_ids:
        return table
    mask = pc.invert(pc.is_in(table["user_id"], value_set=pa.array(sorted(user_ids))))
    return table.filter(mask)


def merge_users(old: pa.Table, new: pa.Table) -> pa.Table:
    """Rows of both (a user in both keeps the new row); columns of both."""
    if not old.num_rows:
        return new
    if not new.num_rows:
        return old
    kept = drop_users(old, set(new["user_id"].to_pylist()))
    rows = {r["user_id"]: r for r in kept.to_pylist()}
    rows.update({r["user_id"]: r for r in new.to_pylist()})
    return users_table(rows)
