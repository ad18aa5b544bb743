"""Latest-wins over label events, vectorised in Arrow.

The common state of a store is one big compacted file, already sorted by (label key,
created_at, event_id), plus a few recent part files. Folding a sorted table is one pass of
adjacent-row comparisons; only the rows of conversations touched by the unsorted rest are
sorted again. So reading current labels costs about one parquet read, not one global sort.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from annotate.store._files import drop_adjacent_duplicates, sort_by_key
from annotate.store._schema import KEY_COLUMNS, LABEL_SCHEMA, ORDER_COLUMNS


def _last_of_key(table: pa.Table) -> pa.Table:
    """The last row of each label key in a key-sorted table."""
    n = table.num_rows
    if n < 2:
        return table
    differs = np.zeros(n - 1, dtype=bool)
    for name in KEY_COLUMNS:
        col = table.column(name).combine_chunks()
        ne = pc.not_equal(col.slice(0, n - 1), col.slice(1)).fill_null(False)
        differs |= ne.to_numpy(zero_copy_only=False)
        if col.null_count:
            isnull = col.is_null().to_numpy(zero_copy_only=False)
            differs |= isnull[:-1] != isnull[1:]
    return table.filter(pa.array(np.append(differs, True)))


def latest(tables: list[tuple[pa.Table, bool]]) -> pa.Table:
    """Current labels: the latest event per label key, keys whose latest op is clear dropped."""
    if not tables:
        return LABEL_SCHEMA.empty_table()
    big_i = max(
        (i for i, (t, s) in enumerate(tables) if s), key=lambda i: tables[i][0].num_rows, default=-1
    )
    big = tables[big_i][0] if big_i >= 0 else LABEL_SCHEMA.empty_table()
    rest = [t for i, (t, _) in enumerate(tables) if i != big_i]
    if rest:
        rest_t = pa.concat_tables(rest)
        touched = pc.unique(rest_t.column("conversation_id"))
        mask = pc.is_in(big.column("conversation_id"), value_set=touched)
        affected = pa.concat_tables([big.filter(mask), rest_t])
        big = big.filter(pc.invert(mask))
        folded = pa.concat_tables([_last_of_key(big), _last_of_key(sort_by_key(affected))])
    else:
        folded = _last_of_key(big)
    return folded.filter(pc.not_equal(folded.column("op"), "clear"))


def history(tables: list[tuple[pa.Table, bool]]) -> pa.Table:
    """Every event once, in (created_at, event_id) order."""
    if not tables:
        return LABEL_SCHEMA.empty_table()
    table = pa.concat_tables([t for t, _ in tables])
    order = [(c, "ascending") for c in ORDER_COLUMNS]
    table = table.take(pc.sort_indices(table, sort_keys=order))
    return drop_adjacent_duplicates(table, "event_id")
