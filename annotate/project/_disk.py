"""Small durable writes of the project's own files (project.json, assignments.parquet)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from annotate.durable import write_file


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` durably (see :func:`annotate.durable.write_file`)."""
    write_file(path, data)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """A DataFrame as the bytes of one parquet file."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()
