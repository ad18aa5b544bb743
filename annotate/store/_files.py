"""The store on disk: immutable parquet files, durable writes, tolerant reads, compaction.

Layout of a store folder (``<project>/labels``)::

    parts/<created_us>-<annotator>-<event_id>.parquet   one file per append (never modified)
    parts/.<name>.<token>.tmp                           a save in progress (or a crashed one)
    compacted/c-<created_us>-<random>.parquet           folded parts, sorted by label key

Only two things are asked of the file system: unique names (every name holds a fresh event id
or random token) and an atomic rename within a folder. No locks, no appends, no shared memory,
so the same folder works on a network file system shared by several JupyterHub kernels.
"""

from __future__ import annotations

import os
import time
import uuid
import warnings
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from annotate.durable import TMP_SUFFIX, fsync_dir, write_file
from annotate.errors import Errors, LabelStoreError, Warnings
from annotate.store._fold import sort_by_key, split_head
from annotate.store._schema import LABEL_SCHEMA

PARTS = "parts"
COMPACTED = "compacted"
#: a temp file older than this is a leftover of a killed save, reported on read (W302)
STALE_TMP_SECONDS = 300.0
#: compaction deletes leftover temp files older than this
ORPHAN_TMP_SECONDS = 3600.0
#: schema metadata of a compacted file: rows [0, head) are the latest event of each key
HEAD_ROWS = b"annotate.head_rows"


