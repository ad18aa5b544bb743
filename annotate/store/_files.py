"""The store on disk: immutable parquet files per coder, durable writes, tolerant reads, compaction.

Layout of a store folder (``<project>/labels``)::

    parts/<annotator>/<created_us>-<event_id>.parquet   one file per append of one coder
    parts/<created_us>-<annotator>-<event_id>.parquet   an append holding several coders
    compacted/<annotator>/c-<created_us>-<random>.parquet   one coder's folded events
    compacted/c-<created_us>-<random>.parquet           (stores of release 0.1: every coder)
    .../.<name>.<token>.tmp                             a save in progress (or a killed one)

Each coder's events live in that coder's folders, so reading one coder's labels (a coder's
widget session) costs what that coder's own labels cost, whatever the others have coded, and a
team that needs real separation can give each coder's folders their own permissions. Files in
the top folders (several coders in one append, or a store written by release 0.1) are read by
everyone and folded into the coders' folders by the next full compaction.

Only two things are asked of the file system: unique names (every name holds a fresh event id
or random token) and an atomic rename within a folder. No locks, no appends, no shared memory,
so the same folder works on a network file system shared by several JupyterHub kernels. No
write follows a symbolic link: a link in place of a store folder is refused (E003).
"""

from __future__ import annotations

import os
import time
import uuid
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from annotate.clock import CLOCK
from annotate.durable import TMP_SUFFIX, fsync_dir, write_file
from annotate.errors import Errors, LabelStoreError, StorageError, Warnings
from annotate.store._fold import sort_by_key, split_by_coder, split_head
from annotate.store._schema import LABEL_SCHEMA, upgrade

PARTS = "parts"
COMPACTED = "compacted"
#: a temp file older than this is a leftover of a killed save, reported on read (W302)
STALE_TMP_SECONDS = 300.0
#: compaction deletes leftover temp files older than this
ORPHAN_TMP_SECONDS = 3600.0
#: schema metadata of a compacted file: rows [0, head) are the latest event of each key
HEAD_ROWS = b"annotate.head_rows"
#: schema metadata of a compacted file: the latest created_at (microseconds) in it
MAX_CREATED = b"annotate.max_created_us"
#: the courtesy note of an automatic compaction in progress (not a lock)
NOTE = ".compacting"
#: row groups of compacted files (rows); small enough that a coder-scoped read of a file of
#: several coders (release 0.1 layout) skips the others' rows by row-group statistics
ROW_GROUP_ROWS = 64 * 1024


@dataclass
class Listing:
    """The label files of a store (or of one coder), parts before compacted files."""

    parts: list[Path] = field(default_factory=list)
    compacted: list[Path] = field(default_factory=list)
    #: files of the top folders (several coders): a coder-scoped read filters their rows
    shared: set[Path] = field(default_factory=set)


class Chunk(NamedTuple):
    """The rows read from one file (or one scan of parts)."""

    table: pa.Table
    #: a compacted file's head: one row per label key, key-sorted
    is_head: bool
    #: the one coder all rows belong to, or None when they may be several coders'
    coder: str | None


def compacted_name() -> str:
    """A new compacted file's name: the store's monotonic clock (so names sort in the order the
    files were made, whatever the wall clock does) and a random suffix (unique across hosts)."""
    return f"c-{CLOCK.now_us():016d}-{uuid.uuid4().hex[:12]}.parquet"


def table_bytes(table: pa.Table) -> bytes:
    """A part file's bytes: lean (no compression, dictionary or statistics: a third less CPU
    per save than the defaults; parts are small and short-lived)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="none", use_dictionary=False, write_statistics=False)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def compacted_bytes(head: pa.Table, tail: pa.Table) -> bytes:
    """A compacted file: the head's row groups, then the tail's; head size and latest time in
    the metadata (so readers find the head, and a session its latest event, without a scan)."""
    latest = [pc.max(t.column("created_at")).cast(pa.int64()).as_py() for t in (head, tail)]
    latest_us = max((x for x in latest if x is not None), default=0)
    schema = LABEL_SCHEMA.with_metadata(
        {HEAD_ROWS: str(head.num_rows).encode(), MAX_CREATED: str(latest_us).encode()}
    )
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for part in (head, tail):
            if part.num_rows:
                writer.write_table(part.cast(schema), row_group_size=ROW_GROUP_ROWS)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def coder_folder(root: Path, sub: str, annotator: str) -> Path:
    """``<root>/<sub>/<annotator>``, created (durably) when missing; never a link (E003)."""
    folder = root / sub / annotator
    if not folder.is_dir() or folder.is_symlink():
        try:
            folder.mkdir(exist_ok=True)
        except FileExistsError:
            pass  # a link or a file in the way: write_file refuses it with E003
        except OSError as exc:
            raise LabelStoreError(
                Errors.E304.format(path=folder, problem=f"cannot be created ({exc})")
            ) from exc
        fsync_dir(root / sub)
    return folder


def write_part(root: Path, table: pa.Table, annotators: set[str], created_us: int) -> Path:
    """Write one append durably: into the coder's folder, or the top folder for several."""
    token = uuid.uuid4().hex
    if len(annotators) == 1:
        (annotator,) = annotators
        folder = coder_folder(root, PARTS, annotator)
        name = f"{created_us:016d}-{token}.parquet"
    else:
        folder = root / PARTS
        name = f"{created_us:016d}-~mixed-{token}.parquet"
    return write_file(folder / name, table_bytes(table))


