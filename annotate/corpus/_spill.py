"""Sorting more turns than fit in memory: sorted runs on disk, then a k-way merge.

Vectorised importers (``hf-chat``, ``arena``) hand the builder whole Arrow tables of turns, in
source order (WildChat's ids are hashes: the order is random). When the turns held in memory
pass :data:`SPILL_BYTES`, they are sorted by (conversation_id, turn_index) and written as one
*run*: an uncompressed Arrow IPC file of small record batches, in a temp folder inside the
corpus folder being built (so a failed or killed import leaves nothing, see
:func:`annotate.durable.atomic_folder`). At the end the runs are merged: each run is read one
small batch at a time; all rows up to the smallest "last id" among the runs' current batches
are taken, sorted (a conversation's turns are always in one run, and ids are unique, so this
is the global order) and cut into parquet row groups. Memory stays near SPILL_BYTES plus one
batch per run, whatever the corpus size. The run files are deleted before the folder is made
durable.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from annotate.corpus._build import POOL
from annotate.corpus._schema import ROW_GROUP_SIZE, TURNS_SCHEMA

#: turns held in memory before they are sorted and written as a run
SPILL_BYTES = 96 << 20
#: rows per record batch in a run file (what the merge holds per run)
RUN_BATCH_ROWS = 4096
_ORDER = [("conversation_id", "ascending"), ("turn_index", "ascending")]


class Runs:
    """Turn tables collected in memory and spilled to sorted runs in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pending: list[pa.Table] = []
        self.pending_bytes = 0
        self.files: list[Path] = []

    def add(self, turns: pa.Table) -> None:
        """Keep ``turns`` (TURNS_SCHEMA); spill when memory holds more than SPILL_BYTES."""
        self.pending.append(turns)
        self.pending_bytes += turns.nbytes
        if self.pending_bytes > SPILL_BYTES:
            self.spill()

    def _sorted_pending(self) -> pa.Table:
        table = pa.concat_tables(self.pending) if self.pending else TURNS_SCHEMA.empty_table()
        self.pending, self.pending_bytes = [], 0
        return pc.take(table, pc.sort_indices(table, _ORDER), memory_pool=POOL)

    def spill(self) -> None:
        """Sort what is in memory and write it as one run."""
        if not self.pending:
            return
        table = self._sorted_pending()
        self.folder.mkdir(exist_ok=True)
        path = self.folder / f"run-{len(self.files):05d}.arrow"
        with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, TURNS_SCHEMA) as writer:
            for batch in table.to_batches(max_chunksize=RUN_BATCH_ROWS):
                writer.write_batch(batch)
        self.files.append(path)
        del table

    @property
    def n_rows(self) -> int:
        return sum(t.num_rows for t in self.pending)

    def groups(self) -> Iterator[pa.Table]:
        """Every turn, in corpus order, as row groups of ROW_GROUP_SIZE rows."""
        if not self.files:
            table = self._sorted_pending()
            for lo in range(0, table.num_rows, ROW_GROUP_SIZE):
                yield table.slice(lo, ROW_GROUP_SIZE)
            return
        self.spill()
        yield from _cut(_merge(self.files))

    def remove(self) -> None:
        """Delete the run files (they hold turn text: nothing may stay behind)."""
        self.pending = []
        shutil.rmtree(self.folder, ignore_errors=True)


class _Reader:
    """One run, read one record batch at a time."""

    def __init__(self, path: Path) -> None:
        self.file = pa.OSFile(str(path), "rb")
        self.reader = ipc.open_file(self.file)
        self.next = 0
        self.batch: pa.RecordBatch | None = None
        self.pos = 0
        self.advance()

    def advance(self) -> None:
        if self.next < self.reader.num_record_batches:
            self.batch = self.reader.get_batch(self.next)
            self.next += 1
            self.pos = 0
        else:
            self.batch = None
            self.file.close()

    def last_id(self) -> str:
        assert self.batch is not None
        return str(self.batch.column(0)[self.batch.num_rows - 1].as_py())

    def take_upto(self, bound: str) -> pa.RecordBatch:
        """The rows of the current batch with id <= bound (a prefix: the run is sorted)."""
        assert self.batch is not None
        ids = self.batch.column(0).slice(self.pos)
        n = int(pc.sum(pc.less_equal(ids, bound)).as_py() or 0)
        part = self.batch.slice(self.pos, n)
        self.pos += n
        if self.pos >= self.batch.num_rows:
            self.advance()
        return part


def _merge(files: list[Path]) -> Iterator[pa.Table]:
    """Sorted tables whose concatenation is every run's rows in corpus order."""
    readers = [r for r in (_Reader(f) for f in files) if r.batch is not None]
    while readers:
        bound = min(r.last_id() for r in readers)
        parts = [r.take_upto(bound) for r in readers]
        table = pa.Table.from_batches([p for p in parts if p.num_rows], schema=TURNS_SCHEMA)
        yield pc.take(table, pc.sort_indices(table, _ORDER), memory_pool=POOL)
        readers = [r for r in readers if r.batch is not None]


def _cut(tables: Iterator[pa.Table]) -> Iterator[pa.Table]:
    """Re-chunk a stream of tables into row groups of ROW_GROUP_SIZE rows."""
    buf: list[pa.Table] = []
    n = 0
    for t in tables:
        buf.append(t)
        n += t.num_rows
        while n >= ROW_GROUP_SIZE:
            whole = pa.concat_tables(buf).combine_chunks(memory_pool=POOL)
            yield whole.slice(0, ROW_GROUP_SIZE)
            rest = whole.slice(ROW_GROUP_SIZE)
            buf, n = ([rest] if rest.num_rows else []), rest.num_rows
            del whole
    if n:
        yield pa.concat_tables(buf).combine_chunks(memory_pool=POOL)


def fill_turn_ids(turns: pa.Table) -> pa.Table:
    """Missing turn ids become ``<conversation_id>:<turn_index>``."""
    i = turns.schema.get_field_index("turn_id")
    col = turns.column(i)
    if not col.null_count:
        return turns
    made = pc.binary_join_element_wise(
        turns["conversation_id"], pc.cast(turns["turn_index"], pa.string()), ":"
    )
    return turns.set_column(i, TURNS_SCHEMA.field("turn_id"), pc.coalesce(col, made))


__all__ = ["SPILL_BYTES", "Runs", "fill_turn_ids"]