def table_bytes(table: pa.Table) -> bytes:
    """A part file's bytes: lean (no compression, dictionary or statistics: a third less CPU
    per save than the defaults; parts are small and short-lived)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="none", use_dictionary=False, write_statistics=False)
    return sink.getvalue().to_pybytes()


def compacted_bytes(head: pa.Table, tail: pa.Table) -> bytes:
    """A compacted file: the head's row groups, then the tail's; the head size in metadata."""
    schema = LABEL_SCHEMA.with_metadata({HEAD_ROWS: str(head.num_rows).encode()})
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for part in (head, tail):
            if part.num_rows:
                writer.write_table(part.cast(schema), row_group_size=128 * 1024)
    return sink.getvalue().to_pybytes()


def write_durable(folder: Path, name: str, data: bytes) -> Path:
    """Write ``folder/name`` durably (see :func:`annotate.durable.write_file`)."""
    return write_file(folder / name, data)


def _report_strays(folder: Path, names: Iterable[str]) -> None:
    """Warn about files that are neither label files nor a save in progress (W301, W302)."""
    now = time.time()
    for name in names:
        path = folder / name
        if name.endswith(".parquet") and not name.startswith("."):
            continue
        if name.startswith(".") and name.endswith(TMP_SUFFIX):
            try:
                age = now - path.stat().st_mtime
            except FileNotFoundError:
                continue
            if age > STALE_TMP_SECONDS:
                warnings.warn(
                    Warnings.W302.format(path=path, minutes=round(age / 60)), stacklevel=4
                )
            continue
        warnings.warn(
            Warnings.W301.format(path=path, problem="not a .parquet label file"), stacklevel=4
        )


def listing(root: Path) -> tuple[list[Path], list[Path]]:
    """Parts, then compacted files (in this order: see :func:`read_all` for why)."""
    out: list[list[Path]] = []
    for sub in (PARTS, COMPACTED):
        folder = root / sub
        try:
            names = sorted(os.listdir(folder))
        except FileNotFoundError:
            names = []
        _report_strays(folder, names)
        out.append([folder / n for n in names if n.endswith(".parquet") and n[0] != "."])
    return out[0], out[1]


def read_file(path: Path, *, head_only: bool = False) -> tuple[pa.Table, bool] | None:
    """One label file, and whether it is a compacted head (one row per key, key-sorted).

    With ``head_only``, a compacted file yields only its head (the row groups before its
    superseded events). Returns None, with W301, when the file is not a label file.
    FileNotFoundError propagates: the caller retries from a fresh listing (a compactor folded it).
    """
    try:
        pf = pq.ParquetFile(path)
        meta = pf.schema_arrow.metadata or {}
        head = int(meta[HEAD_ROWS]) if HEAD_ROWS in meta else None
        if head_only and head is not None:
            groups, rows = [], 0
            while rows < head:
                rows += pf.metadata.row_group(len(groups)).num_rows
                groups.append(len(groups))
            table = pf.read_row_groups(groups).slice(0, head)
        else:
            table = pf.read()
    except FileNotFoundError:
        raise
    except (OSError, pa.ArrowException, ValueError, IndexError) as exc:
        if not path.exists():
            raise FileNotFoundError(path) from exc
        warnings.warn(Warnings.W301.format(path=path, problem=exc), stacklevel=3)
        return None
    if table.schema.names != LABEL_SCHEMA.names:
        problem = f"its columns {table.schema.names} are not the label event columns"
        warnings.warn(Warnings.W301.format(path=path, problem=problem), stacklevel=3)
        return None
    try:
        table = table.cast(LABEL_SCHEMA)
    except (pa.ArrowException, ValueError) as exc:
        warnings.warn(Warnings.W301.format(path=path, problem=exc), stacklevel=3)
        return None
    return table, bool(head_only and head is not None)


_REQUIRED = [f.name for f in LABEL_SCHEMA if not f.nullable]


def read_parts(paths: list[Path]) -> list[tuple[pa.Table, bool] | None]:
    """Part files: in one multi-threaded dataset scan (3x faster than file by file), falling
    back to file by file (which names each bad file, W301) when the scan fails or yields
    nulls in a required column (a foreign file the scan would have padded with nulls)."""
    if len(paths) >= 8:
        try:
            table = ds.dataset([str(p) for p in paths], format="parquet", schema=LABEL_SCHEMA)
            table = table.to_table()
            if not any(table.column(c).null_count for c in _REQUIRED):
                return [(table, False)]
        except (OSError, pa.ArrowException, ValueError) as exc:
            if not all(p.exists() for p in paths):
                raise FileNotFoundError("a part was folded away") from exc
    return [read_file(p) for p in paths]


def read_all(
    root: Path, *, head_only: bool = False, attempts: int = 30
) -> list[tuple[pa.Table, bool]]:
    """Every readable label file of the store, as (table, is_head) pairs.

    Parts are listed before compacted files. A compactor writes its folded file (durably)
    before it deletes the parts it folded, so any event in a part listed here is either read
    from that part or, if the part vanished, the read is retried from a fresh listing; and any
    event that was in a compacted file at the first listing is in some compacted file at the
    second. Duplicates (a part and its folded copy) are removed later by event id.
    """
    for attempt in range(attempts):
        parts, compacted = listing(root)
        try:
            got = [read_file(p, head_only=head_only) for p in compacted]
            got += read_parts(parts)
        except FileNotFoundError:
            time.sleep(min(0.002 * 2**attempt, 0.2))
            continue
        return [t for t in got if t is not None]
    raise LabelStoreError(Errors.E305.format(path=root, tries=attempts))


def compact(root: Path, *, merge_compacted: int = 4, min_parts: int = 1) -> dict[str, int]:
    """Fold part files (and, past ``merge_compacted`` files, compacted ones) into one file.

    Compacted files are merged in tiers (see :func:`_merge_set`); ``merge_compacted=0`` folds
    everything into one file.

    Lock-free and safe at any moment, against writers, readers, other compactors and crashes:
    the folded file is durable before any input is deleted, inputs that vanished were folded by
    another compactor, and duplicates this may create are dropped by event id on read.
    """
    parts, compacted = listing(root)
    inputs = list(parts)
    if len(compacted) > merge_compacted:
        inputs += _merge_set(compacted, everything=merge_compacted == 0)
    stats = {"parts": len(parts), "folded": 0, "events": 0}
    if len(parts) < min_parts and len(inputs) == len(parts):
        _remove_orphans(root)
        return stats
    tables, done = _read_inputs(inputs, parts)
    if not tables:
        return stats
    head, tail = split_head(sort_by_key(pa.concat_tables(tables)))
    out = root / COMPACTED
    out.mkdir(parents=True, exist_ok=True)
    name = f"c-{time.time_ns() // 1000:016d}-{uuid.uuid4().hex[:12]}.parquet"
    write_durable(out, name, compacted_bytes(head, tail))
    for path in done:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    for sub in (PARTS, COMPACTED):
        if (root / sub).is_dir():
            fsync_dir(root / sub)
    _remove_orphans(root)
    stats.update(folded=len(done), events=head.num_rows + tail.num_rows)
    return stats


def _merge_set(compacted: list[Path], *, everything: bool) -> list[Path]:
    """The compacted files to merge: tiered, so the big file is not rewritten every time.

    The largest file joins only when the others together reach half its size (or for a full
    compaction); otherwise only the smaller files are merged.
    """
    sizes = {}
    for path in compacted:
        try:
            sizes[path] = path.stat().st_size
        except FileNotFoundError:
            continue  # merged away by a concurrent compactor
    if everything or len(sizes) < 2:
        return list(sizes)
    largest = max(sizes, key=sizes.__getitem__)
    small = [p for p in sizes if p != largest]
    if 2 * sum(sizes[p] for p in small) >= sizes[largest]:
        return list(sizes)
    return small


def _read_inputs(inputs: list[Path], parts: list[Path]) -> tuple[list[pa.Table], list[Path]]:
    """The tables to fold and the files they came from (skipping vanished and bad files)."""
    tables: list[pa.Table] = []
    done: list[Path] = []
    todo = list(inputs)
    if len(parts) >= 8:
        try:
            got = read_parts(parts)
        except FileNotFoundError:
            got = []  # a concurrent compactor took some: go file by file
        if len(got) == 1 and got[0] is not None and len(parts) > 1:
            tables.append(got[0][0])
            done += parts
            todo = [p for p in inputs if p not in set(parts)]
    for path in todo:
        try:
            one = read_file(path)
        except FileNotFoundError:
            continue  # folded by a concurrent compactor, whose file is already durable
        if one is not None:
            tables.append(one[0])
            done.append(path)
    return tables, done


def _remove_orphans(root: Path) -> None:
    """Delete temp files of saves killed more than ORPHAN_TMP_SECONDS ago."""
    now = time.time()
    for sub in (PARTS, COMPACTED):
        folder = root / sub
        if not folder.is_dir():
            continue
        for entry in os.scandir(folder):
            if entry.name.startswith(".") and entry.name.endswith(TMP_SUFFIX):
                try:
                    if now - entry.stat().st_mtime > ORPHAN_TMP_SECONDS:
                        os.unlink(entry.path)
                except FileNotFoundError:
                    pass
