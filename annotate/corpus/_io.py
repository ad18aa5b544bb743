"""Corpus folders on disk: atomic write (temp folder, fsync, rename) and validated read."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from annotate.clock import CLOCK
from annotate.corpus._build import POOL
from annotate.corpus._schema import (
    CONVERSATIONS_SCHEMA,
    FOLDER_VERSION,
    ROW_GROUP_SIZE,
    TURNS_SCHEMA,
)
from annotate.corpus._users import write_users
from annotate.durable import atomic_folder as durable_folder
from annotate.durable import recover_folder
from annotate.errors import CorpusError, Errors, StorageError
from annotate.types import FilePath

TURNS_FILE = "turns.parquet"
#: the turn columns whose values repeat, dictionary-encoded in turns.parquet; ids, texts and
#: times are nearly all distinct: a dictionary is built and dropped for them (a 1M-turn
#: hf-chat corpus: 11 % less time to write turns.parquet, 5 % smaller)
TURNS_DICTIONARY = ["turn_index", "role", "speaker", "model", "meta"]
CONVERSATIONS_FILE = "conversations.parquet"
MANIFEST_FILE = "manifest.json"
#: the source's other per-turn fields (typed columns), keyed by conversation_id, turn_index
TURN_FIELDS_FILE = "turn_fields.parquet"


def write_tables(
    folder: Path,
    turns: pa.Table,
    conversations: pa.Table,
    manifest: dict[str, Any],
    layout: np.ndarray | None = None,
    users: pa.Table | None = None,
) -> dict[str, Any]:
    """Write the three files (and ``users.parquet`` when ``users`` has rows) into ``folder``;
    returns the manifest as written.

    Without ``layout``, ``turns`` is in :data:`TURNS_SCHEMA` form and already sorted. With the
    ``layout`` of :meth:`CorpusBuilder.tables`, ``turns`` is the builder's memory form: each
    row group of :data:`ROW_GROUP_SIZE` rows is assembled from zero-copy slices of the record
    batches (one copy of the text per row group, never of the whole corpus), its
    ``conversation_id`` comes from ``conversations``, dictionaries are decoded, and missing turn
    ids become ``<conversation_id>:<turn_index>``.
    """
    groups = (
        _plain_groups(turns) if layout is None else _layout_groups(turns, conversations, layout)
    )
    return write_groups(folder, (_plain(g) for g in groups), conversations, manifest, users)


def write_groups(
    folder: Path,
    groups: Iterator[pa.Table],
    conversations: pa.Table,
    manifest: dict[str, Any],
    users: pa.Table | None = None,
) -> dict[str, Any]:
    """Write a corpus folder from turn row groups already in :data:`TURNS_SCHEMA` form and in
    corpus order (one group in memory at a time); returns the manifest as written."""
    tally = _Counts()
    with (
        pq.ParquetWriter(
            folder / TURNS_FILE,
            TURNS_SCHEMA,
            compression="zstd",
            use_dictionary=TURNS_DICTIONARY,
            memory_pool=POOL,
        ) as w,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        # a row group is encoded and written in the background while the next one is
        # gathered (pyarrow releases the GIL): at most two row groups in memory
        pending = None
        for part in groups:
            tally.add(part)
            if pending is not None:
                pending.result()
            pending = pool.submit(w.write_table, part, row_group_size=ROW_GROUP_SIZE)
            del part
        if pending is not None:
            pending.result()
    pq.write_table(
        conversations,
        folder / CONVERSATIONS_FILE,
        row_group_size=ROW_GROUP_SIZE,
        compression="zstd",
    )
    manifest = dict(manifest)
    manifest.setdefault("folder_version", FOLDER_VERSION)
    manifest.setdefault("created_at", CLOCK.now().isoformat(timespec="seconds"))
    manifest["counts"] = tally.counts(conversations)
    write_users(folder, users)
    if users is not None and users.num_rows:
        manifest["counts"]["users_table"] = users.num_rows
    (folder / MANIFEST_FILE).write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    return manifest


def plain_turns(turns: pa.Table, conversations: pa.Table, layout: np.ndarray) -> pa.Table:
    """The builder's turns (memory form and layout) as one :data:`TURNS_SCHEMA` table, sorted
    like ``conversations`` (for appending to a corpus: small tables, all in memory)."""
    parts = [_plain(g) for g in _layout_groups(turns, conversations, layout)]
    if not parts:
        return TURNS_SCHEMA.empty_table()
    return pa.concat_tables(parts)


def read_tables(folder: FilePath) -> tuple[pa.Table, pa.Table]:
    """(turns, conversations) of a corpus folder, whole (for appending and withdrawing)."""
    path = Path(folder)
    try:
        turns = pq.read_table(path / TURNS_FILE, schema=TURNS_SCHEMA)
        convs = pq.read_table(path / CONVERSATIONS_FILE, schema=CONVERSATIONS_SCHEMA)
    except (pa.ArrowException, OSError) as exc:
        raise CorpusError(
            Errors.E111.format(path=path, problem=f"unreadable parquet: {exc}")
        ) from exc
    return turns, convs


def sort_tables(turns: pa.Table, conversations: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Both tables in corpus order: by conversation id (and turn index)."""
    t = turns.take(
        pc.sort_indices(turns, [("conversation_id", "ascending"), ("turn_index", "ascending")])
    )
    c = conversations.take(pc.sort_indices(conversations, [("conversation_id", "ascending")]))
    return t, c


