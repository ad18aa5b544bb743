"""Small durable writes of the project's own files (project.json, assignments.parquet)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pandas as pd


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` durably (temp file, fsync, rename, fsync folder)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """A DataFrame as the bytes of one parquet file."""
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()