def _report_strays(folder: Path, names: Iterable[str]) -> None:
    """Warn about files that are neither label files nor a save in progress (W301, W302)."""
    now = time.time()
    for name in names:
        path = folder / name
        if (name.endswith(".parquet") and not name.startswith(".")) or name == NOTE:
            continue
        if name.startswith(".") and name.endswith(TMP_SUFFIX):
            try:
                age = now - path.stat().st_mtime
            except FileNotFoundError:
                continue
            if age > STALE_TMP_SECONDS:
                warnings.warn(
                    Warnings.W302.format(path=path, minutes=round(age / 60)), stacklevel=5
                )
            continue
        warnings.warn(
            Warnings.W301.format(path=path, problem="not a .parquet label file"), stacklevel=5
        )


def _scan(folder: Path) -> tuple[list[Path], list[str]]:
    """(label files, coder sub-folder names) of one folder; a linked folder is refused."""
    files: list[Path] = []
    subs: list[str] = []
    strays: list[str] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except FileNotFoundError:
        return files, subs
    except NotADirectoryError as exc:
        raise StorageError(20, Errors.E003.format(path=folder)) from exc
    for entry in entries:
        if entry.is_symlink():
            if entry.is_dir():
                raise StorageError(40, Errors.E003.format(path=Path(entry.path)))
            strays.append(entry.name)
        elif entry.is_dir(follow_symlinks=False):
            if not entry.name.startswith("."):
                subs.append(entry.name)
        elif entry.name.endswith(".parquet") and entry.name[0] != ".":
            files.append(Path(entry.path))
        else:
            strays.append(entry.name)
    _report_strays(folder, strays)
    return files, subs


def listing(root: Path, annotator: str | None = None) -> Listing:
    """The label files to read: every coder's, or one coder's plus the shared top-level ones.

    Parts are listed before compacted files (see :func:`read_all` for why).
    """
    out = Listing()
    for sub, target in ((PARTS, out.parts), (COMPACTED, out.compacted)):
        if (root / sub).is_symlink():
            raise StorageError(40, Errors.E003.format(path=root / sub))
        top, coders = _scan(root / sub)
        target += top
        out.shared.update(top)
        for name in coders if annotator is None else [annotator]:
            if name in coders:
                target += _scan(root / sub / name)[0]
    return out


def read_file(
    path: Path, *, head_only: bool = False, annotator: str | None = None
) -> tuple[pa.Table, bool] | None:
    """One label file, and whether it is a compacted head (one row per key, key-sorted).

    With ``head_only``, a compacted file yields only its head (the row groups before its
    superseded events). With ``annotator``, only that coder's rows, reading only the row groups
    whose statistics may hold them. Returns None, with W301, when the file is not a label file.
    FileNotFoundError propagates: the caller retries from a fresh listing (a compactor folded it).
    """
    try:
        pf = pq.ParquetFile(path)
        meta = pf.schema_arrow.metadata or {}
        head = int(meta[HEAD_ROWS]) if HEAD_ROWS in meta else None
        table = _read_groups(pf, head if head_only else None, annotator)
    except FileNotFoundError:
        raise
    except (OSError, pa.ArrowException, ValueError, IndexError, KeyError) as exc:
        if not path.exists():
            raise FileNotFoundError(path) from exc
        warnings.warn(Warnings.W301.format(path=path, problem=exc), stacklevel=3)
        return None
    upgraded = upgrade(table)  # release 0.1 files: the newer columns as nulls
    if upgraded is None:
        problem = f"its columns {table.schema.names} are not the label event columns"
        warnings.warn(Warnings.W301.format(path=path, problem=problem), stacklevel=3)
        return None
    try:
        table = upgraded.cast(LABEL_SCHEMA)
    except (pa.ArrowException, ValueError) as exc:
        warnings.warn(Warnings.W301.format(path=path, problem=exc), stacklevel=3)
        return None
    if annotator is not None:
        table = table.filter(pc.equal(table.column("annotator_id"), annotator))
    return table, bool(head_only and head is not None)