def _plain_groups(turns: pa.Table) -> Iterator[pa.Table]:
    for lo in range(0, turns.num_rows, ROW_GROUP_SIZE):
        yield turns.slice(lo, ROW_GROUP_SIZE)


def _layout_groups(
    turns: pa.Table, conversations: pa.Table, layout: np.ndarray
) -> Iterator[pa.Table]:
    """Row groups in layout order, gathered batch by batch, plus the conversation_id column.

    ``Table.take`` on the whole chunked table would concatenate each column first (a full
    copy of the text per call); here each row group takes its rows from each record batch
    separately, so every copy is one row group in size.
    """
    batches = turns.to_batches()
    ids = conversations["conversation_id"].combine_chunks()
    counts = layout[:, 2]
    cum = np.cumsum(counts)
    before = cum - counts
    total = int(cum[-1]) if len(cum) else 0
    for lo in range(0, total, ROW_GROUP_SIZE):
        hi = min(lo + ROW_GROUP_SIZE, total)
        # the conversations p0 .. p1-1 overlap rows [lo, hi) of the output
        p0 = int(np.searchsorted(cum, lo, side="right"))
        p1 = int(np.searchsorted(cum, hi - 1, side="right")) + 1
        c = counts[p0:p1]
        first, cut = int(before[p0]), slice(lo - int(before[p0]), hi - int(before[p0]))
        owner = np.repeat(np.arange(p0, p1, dtype=np.int64), c)[cut]
        rb = np.repeat(layout[p0:p1, 0], c)[cut]
        rr = (np.repeat(layout[p0:p1, 1] - before[p0:p1], c) + np.arange(first, int(cum[p1 - 1])))[
            cut
        ]
        by_batch = np.argsort(rb, kind="stable")
        sorted_b = rb[by_batch]
        cuts = np.flatnonzero(np.diff(sorted_b)) + 1
        parts = [
            pc.take(batches[int(sorted_b[g[0]])], pa.array(rr[by_batch[g]]), memory_pool=POOL)
            for g in np.split(np.arange(len(rb)), cuts)
        ]
        gathered = pa.Table.from_batches(parts).combine_chunks(memory_pool=POOL)
        del parts  # keep at most two copies of one row group alive
        back = np.empty_like(by_batch)
        back[by_batch] = np.arange(len(by_batch))
        part = pc.take(gathered, pa.array(back), memory_pool=POOL)
        del gathered
        cid = pc.take(ids, pa.array(owner), memory_pool=POOL)
        yield part.add_column(0, "conversation_id", cid)
        del part, cid


