"""Parquet sources: row groups streamed one at a time (Hugging Face shards and the like).

:func:`is_parquet` tells a parquet file by its magic bytes (``PAR1`` at both ends), whatever
its name; :func:`iter_rows` yields its rows as dicts, one row group in memory at a time, so
every record-based importer (``openai``, ``sharegpt``, ``oasst`` flat rows, ``pippa``, ...)
reads parquet shards as well as JSON Lines. The ``hf-chat`` and ``arena`` importers read the
columns themselves (:func:`iter_batches`), without building a dict per row.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from annotate.errors import CorpusError, Errors

MAGIC = b"PAR1"
#: rows per batch handed to Python (a row group may be larger)
BATCH_ROWS = 8192


def is_parquet(path: Path) -> bool:
    """Whether ``path`` is a parquet file (magic bytes at its start and end)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
            if head != MAGIC:
                return False
            f.seek(-4, 2)
            return f.read(4) == MAGIC
    except OSError:
        return False


def open_parquet(path: Path) -> pq.ParquetFile:
    """A parquet file, or E106 when it cannot be read (damaged, cut off)."""
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise CorpusError(
            Errors.E106.format(
                path=path,
                problem="is not a readable parquet file",
                where=exc,
                hint="Check that the download is complete (compare its sha256 with the "
                "dataset's), or download it again.",
            )
        ) from exc


def iter_batches(
    path: Path, columns: list[str] | None = None, batch_rows: int = BATCH_ROWS
) -> Iterator[tuple[int, pa.RecordBatch]]:
    """``(first row number, batch)`` over the file, one row group read at a time.

    The next row group is read in a background thread while the caller works on this one
    (pyarrow releases the GIL while it decodes): two row groups in memory at most.
    """
    pf = open_parquet(path)
    first = 0
    n = pf.metadata.num_row_groups
    with ThreadPoolExecutor(max_workers=1) as pool:
        ahead = pool.submit(_read_group, pf, 0, columns, path) if n else None
        for i in range(n):
            assert ahead is not None
            group = ahead.result()
            ahead = pool.submit(_read_group, pf, i + 1, columns, path) if i + 1 < n else None
            for batch in group.to_batches(max_chunksize=batch_rows):
                yield first, batch
                first += batch.num_rows
            del group


def _read_group(pf: pq.ParquetFile, i: int, columns: list[str] | None, path: Path) -> pa.Table:
    try:
        return pf.read_row_group(i, columns=columns)
    except (pa.ArrowException, OSError) as exc:
        raise CorpusError(
            Errors.E106.format(
                path=path,
                problem=f"has a row group that cannot be read (row group {i})",
                where=exc,
                hint="The file is damaged or cut off; download it again.",
            )
        ) from exc


def iter_rows(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield ``(where, row as a dict)`` for every row of a parquet file (1-based row numbers)."""
    name = path.name
    for first, batch in iter_batches(path):
        for k, row in enumerate(batch.to_pylist()):
            yield f"{name} row {first + k + 1}", row
