"""Corpus folders on disk: atomic write (temp folder, fsync, rename) and validated read."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from annotate.corpus._schema import (
    CONVERSATIONS_SCHEMA,
    FOLDER_VERSION,
    ROW_GROUP_SIZE,
    TURNS_SCHEMA,
)
from annotate.errors import CorpusError, Errors
from annotate.types import FilePath

TURNS_FILE = "turns.parquet"
CONVERSATIONS_FILE = "conversations.parquet"
MANIFEST_FILE = "manifest.json"


def write_tables(
    folder: Path,
    turns: pa.Table,
    conversations: pa.Table,
    manifest: dict[str, Any],
    turn_order: np.ndarray | None = None,
) -> dict[str, Any]:
    """Write the three files into ``folder`` (turns taken in ``turn_order`` when given).

    Row groups of :data:`ROW_GROUP_SIZE` rows; the turns are taken one row group at a time, so
    sorting never holds a second copy of the text. Returns the manifest as written.
    """
    with pq.ParquetWriter(folder / TURNS_FILE, TURNS_SCHEMA, compression="zstd") as w:
        n = turns.num_rows if turn_order is None else len(turn_order)
        for lo in range(0, n, ROW_GROUP_SIZE):
            if turn_order is None:
                part = turns.slice(lo, ROW_GROUP_SIZE)
            else:
                part = turns.take(pa.array(turn_order[lo : lo + ROW_GROUP_SIZE]))
            w.write_table(part, row_group_size=ROW_GROUP_SIZE)
    pq.write_table(
        conversations,
        folder / CONVERSATIONS_FILE,
        row_group_size=ROW_GROUP_SIZE,
        compression="zstd",
    )
    manifest = dict(manifest)
    manifest.setdefault("folder_version", FOLDER_VERSION)
    manifest.setdefault("created_at", datetime.now(UTC).isoformat(timespec="seconds"))
    manifest["counts"] = corpus_counts(turns, conversations)
    (folder / MANIFEST_FILE).write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    return manifest


def corpus_counts(turns: pa.Table, conversations: pa.Table) -> dict[str, Any]:
    """Counts recorded in the manifest: conversations, turns (by role), users, date range."""
    roles = pc.value_counts(turns["role"]).to_pylist() if turns.num_rows else []
    started = conversations["started_at"]
    if started.null_count == len(started) and turns.num_rows:
        started = turns["created_at"]
    lo = hi = None
    if len(started):
        mm = pc.min_max(started)
        lo, hi = mm["min"].as_py(), mm["max"].as_py()
    return {
        "conversations": conversations.num_rows,
        "turns": turns.num_rows,
        "turns_by_role": {
            r["values"]: r["counts"] for r in sorted(roles, key=lambda r: r["values"])
        },
        "users": pc.count_distinct(conversations["user_id"]).as_py()
        if conversations.num_rows
        else 0,
        "speakers": pc.count_distinct(turns["speaker"]).as_py() if turns.num_rows else 0,
        "first_at": None if lo is None else lo.isoformat(),
        "last_at": None if hi is None else hi.isoformat(),
    }


def atomic_folder(out: FilePath, write: Callable[[Path], Any], *, overwrite: bool = False) -> Any:
    """Run ``write(tmp)`` on a temp folder beside ``out``, fsync it, then rename it to ``out``.

    A failure at any point leaves no ``out`` (and no temp folder) behind; an existing ``out`` is
    only replaced with ``overwrite=True`` (an existing empty folder is always fine).
    """
    out = Path(out)
    if out.exists() and not overwrite and not (out.is_dir() and not any(out.iterdir())):
        raise CorpusError(Errors.E107.format(path=out))
    parent = out.parent.resolve()
    tmp = parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    old: Path | None = None
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        result = write(tmp)
        for f in tmp.iterdir():
            _fsync(f)
        _fsync(tmp)
        if out.exists():
            old = parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(out, old)
        os.rename(tmp, out)
        _fsync(parent)
    except OSError as exc:
        _cleanup(tmp, old, out)
        raise CorpusError(Errors.E114.format(path=out, problem=exc)) from exc
    except BaseException:
        _cleanup(tmp, old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return result


def _cleanup(tmp: Path, old: Path | None, out: Path) -> None:
    shutil.rmtree(tmp, ignore_errors=True)
    if old is not None and not out.exists():
        os.rename(old, out)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
        Tables with the columns of DESIGN.md §3 (cast to :data:`TURNS_SCHEMA` and
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
