"""Finding the shipped codebooks in a checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotate.codebook import default_codebook_path, paths, toy_codebook_path
from annotate.errors import CodebookError


def test_paths_checkout(repo_root: Path) -> None:
    assert toy_codebook_path() == repo_root / "codebooks" / "toy.yaml"
    assert default_codebook_path() == repo_root / "codebooks" / "sdt-socioaffective.yaml"


def test_paths_wheel_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "annotate" / "_data" / "codebooks"
    data.mkdir(parents=True)
    (data / "toy.yaml").write_text("id: toy\n", encoding="utf-8")
    monkeypatch.setattr(paths, "CODEBOOK_DIRS", (tmp_path / "codebooks", data))
    assert toy_codebook_path() == data / "toy.yaml"
    with pytest.raises(CodebookError, match=r"E206.*sdt-socioaffective\.yaml.*_data"):
        default_codebook_path()
