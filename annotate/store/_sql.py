"""The store's current labels as a DuckDB query over its parquet files (analyses at scale).

:meth:`LabelStore.current` folds the events in memory with Arrow; that holds every event of
the store at once. This module states the same fold, latest event per label key by
(``created_at``, ``event_id``) with keys whose latest event is a ``clear`` removed, as SQL that
DuckDB runs over the files themselves: a hash aggregate that streams the files and spills to
disk past its memory limit, so 100 million events fold in a few gigabytes.

Events are identical wherever an ``event_id`` occurs (a part and its compacted copy), so ties
of (created_at, event_id) cannot pick different values. Files of release 0.1 (without
``exposure`` and ``evidence``) are read by name (``union_by_name``); the columns used here are
in every release. Only label files of the store's listing are read (no stray files, W301).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from annotate.errors import Errors, LabelStoreError
from annotate.store import _files

#: the columns the fold reads (present in every release's files)
FOLD_COLUMNS = (
    "annotator_id",
    "unit",
    "conversation_id",
    "turn_index",
    "code_id",
    "value",
    "op",
    "codebook_id",
    "codebook_version",
    "note",
    "created_at",
    "event_id",
)


@dataclass
class Sources:
    """The label files of a store for a fold: compacted *heads* that are a coder's current
    labels as they are (the coder's only file: one row per key, the latest; only its clears to
    drop), and the files to fold."""

    heads: list[tuple[str, int]] = field(default_factory=list)  #: (path, head rows)
    fold: list[str] = field(default_factory=list)


def sources(root: Path, annotator: str | None = None) -> Sources:
    """The files of :func:`label_files`, a coder's only compacted file (no parts of that coder,
    no shared files in the store) taken as a head; every other file to fold."""
    found = _files.listing(Path(root), annotator)
    out = Sources()
    if found.shared:
        out.fold = [str(p) for p in (*found.parts, *found.compacted)]
        return out
    with_parts = {p.parent.name for p in found.parts}
    per_coder: dict[str, list[Path]] = {}
    for path in found.compacted:
        per_coder.setdefault(path.parent.name, []).append(path)
    for coder, paths in per_coder.items():
        head = _head_rows(paths[0]) if len(paths) == 1 and coder not in with_parts else None
        if head is None:
            out.fold += [str(p) for p in paths]
        else:
            out.heads.append((str(paths[0]), head))
    out.fold += [str(p) for p in found.parts]
    return out


def _head_rows(path: Path) -> int | None:
    """A compacted file's head size (its metadata), None if it has none or is unreadable."""
    try:
        meta = pq.read_schema(path).metadata or {}
        return int(meta[_files.HEAD_ROWS]) if _files.HEAD_ROWS in meta else None
    except (OSError, ValueError, KeyError):
        return None


def label_files(root: Path, annotator: str | None = None) -> list[str]:
    """Every label file of the store folder ``root`` (parts and compacted files); with
    ``annotator``, that coder's files and the shared ones (which may hold several coders)."""
    found = _files.listing(Path(root), annotator)
    return [str(p) for p in (*found.parts, *found.compacted)]


def event_rows(root: Path) -> int:
    """The number of event rows in the store's files, from the parquet footers (no scan)."""
    total = 0
    for path in label_files(root):
        try:
            total += pq.ParquetFile(path).metadata.num_rows
        except (OSError, ValueError):
            continue  # a damaged file: the reads report it (W301)
    return total