def _read_groups(pf: pq.ParquetFile, head: int | None, annotator: str | None) -> pa.Table:
    """The rows [0, head) (all with None), of the row groups that may hold ``annotator``."""
    md = pf.metadata
    col = pf.schema_arrow.get_field_index("annotator_id") if annotator is not None else -1
    groups: list[int] = []
    end = 0  # the row after the last selected group
    start = 0
    for i in range(md.num_row_groups):
        if head is not None and start >= head:
            break
        n = md.row_group(i).num_rows
        if col < 0 or _may_hold(md.row_group(i).column(col).statistics, annotator):
            groups.append(i)
            end = start + n
        start += n
    if head is None and len(groups) == md.num_row_groups:
        return pf.read()
    if not groups:
        return pf.schema_arrow.empty_table()
    table = pf.read_row_groups(groups)
    if head is not None and end > head:  # a group straddling the head (other writers' files)
        table = table.slice(0, table.num_rows - (end - head))
    return table


def _may_hold(stats: object, value: str | None) -> bool:
    """Whether a row group's min/max statistics allow ``value`` (no statistics: maybe)."""
    if value is None or stats is None or not getattr(stats, "has_min_max", False):
        return True
    return bool(stats.min <= value <= stats.max)  # type: ignore[attr-defined]


_REQUIRED = [f.name for f in LABEL_SCHEMA if not f.nullable]


def read_parts(
    paths: list[Path], annotator: str | None = None
) -> list[tuple[pa.Table, bool] | None]:
    """Part files: in one multi-threaded dataset scan (3x faster than file by file), falling
    back to file by file (which names each bad file, W301) when the scan fails or yields
    nulls in a required column (a foreign file the scan would have padded with nulls)."""
    if len(paths) >= 8:
        try:
            table = ds.dataset([str(p) for p in paths], format="parquet", schema=LABEL_SCHEMA)
            table = table.to_table()
            if not any(table.column(c).null_count for c in _REQUIRED):
                if annotator is not None:
                    table = table.filter(pc.equal(table.column("annotator_id"), annotator))
                return [(table, False)]
        except (OSError, pa.ArrowException, ValueError) as exc:
            if not all(p.exists() for p in paths):
                raise FileNotFoundError("a part was folded away") from exc
    return [read_file(p, annotator=annotator) for p in paths]


def read_all(
    root: Path, *, head_only: bool = False, annotator: str | None = None, attempts: int = 30
) -> list[Chunk]:
    """Every readable label file of the store (or one coder's rows), as chunks.

    Parts are listed before compacted files. A compactor writes its folded file (durably)
    before it deletes the parts it folded, so any event in a part listed here is either read
    from that part or, if the part vanished, the read is retried from a fresh listing; and any
    event that was in a compacted file at the first listing is in some compacted file at the
    second. Duplicates (a part and its folded copy) are removed later by event id.
    """
    for attempt in range(attempts):
        found = listing(root, annotator)
        try:
            got: list[Chunk] = []
            for path in found.compacted:
                shared = path in found.shared
                one = read_file(path, head_only=head_only, annotator=annotator if shared else None)
                if one is not None:
                    coder = annotator or (None if shared else path.parent.name)
                    got.append(Chunk(one[0], one[1], coder))
            own = [p for p in found.parts if p not in found.shared]
            shared_parts = [p for p in found.parts if p in found.shared]
            pieces = read_parts(own) + read_parts(shared_parts, annotator)
            got += [Chunk(t[0], False, annotator) for t in pieces if t is not None]
        except FileNotFoundError:
            time.sleep(min(0.002 * 2**attempt, 0.2))
            continue
        return [c for c in got if c.table.num_rows]
    raise LabelStoreError(Errors.E305.format(path=root, tries=attempts))


