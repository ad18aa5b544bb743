"""Build a corpus from streamed conversations: columnar chunks, counted repairs, sorted write."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from annotate.corpus._schema import CONVERSATIONS_SCHEMA, TURNS_SCHEMA

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SURROGATE = re.compile("[\ud800-\udfff]")
#: turn columns held dictionary-encoded while building (one conversation id for many turns)
DICTIONARY_COLUMNS = ("role", "model")
#: turns while building: no conversation_id (written from the conversations table), role and
#: model dictionary-encoded, turn_id null where it is generated at write time
MEMORY_SCHEMA = pa.schema(
    [
        pa.field(f.name, pa.dictionary(pa.int32(), f.type)) if f.name in DICTIONARY_COLUMNS else f
        for f in TURNS_SCHEMA
        if f.name != "conversation_id"
    ]
)
#: the builder's long-lived arrays come from the system allocator, which gives freed chunk
#: memory back; mimalloc kept ~70 MB more at the peak of a 1M-turn import (bench_import.py)
POOL = pa.system_memory_pool()


@contextmanager
def import_pool() -> Iterator[None]:
    """Arrow's default memory pool set to jemalloc while an import runs (where pyarrow has it).

    An import allocates and frees the source's size several times over in short-lived buffers
    (row groups, flattened messages, sorted runs, parquet pages). mimalloc, pyarrow's default
    on Linux, gives freed memory back to the kernel within milliseconds and faults it in again,
    zeroed (as 2 MiB transparent huge pages where the kernel offers them), for the next row
    group: a fifth of the CPU time of a 1M-turn ``hf-chat`` import went to the kernel zeroing
    pages. jemalloc keeps freed pages for reuse for about a second: the same import took about
    20 % less CPU and peaked lower (bench/bench_hf_import.py). A pool chosen with the
    ``ARROW_DEFAULT_MEMORY_POOL`` environment variable is left alone; the previous pool is put
    back afterwards (buffers keep the pool that allocated them).
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        yield
        return
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc (Windows)
        yield
        return
    before = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(before)


_US = timedelta(microseconds=1)
#: rows collected in Python lists before they become one Arrow record batch
_CHUNK = 16_384
#: how many example locations a tally keeps per reason (for the manifest)
_EXAMPLES = 5


class Tally:
    """Counts of skipped, repaired and observed items, by reason, with a few example locations.

    ``skipped`` items were left out of the corpus, ``repaired`` items were changed on the way in
    (e.g. a duplicate id made unique), ``observed`` items were kept as in the source but are worth
    knowing (e.g. two consecutive turns of the same role).
    """

    def __init__(self) -> None:
        self.skipped: Counter[str] = Counter()
        self.repaired: Counter[str] = Counter()
        self.observed: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}

    def _note(self, counter: Counter[str], reason: str, where: str | None, n: int) -> None:
        counter[reason] += n
        if where is not None:
            ex = self.examples.setdefault(reason, [])
            if len(ex) < _EXAMPLES:
                ex.append(where)

    def skip(self, reason: str, where: str | None = None, n: int = 1) -> None:
        """Count ``n`` items left out for ``reason`` (``where``: e.g. ``"file.jsonl line 12"``)."""
        self._note(self.skipped, reason, where, n)

    def repair(self, reason: str, where: str | None = None, n: int = 1) -> None:
        """Count ``n`` items changed on import for ``reason``."""
        self._note(self.repaired, reason, where, n)

    def observe(self, reason: str, where: str | None = None, n: int = 1) -> None:
        """Count ``n`` items kept as in the source but noted for ``reason``."""
        self._note(self.observed, reason, where, n)

    @property
    def n_problems(self) -> int:
        return sum(self.skipped.values()) + sum(self.repaired.values())

    def summary(self) -> str:
        """``"skipped: empty_turn 4, malformed_json 1; repaired: ..."`` (for the one warning)."""
        parts = []
        for name, counter in (("skipped", self.skipped), ("repaired", self.repaired)):
            if counter:
                items = ", ".join(f"{k} {v}" for k, v in sorted(counter.items()))
                parts.append(f"{name}: {items}")
        return "; ".join(parts)

    def to_manifest(self) -> dict[str, Any]:
        return {
            "skipped": dict(sorted(self.skipped.items())),
            "repaired": dict(sorted(self.repaired.items())),
            "observed": dict(sorted(self.observed.items())),
            "examples": {k: v for k, v in sorted(self.examples.items())},
        }