def _plain(part: pa.Table) -> pa.Table:
    """A row group in :data:`TURNS_SCHEMA`: dictionaries decoded, generated turn ids filled."""
    cols = [pc.cast(part[f.name], f.type, memory_pool=POOL) for f in TURNS_SCHEMA]
    i_tid = TURNS_SCHEMA.get_field_index("turn_id")
    if cols[i_tid].null_count:
        index = pc.cast(part["turn_index"], pa.string(), memory_pool=POOL)
        made = pc.binary_join_element_wise(cols[0], index, ":", memory_pool=POOL)
        cols[i_tid] = pc.coalesce(cols[i_tid], made, memory_pool=POOL)
    return pa.Table.from_arrays(cols, schema=TURNS_SCHEMA)


class _Counts:
    """Turn counts gathered row group by row group while writing."""

    def __init__(self) -> None:
        self.n = 0
        self.roles: dict[str, int] = {}
        self.speakers: set[str] = set()
        self.lo: Any = None
        self.hi: Any = None

    def add(self, part: pa.Table) -> None:
        self.n += part.num_rows
        for r in pc.value_counts(part["role"]).to_pylist():
            self.roles[r["values"]] = self.roles.get(r["values"], 0) + r["counts"]
        self.speakers.update(s for s in pc.unique(part["speaker"]).to_pylist() if s is not None)
        mm = pc.min_max(part["created_at"])
        for bound, pick in (("lo", min), ("hi", max)):
            v = mm["min" if bound == "lo" else "max"].as_py()
            cur = getattr(self, bound)
            setattr(self, bound, v if cur is None else cur if v is None else pick(cur, v))

    def counts(self, conversations: pa.Table) -> dict[str, Any]:
        """Counts recorded in the manifest: conversations, turns (by role), users, date range."""
        lo = hi = None
        started = conversations["started_at"]
        if started.null_count < len(started):
            mm = pc.min_max(started)
            lo, hi = mm["min"].as_py(), mm["max"].as_py()
        else:
            lo, hi = self.lo, self.hi
        users = conversations["user_id"]
        return {
            "conversations": conversations.num_rows,
            "turns": self.n,
            "turns_by_role": dict(sorted(self.roles.items())),
            "users": pc.count_distinct(users).as_py() if len(users) else 0,
            "speakers": len(self.speakers),
            "first_at": None if lo is None else lo.isoformat(),
            "last_at": None if hi is None else hi.isoformat(),
        }


def corpus_counts(turns: pa.Table, conversations: pa.Table) -> dict[str, Any]:
    """Counts recorded in the manifest, for tables in :data:`TURNS_SCHEMA` form."""
    tally = _Counts()
    for lo in range(0, turns.num_rows, ROW_GROUP_SIZE):
        tally.add(_plain(turns.slice(lo, ROW_GROUP_SIZE)))
    return tally.counts(conversations)


def atomic_folder(out: FilePath, write: Callable[[Path], Any], *, overwrite: bool = False) -> Any:
    """Run ``write(tmp)`` on a temp folder beside ``out``, make it durable, swap it in.

    A failure at any point leaves ``out`` as it was; a kill in the middle of replacing an old
    folder is repaired by the next read or write (:func:`annotate.durable.recover_folder`). An
    existing ``out`` is only replaced with ``overwrite=True`` (an existing empty folder is always
    fine).
    """
    out = Path(out)
    recover_folder(out.parent.resolve() / out.name)
    if out.exists() and not overwrite and not (out.is_dir() and not any(out.iterdir())):
        raise CorpusError(Errors.E107.format(path=out))
    try:
        return durable_folder(out, write, replace=True)
    except StorageError:
        raise
    except OSError as exc:
        raise CorpusError(Errors.E114.format(path=out, problem=exc)) from exc


