"""Fixtures of the codebook tests: the toy codebook and a writer for small YAML files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from textwrap import dedent

import pytest

from annotate.codebook import Codebook, load_codebook, toy_codebook_path


@pytest.fixture(scope="session")
def toy_path() -> Path:
    return toy_codebook_path()


@pytest.fixture(scope="session")
def codebook(toy_path: Path) -> Codebook:
    return load_codebook(toy_path)


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write dedented YAML text to tmp_path/<name> and return the path."""

    def write(text: str, name: str = "cb.yaml") -> Path:
        path = tmp_path / name
        path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write