def quote(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _version_filter(version: tuple[str, str] | None) -> str:
    if version is None:
        return "TRUE"
    return f"codebook_id = {quote(version[0])} AND codebook_version = {quote(version[1])}"


def _in(column: str, values: Sequence[str] | None, unset: str = "TRUE") -> str:
    if values is None:
        return unset
    return f"coalesce({column} IN ({', '.join(quote(a) for a in values) or 'NULL'}), FALSE)"


def current_sql(
    files: Sequence[str] | Sources,
    *,
    fold_version: tuple[str, str] | None = None,
    keep_version: tuple[str, str] | None = None,
    annotators: Sequence[str] | None = None,
    codes: Sequence[str] | None = None,
    without_codes: Sequence[str] | None = None,
) -> str:
    """SQL of the current labels (columns :data:`FOLD_COLUMNS` but ``op``, ``created_at``,
    ``event_id``) of the given label files.

    ``fold_version`` (codebook id, version): fold only that version's events (an older
    version's labels as they were); ``keep_version``: fold every event, then keep the labels
    whose latest event is of that version (the current version after a migration).
    ``annotators``: only these coders' labels; ``codes`` / ``without_codes``: only (not) these
    codes' labels (filtered before the fold: the code and the coder are parts of the key).
    :class:`Sources` (:func:`sources`) also read compacted heads without a fold (unless
    ``fold_version`` asks for an older version's events).
    """
    if isinstance(files, Sources):
        heads = files.heads if fold_version is None else []
        fold = files.fold if fold_version is None else [*files.fold, *(h for h, _ in files.heads)]
    else:
        heads, fold = [], list(files)
    where = (
        f"{_in('annotator_id', annotators)} AND {_in('code_id', codes)} "
        f"AND NOT {_in('code_id', without_codes, 'FALSE')}"
    )
    parts = [_head_sql(path, n, where, keep_version) for path, n in heads]
    if fold or not parts:
        parts.append(_fold_sql(fold, where, fold_version, keep_version))
    return "\nUNION ALL\n".join(parts)


def _head_sql(path: str, n: int, where: str, keep_version: tuple[str, str] | None) -> str:
    return f"""
        SELECT annotator_id, unit, conversation_id, turn_index, code_id, value, codebook_id,
               codebook_version, note
        FROM read_parquet({quote(path)}, file_row_number = true)
        WHERE file_row_number < {int(n)} AND op <> 'clear' AND {where}
          AND {_version_filter(keep_version)}
    """


def _fold_sql(
    files: Sequence[str],
    where: str,
    fold_version: tuple[str, str] | None,
    keep_version: tuple[str, str] | None,
) -> str:
    if not files:
        return (
            "SELECT NULL::VARCHAR AS annotator_id, NULL::VARCHAR AS unit, "
            "NULL::VARCHAR AS conversation_id, NULL::INTEGER AS turn_index, "
            "NULL::VARCHAR AS code_id, NULL::VARCHAR AS value, NULL::VARCHAR AS codebook_id, "
            "NULL::VARCHAR AS codebook_version, NULL::VARCHAR AS note WHERE FALSE"
        )
    listing = ", ".join(quote(f) for f in files)
    cols = ", ".join(FOLD_COLUMNS)
    return f"""
        SELECT annotator_id, unit, conversation_id, turn_index, code_id,
               latest.value AS value, latest.codebook_id AS codebook_id,
               latest.codebook_version AS codebook_version, latest.note AS note
        FROM (
            SELECT annotator_id, unit, conversation_id, turn_index, code_id,
                   arg_max({{'value': value, 'op': op, 'codebook_id': codebook_id,
                             'codebook_version': codebook_version, 'note': note}},
                           {{'t': created_at, 'id': event_id}}) AS latest
            FROM (SELECT {cols} FROM read_parquet([{listing}], union_by_name = true))
            WHERE {_version_filter(fold_version)} AND {where}
            GROUP BY annotator_id, unit, conversation_id, turn_index, code_id
        )
        WHERE latest.op <> 'clear' AND
              {_version_filter(keep_version).replace("codebook_", "latest.codebook_")}
    """


def connect(memory_limit: str = "4GB", temp_directory: str | None = None) -> Any:
    """A DuckDB connection with a memory limit (it spills to ``temp_directory`` past it).

    Raises LabelStoreError (E324) when DuckDB is not installed (the ``scale`` extra).
    """
    try:
        import duckdb
    except ImportError as exc:
        raise LabelStoreError(Errors.E324.format(problem=str(exc))) from exc
    con = duckdb.connect()
    con.execute(f"SET memory_limit = {quote(memory_limit)}")
    con.execute("SET preserve_insertion_order = false")
    if temp_directory is not None:
        con.execute(f"SET temp_directory = {quote(temp_directory)}")
    return con