def write_corpus(
    out: FilePath,
    turns: Any,
    conversations: Any,
    manifest: dict[str, Any],
    *,
    overwrite: bool = False,
) -> Path:
    """Write a corpus folder atomically from two tables (DataFrames or Arrow tables).

    Parameters
    ----------
    out
        The corpus folder to create.
    turns, conversations
        Tables with the columns of docs/internals.md, Tables (cast to :data:`TURNS_SCHEMA` and
        :data:`CONVERSATIONS_SCHEMA`); they are sorted by conversation id on the way out.
    manifest
        What to record; ``counts``, ``folder_version`` and ``created_at`` are filled in.
    overwrite
        Replace an existing folder.

    Returns
    -------
    pathlib.Path
        The folder written.
    """
    t = _as_table(turns, TURNS_SCHEMA, "turns")
    c = _as_table(conversations, CONVERSATIONS_SCHEMA, "conversations")
    t = t.take(pc.sort_indices(t, [("conversation_id", "ascending"), ("turn_index", "ascending")]))
    c = c.take(pc.sort_indices(c, [("conversation_id", "ascending")]))
    atomic_folder(out, lambda tmp: write_tables(tmp, t, c, manifest), overwrite=overwrite)
    return Path(out)


def _as_table(data: Any, schema: pa.Schema, name: str) -> pa.Table:
    if not isinstance(data, pa.Table):
        data = pa.Table.from_pandas(data, preserve_index=False)
    missing = [f for f in schema.names if f not in data.column_names]
    if missing:
        raise CorpusError(
            Errors.E111.format(path=f"<{name} table>", problem=f"missing columns {missing}")
        )
    try:
        return data.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise CorpusError(
            Errors.E111.format(path=f"<{name} table>", problem=f"wrong column types: {exc}")
        ) from exc


def read_folder(path: FilePath) -> tuple[Path, dict[str, Any], pa.Table, int]:
    """Validate a corpus folder; return (path, manifest, conversations, number of turn rows)."""
    path = Path(path)
    recover_folder(path.parent / path.name)  # finish a replacement that a kill interrupted
    if not path.is_dir():
        problem = "it is a file" if path.exists() else "it does not exist"
        raise CorpusError(Errors.E111.format(path=path, problem=problem))
    missing = [
        f for f in (MANIFEST_FILE, TURNS_FILE, CONVERSATIONS_FILE) if not (path / f).is_file()
    ]
    if missing:
        raise CorpusError(Errors.E111.format(path=path, problem=f"missing {', '.join(missing)}"))
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise CorpusError(Errors.E111.format(path=path, problem=f"{MANIFEST_FILE}: {exc}")) from exc
    if not isinstance(manifest, dict):
        raise CorpusError(
            Errors.E111.format(path=path, problem=f"{MANIFEST_FILE} is not an object")
        )
    try:
        _check_schema(path, TURNS_FILE, TURNS_SCHEMA)
        _check_schema(path, CONVERSATIONS_FILE, CONVERSATIONS_SCHEMA)
        n_turn_rows = pq.ParquetFile(path / TURNS_FILE).metadata.num_rows
        conversations = pq.read_table(path / CONVERSATIONS_FILE, schema=CONVERSATIONS_SCHEMA)
    except (pa.ArrowException, OSError) as exc:
        raise CorpusError(
            Errors.E111.format(path=path, problem=f"unreadable parquet: {exc}")
        ) from exc
    n_expected = pc.sum(conversations["n_turns"]).as_py() or 0
    if n_expected != n_turn_rows:
        problem = f"{TURNS_FILE} has {n_turn_rows} rows but conversations count {n_expected} turns"
        raise CorpusError(Errors.E111.format(path=path, problem=problem))
    return path, manifest, conversations, n_turn_rows


def _check_schema(folder: Path, name: str, expected: pa.Schema) -> None:
    got = pq.read_schema(folder / name)
    problems = []
    for field in expected:
        if field.name not in got.names:
            problems.append(f"column '{field.name}' missing")
        elif not got.field(field.name).type.equals(field.type):
            problems.append(
                f"column '{field.name}' is {got.field(field.name).type}, expected {field.type}"
            )
    if problems:
        raise CorpusError(Errors.E111.format(path=folder, problem=f"{name}: {'; '.join(problems)}"))
