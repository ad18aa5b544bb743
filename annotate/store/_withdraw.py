"""Withdrawal from a label store: every event of some conversations removed from every file.

Used when a participant withdraws from a data-donation study
(:func:`annotate.corpus.withdraw`): their conversations leave the corpus, and every label a
coder gave them leaves each project's store. The store is append-only for coding; withdrawal
is the one rewrite, done the way compaction works (see :mod:`annotate.store._files`): each file
holding such events is written again without them under a new name (durably: temp file, fsync,
rename), and only then is the old file deleted. A reader in between sees both files, whose
duplicate events it drops by event id; a crash in between leaves both, and running the
withdrawal again removes the rest. Compacted files keep their layout (head of current labels,
then superseded events): removing whole label keys leaves every other key's latest event
latest. Leftover temp files of killed saves (which may hold the withdrawn labels) are deleted
too, except those of a save in progress (younger than :data:`BUSY_TMP_SECONDS`).

Coders' sessions open on the store during a withdrawal may still write labels for the
withdrawn conversations (their corpus was loaded before); run the withdrawal when no session is
open, or run it again afterwards: it is idempotent.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from annotate.durable import TMP_SUFFIX, fsync_dir, write_file
from annotate.store._files import (
    COMPACTED,
    HEAD_ROWS,
    PARTS,
    compacted_bytes,
    compacted_name,
    table_bytes,
)

#: a temp file younger than this may be a save in progress and is left alone
BUSY_TMP_SECONDS = 10.0


def withdraw_conversations(folder: Path | str, conversation_ids: Iterable[str]) -> int:
    """Remove every event of ``conversation_ids`` from the store at ``folder``.

    Returns the number of events removed. Repeats until a pass over the files finds none
    (a compaction running meanwhile may have folded a part into a new file).
    """
    root = Path(folder)
    ids = pa.array(sorted(set(conversation_ids)), pa.string())
    removed = 0
    if len(ids):
        for _ in range(5):
            found = sum(_rewrite(path, ids) for path in list(_label_files(root)))
            removed += found
            if not found:
                break
    _remove_leftovers(root)
    return removed


def _label_files(root: Path) -> Iterator[Path]:
    for sub in (PARTS, COMPACTED):
        top = root / sub
        if not top.is_dir() or top.is_symlink():
            continue
        for dirpath, dirnames, files in os.walk(top):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in files:
                if name.endswith(".parquet") and not name.startswith("."):
                    yield Path(dirpath) / name


def _rewrite(path: Path, ids: pa.Array) -> int:
    """Rewrite one file without the events of ``ids``; returns how many it held."""
    try:
        pf = pq.ParquetFile(path)
        meta = pf.schema_arrow.metadata or {}
        table = pf.read()
    except FileNotFoundError:
        return 0  # folded away by a compaction: its output is seen on the next pass
    except (OSError, pa.ArrowException):
        return 0  # not a label file (reported by reads, W301)
    if "conversation_id" not in table.column_names:
        return 0
    hit = pc.is_in(table["conversation_id"], value_set=ids)
    n = int(pc.sum(hit).as_py() or 0)
    if not n:
        return 0
    keep = pc.invert(hit)
    if HEAD_ROWS in meta:
        head_n = int(meta[HEAD_ROWS])
        head = table.slice(0, head_n).filter(keep.slice(0, head_n))
        tail = table.slice(head_n).filter(keep.slice(head_n))
        data = compacted_bytes(head, tail) if head.num_rows + tail.num_rows else None
        name = compacted_name()
    else:
        rest = table.filter(keep)
        data = table_bytes(rest.replace_schema_metadata(None)) if rest.num_rows else None
        stem = path.stem.split("-", 1)
        mixed = "-~mixed" if "~mixed" in path.name else ""
        name = f"{stem[0]}{mixed}-{uuid.uuid4().hex}.parquet"
    if data is not None:
        write_file(path.parent / name, data)  # durable before the old file goes
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    fsync_dir(path.parent)
    return n


def _remove_leftovers(root: Path) -> None:
    """Delete temp files of killed saves (they may hold withdrawn labels)."""
    now = time.time()
    for dirpath, _, files in os.walk(root):
        for name in files:
            if not (name.startswith(".") and name.endswith(TMP_SUFFIX)):
                continue
            path = Path(dirpath) / name
            try:
                if now - path.lstat().st_mtime > BUSY_TMP_SECONDS:
                    path.unlink()
            except FileNotFoundError:
                pass