def to_micros(value: datetime | None) -> int | None:
    """Microseconds since the epoch (UTC) of an aware datetime (naive = UTC), or None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _US


def content_hash(turns: Iterable[Mapping[str, Any]]) -> str:
    """A stable id from the roles and texts of a conversation (``h`` + 16 hex digits)."""
    h = hashlib.sha256()
    for t in turns:
        h.update(str(t.get("role")).encode())
        h.update(b"\x1f")
        h.update(str(t.get("text")).encode("utf-8", "surrogatepass"))
        h.update(b"\x1e")
    return "h" + h.hexdigest()[:16]


def _json(value: Any) -> str | None:
    if not value:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


class CorpusBuilder:
    """Collect conversations one at a time into Arrow chunks (memory ~ the corpus text once).

    Parameters
    ----------
    source
        The registered format name, written to ``conversations.source``.
    tally
        Where duplicate ids and other builder repairs are counted.
    """

    def __init__(self, source: str, tally: Tally | None = None) -> None:
        self.source = source
        self.tally = tally if tally is not None else Tally()
        self._turn_cols: dict[str, list[Any]] = {n: [] for n in MEMORY_SCHEMA.names}
        self._conv_cols: dict[str, list[Any]] = {n: [] for n in CONVERSATIONS_SCHEMA.names}
        self._turn_batches: list[pa.RecordBatch] = []
        self._conv_batches: list[pa.RecordBatch] = []
        # per conversation: its record batch and first row there (compact int64 arrays)
        self._where_batch = array("q")
        self._where_row = array("q")
        self._n_rows = 0
        self._ids: set[str] = set()
        self._turn_ids: set[str] = set()
        #: ids already used elsewhere (the corpus a donation is appended to)
        self._reserved: set[str] = set()
        self._last_id: str | None = None
        self.is_sorted = True

        #: vectorised importers' turns (see :meth:`add_table`), spilled to sorted runs here
        self.spill_dir: Path | None = None
        self._runs: Any = None

    @property
    def n_conversations(self) -> int:
        return len(self._ids)

    @property
    def has_spilled(self) -> bool:
        return self._runs is not None

    def add_table(
        self, turns: pa.Table, conversations: pa.Table, fields: pa.Table | None = None
    ) -> None:
        """Add whole conversations at once (vectorised importers).

        ``turns`` has the columns of :data:`TURNS_SCHEMA` (``turn_id`` null where it is to be
        generated), grouped by conversation and in turn order; ``conversations`` has the
        columns of :data:`CONVERSATIONS_SCHEMA`, one row per conversation of ``turns``, in the
        same order. ``fields`` (optional, one row per turn) holds the source's other per-turn
        fields as typed columns; they are streamed to ``turn_fields.parquet`` (keyed by
        ``conversation_id`` and ``turn_index``, in source order). Clashing ids are made unique
        (``~2``, counted) here. The turns are kept in sorted runs that spill to disk
        (:mod:`annotate.corpus._spill`).
        """
        from annotate.corpus._spill import RUN_SCHEMA, Runs

        ids = conversations["conversation_id"].to_pylist()
        fixed = None
        taken = self._ids
        if (
            len(set(ids)) < len(ids)
            or not taken.isdisjoint(ids)
            or not self._reserved.isdisjoint(ids)
        ):
            fixed = list(ids)  # rare: clashing ids, made unique one by one
            for i, cid in enumerate(ids):
                fixed[i] = self._unique_id(cid, None)
                taken.add(fixed[i])
        else:
            taken.update(ids)
        if fixed is not None and fixed != ids:
            counts = conversations["n_turns"].to_numpy()
            conversations = conversations.set_column(
                0, "conversation_id", pa.array(fixed, pa.string())
            )
            turns = turns.set_column(
                0, "conversation_id", pa.array(np.repeat(np.array(fixed, dtype=object), counts))
            )
        if self._runs is None:
            self._runs = Runs(self.spill_dir or Path(tempfile.mkdtemp(prefix="annotate-")))
        self._runs.add(turns.cast(RUN_SCHEMA))
        if fields is not None and fields.num_columns:
            keyed = pa.Table.from_arrays(
                [turns["conversation_id"], turns["turn_index"], *fields.columns],
                names=["conversation_id", "turn_index", *fields.column_names],
            )
            self._runs.add_fields(keyed)
        self._conv_batches.extend(conversations.cast(CONVERSATIONS_SCHEMA).to_batches())
        self._n_rows += turns.num_rows
        self.is_sorted = False

    def fields_table(self) -> pa.Table | None:
        """The per-turn source fields collected so far, whole (None: there are none)."""
        if self._runs is None:
            return None
        return self._runs.fields_table()

    def plain_tables(self) -> tuple[pa.Table, pa.Table]:
        """(turns in :data:`TURNS_SCHEMA` form, conversations), both sorted, in memory."""
        if self._runs is not None:
            convs = pa.Table.from_batches(self._conv_batches, schema=CONVERSATIONS_SCHEMA)
            try:
                parts = list(self._runs.groups())
                turns = pa.concat_tables(parts) if parts else TURNS_SCHEMA.empty_table()
            finally:
                self.discard()
            return turns, convs.sort_by("conversation_id")
        from annotate.corpus._io import plain_turns

        turns, convs, layout = self.tables()
        return plain_turns(turns, convs, layout), convs

    def discard(self) -> None:
        """Delete spilled runs (after writing, or when the import fails)."""
        if self._runs is not None:
            self._runs.remove()

    def write(
        self,
        out: Path,
        manifest: dict[str, Any],
        *,
        users: pa.Table | None = None,
        register: dict[str, Any] | None = None,
        overwrite: bool = False,
        donation: tuple[Any, ...] = (None, None, None, None),
    ) -> None:
        """Write the corpus folder atomically (with its user table and consent register)."""
        from annotate.corpus._consent import add_donation, empty_register, write_register
        from annotate.corpus._io import atomic_folder, write_groups, write_tables

        user_id, record, scope, when = donation
        reg = register if register is not None else empty_register()
        if user_id:
            add_donation(reg, user_id, record, scope=scope, consented_at=when)

        def build(tmp: Path) -> None:
            if self._runs is not None:
                self._runs.finish()
                convs = self._sorted_conversations()
                try:
                    write_groups(tmp, self._runs.groups(), convs, manifest, users)
                    self._runs.move_fields(tmp)
                finally:
                    self.discard()
            else:
                turns, convs, layout = self.tables()
                write_tables(tmp, turns, convs, manifest, layout, users=users)
            if reg["participants"] or reg["withdrawals"] or reg["uses"]:
                write_register(tmp, reg)

        try:
            atomic_folder(out, build, overwrite=overwrite)
        finally:
            self.discard()

    def _sorted_conversations(self) -> pa.Table:
        """The conversations table sorted by id, built column by column from the collected
        batches, which are let go as it goes (memory: the table once plus one column, not
        twice)."""
        table = pa.Table.from_batches(self._conv_batches, schema=CONVERSATIONS_SCHEMA)
        self._conv_batches = []
        order = pc.sort_indices(table["conversation_id"])
        columns = list(table.columns)
        del table
        for i, column in enumerate(columns):
            columns[i] = pc.take(column, order)
        return pa.Table.from_arrays(columns, schema=CONVERSATIONS_SCHEMA)

    @property
    def n_turns(self) -> int:
        return self._n_rows

    def reserve(self, conversation_ids: Iterable[str], turn_ids: Iterable[str] = ()) -> None:
        """Treat these ids as taken (new conversations with them get ``~2`` etc., counted)."""
        self._reserved.update(conversation_ids)
        self._turn_ids.update(turn_ids)

    def _unique_id(self, cid: str, where: str | None) -> str:
        if cid not in self._ids and cid not in self._reserved:
            return cid
        k = 2
        while f"{cid}~{k}" in self._ids or f"{cid}~{k}" in self._reserved:
            k += 1
        self.tally.repair("duplicate_conversation_id", where)
        return f"{cid}~{k}"

    def _turn_id(self, turn: dict[str, Any], where: str | None) -> str | None:
        """The source turn id when it is unique in the corpus; None = generated at write time."""
        tid = turn.get("turn_id")
        if tid is None:
            return None
        tid = str(tid)
        if tid in self._turn_ids:
            self.tally.repair("duplicate_turn_id", where)
            return None
        self._turn_ids.add(tid)
        return tid

    def add(
        self,
        turns: list[dict[str, Any]],
        *,
        conversation_id: str | None = None,
        source_id: str | None = None,
        user_id: str | None = None,
        started_at: datetime | None = None,
        language: str | None = None,
        model: str | None = None,
        meta: Mapping[str, Any] | None = None,
        where: str | None = None,
    ) -> str | None:
        """Add one conversation; return its (unique) id, or None when it has no turns.

        Each turn is a dict with ``role`` (normalised) and ``text``, optionally ``speaker``,
        ``turn_id``, ``created_at`` (datetime), ``model`` and ``meta`` (dict).
        """
        if not turns:
            self.tally.skip("empty_conversation", where)
            return None
        cid = conversation_id if conversation_id else content_hash(turns)
        cid = self._unique_id(str(cid), where)
        self._ids.add(cid)
        if self._last_id is not None and cid < self._last_id:
            self.is_sorted = False
        self._last_id = cid
        self._where_batch.append(len(self._turn_batches))
        self._where_row.append(len(self._turn_cols["text"]))
        n = len(turns)
        tc = self._turn_cols
        tc["turn_index"].extend(range(n))
        tc["role"].extend([t["role"] for t in turns])
        tc["text"].extend([t["text"] for t in turns])
        tc["speaker"].extend([t.get("speaker") for t in turns])
        tc["turn_id"].extend([self._turn_id(t, where) for t in turns])
        times = [to_micros(t.get("created_at")) for t in turns]
        first_at = next((x for x in times if x is not None), None)
        tc["created_at"].extend(times)
        tc["model"].extend([t.get("model") for t in turns])
        tc["meta"].extend([_json(t.get("meta")) for t in turns])
        self._n_rows += len(turns)
        cc = self._conv_cols
        cc["conversation_id"].append(cid)
        cc["source"].append(self.source)
        cc["source_id"].append(None if source_id is None else str(source_id))
        cc["user_id"].append(None if user_id is None else str(user_id))
        cc["started_at"].append(to_micros(started_at) if started_at else first_at)
        cc["n_turns"].append(len(turns))
        cc["language"].append(language)
        cc["model"].append(model)
        cc["meta"].append(_json(dict(meta)) if meta else None)
        if len(tc["text"]) >= _CHUNK:
            self._flush()
        return cid

    def _flush(self) -> None:
        if self._turn_cols["text"]:
            self._turn_batches.append(_batch(self._turn_cols, MEMORY_SCHEMA, self.tally))
            self._turn_cols = {n: [] for n in MEMORY_SCHEMA.names}
        if self._conv_cols["conversation_id"]:
            self._conv_batches.append(_batch(self._conv_cols, CONVERSATIONS_SCHEMA, self.tally))
            self._conv_cols = {n: [] for n in CONVERSATIONS_SCHEMA.names}

    def tables(self) -> tuple[pa.Table, pa.Table, np.ndarray]:
        """(turns in memory form, conversations sorted by id, layout).

        The layout has one row per (sorted) conversation: record batch, first row, number of
        turns; :func:`annotate.corpus.write_tables` writes the turns in that order and fills in
        ``conversation_id`` from the conversations table.
        """
        self._flush()
        turns = memory_table(self._turn_batches)
        convs = pa.Table.from_batches(self._conv_batches, schema=CONVERSATIONS_SCHEMA)
        self._turn_batches, self._conv_batches = [], []
        layout = np.column_stack(
            [
                np.asarray(self._where_batch, dtype=np.int64),
                np.asarray(self._where_row, dtype=np.int64),
                convs["n_turns"].to_numpy().astype(np.int64),
            ]
        ).reshape(-1, 3)
        if not self.is_sorted:
            order = pc.sort_indices(convs["conversation_id"]).to_numpy()
            convs = convs.take(pa.array(order))
            layout = layout[order]
        return turns, convs, layout


def memory_table(batches: list[pa.RecordBatch]) -> pa.Table:
    """The turns collected so far, in the builder's memory form (see :data:`MEMORY_SCHEMA`)."""
    return pa.Table.from_batches(batches, schema=MEMORY_SCHEMA)


def _batch(cols: dict[str, list[Any]], schema: pa.Schema, tally: Tally) -> pa.RecordBatch:
    """One Arrow batch of the collected rows; repeated labels dictionary-encoded (memory)."""
    arrays = []
    for field in schema:
        values = cols[field.name]
        kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if pa.types.is_timestamp(kind):
            arr = pa.array(values, pa.int64(), memory_pool=POOL).cast(kind)
        else:
            try:
                arr = pa.array(values, kind, memory_pool=POOL)
            except UnicodeEncodeError:  # lone surrogates (e.g. "\\ud800" escapes in JSON)
                fixed = [_unsurrogate(v) for v in values]
                n_bad = sum(a is not b for a, b in zip(fixed, values, strict=True))
                tally.repair("invalid_unicode", field.name, n_bad)
                arr = pa.array(fixed, kind, memory_pool=POOL)
        if kind is not field.type:
            arr = pc.dictionary_encode(arr, memory_pool=POOL)
        arrays.append(arr)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _unsurrogate(value: Any) -> Any:
    """The string with lone surrogates replaced by U+FFFD (the same object when it had none)."""
    if not isinstance(value, str):
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", value)
    return value
