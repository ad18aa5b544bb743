"""Fixtures of the importer tests: the real samples and a writer for small fixture files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def samples(shared_corpora: Path) -> Path:
    """The real corpora samples (read in place, never copied; skipped without ../shared/corpora)."""
    return shared_corpora


@pytest.fixture
def jsonl(tmp_path: Path) -> Callable[..., Path]:
    """Write records as JSON Lines (or a JSON array with ``array=True``) under tmp_path."""

    def write(records: list[Any], name: str = "src.jsonl", *, array: bool = False) -> Path:
        path = tmp_path / name
        if array:
            path.write_text(json.dumps(records, indent=1), encoding="utf-8")
        else:
            path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        return path

    return write