def latest_us(root: Path, annotator: str | None = None) -> int | None:
    """The latest ``created_at`` of any event (of one coder), from metadata where possible.

    A compacted file records its latest time in its metadata; parts are small (a save each) and
    read for their ``created_at`` column only.
    """
    for attempt in range(30):
        found = listing(root, annotator)
        best: int | None = None
        try:
            for path in found.compacted:
                meta = pq.read_schema(path).metadata or {}
                if MAX_CREATED in meta and path not in found.shared:
                    got: int | None = int(meta[MAX_CREATED])
                else:
                    got = _max_created(pq.read_table(path, columns=["annotator_id", "created_at"]),
                                       annotator)  # fmt: skip
                best = _later(best, got)
            for path in found.parts:
                table = pq.read_table(path, columns=["annotator_id", "created_at"])
                best = _later(best, _max_created(table, annotator))
        except FileNotFoundError:
            time.sleep(min(0.002 * 2**attempt, 0.2))
            continue
        except (OSError, pa.ArrowException, ValueError, KeyError):
            continue  # a damaged file: read_all reports it (W301); retry without it is moot
        return best
    raise LabelStoreError(Errors.E305.format(path=root, tries=30))


def _max_created(table: pa.Table, annotator: str | None) -> int | None:
    if annotator is not None:
        table = table.filter(pc.equal(table.column("annotator_id"), annotator))
    if not table.num_rows:
        return None
    value = pc.max(table.column("created_at").cast(pa.timestamp("us", tz="UTC"))).value
    return None if value is None else int(value)


def _later(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


# --- compaction ------------------------------------------------------------------------------


def compact(
    root: Path, *, merge_compacted: int = 4, min_parts: int = 1, annotator: str | None = None
) -> dict[str, int]:
    """Fold part files (and, past ``merge_compacted`` files of a coder, compacted ones) into one
    compacted file per coder.

    Compacted files are merged in tiers (see :func:`_merge_set`); ``merge_compacted=0`` folds
    everything into one file per coder. With ``annotator``, only that coder's folders are
    touched (a coder's session, which may have no right to the others'); without, files of
    several coders (top folders, release 0.1 stores) are split into the coders' folders too.

    Lock-free and safe at any moment, against writers, readers, other compactors and crashes:
    every folded file is durable before any input is deleted, inputs that vanished were folded
    by another compactor, and duplicates this may create are dropped by event id on read.
    """
    found = listing(root, annotator)
    if annotator is not None:  # a coder's compaction never touches shared files
        found.parts = [p for p in found.parts if p not in found.shared]
        found.compacted = [p for p in found.compacted if p not in found.shared]
    inputs = list(found.parts)
    legacy = [p for p in found.compacted if p in found.shared]
    inputs += legacy
    by_coder: dict[Path, list[Path]] = {}
    for path in found.compacted:
        if path not in found.shared:
            by_coder.setdefault(path.parent, []).append(path)
    for files in by_coder.values():
        if len(files) > merge_compacted:
            inputs += _merge_set(files, everything=merge_compacted == 0)
    stats = {"parts": len(found.parts), "folded": 0, "events": 0}
    if len(found.parts) < min_parts and len(inputs) == len(found.parts):
        _remove_orphans(root)
        return stats
    tables, done = _read_inputs(inputs, found.parts)
    if not tables:
        _remove_orphans(root)
        return stats
    folded = sort_by_key(pa.concat_tables(tables))
    written = 0
    try:
        for coder, rows in split_by_coder(folded):
            head, tail = split_head(rows)
            out = coder_folder(root, COMPACTED, coder)
            name = compacted_name()
            write_file(out / name, compacted_bytes(head, tail))
            written += rows.num_rows
    finally:
        _remove_orphans(root)  # also after a failure (a full disk): leftovers hold space
    for path in done:
        try:
            path.unlink()
        except FileNotFoundError:
            pass
    for folder in {p.parent for p in done}:
        if folder.is_dir():
            fsync_dir(folder)
    stats.update(folded=len(done), events=written)
    return stats


def _merge_set(compacted: list[Path], *, everything: bool) -> list[Path]:
    """The compacted files of one coder to merge: tiered, so the big file is not rewritten
    every time.

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
            taken = set(parts)
            todo = [p for p in inputs if p not in taken]
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
    """Delete temp files of saves killed more than ORPHAN_TMP_SECONDS ago (never through a
    link: only real folders of the store are scanned)."""
    now = time.time()
    for sub in (PARTS, COMPACTED):
        top = root / sub
        if not top.is_dir() or top.is_symlink():
            continue
        folders = [top] + [Path(e.path) for e in os.scandir(top) if e.is_dir(follow_symlinks=False)]
        for folder in folders:
            try:
                entries = list(os.scandir(folder))
            except FileNotFoundError:
                continue
            for entry in entries:
                if not (entry.name.startswith(".") and entry.name.endswith(TMP_SUFFIX)):
                    continue
                try:
                    if now - entry.stat(follow_symlinks=False).st_mtime > ORPHAN_TMP_SECONDS:
                        os.unlink(entry.path)
                except FileNotFoundError:
                    pass
