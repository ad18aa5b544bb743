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

import bisect
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from annotate.corpus._build import POOL
from annotate.corpus._schema import ROW_GROUP_SIZE, TURNS_SCHEMA, dictionary_columns

#: turns held in memory before they are sorted and written as a run
SPILL_BYTES = 40 << 20
#: rows per record batch in a run file (what the merge holds per run)
RUN_BATCH_ROWS = 4096
#: the source's other per-turn fields (typed), keyed by conversation_id and turn_index
TURN_FIELDS_FILE = "turn_fields.parquet"
#: a stable sort by id keeps each conversation's turns in their order (they arrive together)
_ORDER = [("conversation_id", "ascending")]
#: turns in runs: turn ids to be generated (``<conversation_id>:<turn_index>``) stay null until
#: the row groups are cut, so the runs do not carry them through sorting, disk and merge
RUN_SCHEMA = TURNS_SCHEMA.set(
    TURNS_SCHEMA.get_field_index("turn_id"), TURNS_SCHEMA.field("turn_id").with_nullable(True)
)


class Runs:
    """Turn tables collected in memory and spilled to sorted runs in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pending: list[pa.Table] = []
        self.pending_bytes = 0
        self.files: list[Path] = []
        #: per-turn source fields, streamed in source order to parts (one per schema)
        self.field_parts: list[Path] = []
        self._fields_writer: pq.ParquetWriter | None = None

    def add(self, turns: pa.Table) -> None:
        """Keep ``turns`` (RUN_SCHEMA); spill when memory holds more than SPILL_BYTES."""
        self.pending.append(turns)
        self.pending_bytes += turns.nbytes
        if self.pending_bytes > SPILL_BYTES:
            self.spill()

    def add_fields(self, fields: pa.Table) -> None:
        """Stream per-turn source fields (keyed by conversation_id, turn_index) to disk."""
        w = self._fields_writer
        if w is not None and not w.schema.equals(fields.schema):
            try:
                fields = fields.cast(w.schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
                w.close()  # a new schema (JSON records infer types per chunk): a new part
                w = self._fields_writer = None
        if w is None:
            self.folder.mkdir(exist_ok=True)
            path = self.folder / f"fields-{len(self.field_parts):05d}.parquet"
            self.field_parts.append(path)
            w = self._fields_writer = pq.ParquetWriter(
                path,
                fields.schema,
                compression="zstd",
                use_dictionary=dictionary_columns(fields.schema),
            )
        w.write_table(fields, row_group_size=ROW_GROUP_SIZE)

    def fields_table(self) -> pa.Table | None:
        """Every per-turn field part, read back whole (for appending: small donations)."""
        if self._fields_writer is not None:
            self._fields_writer.close()
            self._fields_writer = None
        if not self.field_parts:
            return None
        tables = [pq.read_table(p) for p in self.field_parts]
        return pa.concat_tables(tables, promote_options="permissive")

    def move_fields(self, folder: Path) -> None:
        """Put the per-turn fields into the corpus folder being built (``turn_fields.parquet``)."""
        if self._fields_writer is not None:
            self._fields_writer.close()
            self._fields_writer = None
        if not self.field_parts:
            return
        target = folder / TURN_FIELDS_FILE
        if len(self.field_parts) == 1:
            os.replace(self.field_parts[0], target)
            return
        tables = [pq.read_table(p) for p in self.field_parts]  # JSON sources: small
        table = pa.concat_tables(tables, promote_options="permissive")
        pq.write_table(
            table, target, compression="zstd", use_dictionary=dictionary_columns(table.schema)
        )

    def _sorted_pending(self) -> pa.Table:
        table = (
            pa.concat_tables(self.pending, promote_options="permissive")
            if self.pending
            else RUN_SCHEMA.empty_table()
        )
        self.pending, self.pending_bytes = [], 0
        return pc.take(table, pc.sort_indices(table, _ORDER), memory_pool=POOL)

    def spill(self) -> None:
        """Sort what is in memory and write it as one run."""
        if not self.pending:
            return
        table = self._sorted_pending()
        self.folder.mkdir(exist_ok=True)
        path = self.folder / f"run-{len(self.files):05d}.arrow"
        with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
            for batch in table.to_batches(max_chunksize=RUN_BATCH_ROWS):
                writer.write_batch(batch)
        self.files.append(path)
        del table
        pa.default_memory_pool().release_unused()

    def finish(self) -> None:
        """Spill what is in memory when there are runs already (before the writing starts, so
        that its memory is free before the conversations are sorted)."""
        if self.files:
            self.spill()

    @property
    def n_rows(self) -> int:
        return sum(t.num_rows for t in self.pending)

    def groups(self) -> Iterator[pa.Table]:
        """Every turn, in corpus order, as row groups of ROW_GROUP_SIZE rows (TURNS_SCHEMA:
        missing turn ids made here)."""
        if not self.files:
            table = self._sorted_pending()
            parts: Iterator[pa.Table] = (
                table.slice(lo, ROW_GROUP_SIZE) for lo in range(0, table.num_rows, ROW_GROUP_SIZE)
            )
        else:
            self.spill()
            parts = _cut(_merge(self.files))
        for part in parts:
            yield fill_turn_ids(part).cast(TURNS_SCHEMA)

    def remove(self) -> None:
        """Delete the run files (they hold turn text: nothing may stay behind)."""
        self.pending = []
        if self._fields_writer is not None:
            self._fields_writer.close()
            self._fields_writer = None
        shutil.rmtree(self.folder, ignore_errors=True)


class _Reader:
    """One run, read one record batch at a time (its first and last ids at hand)."""

    def __init__(self, path: Path) -> None:
        self.file = pa.OSFile(str(path), "rb")
        self.reader = ipc.open_file(self.file)
        self.next = 0
        self.batch: pa.RecordBatch | None = None
        self.pos = 0
        self.first = self.last = ""
        self.advance()

    def advance(self) -> None:
        while self.next < self.reader.num_record_batches:
            self.batch = self.reader.get_batch(self.next)
            self.next += 1
            self.pos = 0
            if self.batch.num_rows:
                ids = self.batch.column(0)
                self.first, self.last = ids[0].as_py(), ids[len(ids) - 1].as_py()
                return
        self.batch = None
        self.file.close()

    def take_upto(self, bound: str) -> pa.RecordBatch | None:
        """The rows of the current batch with id <= bound, or None when there are none (the
        run is sorted: the rows are a prefix, found by binary search; with many runs, most
        have nothing to give in a round and are passed over by their first id)."""
        assert self.batch is not None
        if self.first > bound:
            return None
        ids = self.batch.column(0)
        end = bisect.bisect_right(range(len(ids)), bound, lo=self.pos, key=lambda i: ids[i].as_py())
        part = self.batch.slice(self.pos, end - self.pos)
        self.pos = end
        if self.pos >= self.batch.num_rows:
            self.advance()
        else:
            self.first = ids[self.pos].as_py()
        return part


def _merge(files: list[Path]) -> Iterator[pa.Table]:
    """Sorted tables whose concatenation is every run's rows in corpus order."""
    readers = [r for r in (_Reader(f) for f in files) if r.batch is not None]
    while readers:
        bound = min(r.last for r in readers)
        parts = [p for p in (r.take_upto(bound) for r in readers) if p is not None]
        tables = [pa.Table.from_batches([p]) for p in parts]
        table = pa.concat_tables(tables, promote_options="permissive")
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
            whole = pa.concat_tables(buf, promote_options="permissive")
            yield whole.slice(0, ROW_GROUP_SIZE)
            rest = whole.slice(ROW_GROUP_SIZE)
            buf, n = ([rest] if rest.num_rows else []), rest.num_rows
            del whole
    if n:
        yield pa.concat_tables(buf, promote_options="permissive")


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


__all__ = ["RUN_SCHEMA", "SPILL_BYTES", "TURN_FIELDS_FILE", "Runs", "fill_turn_ids"]
