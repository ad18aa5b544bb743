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


#: a REFI-QDA codebook as a QDA tool (not annotate) writes it: no annotate metadata
FOREIGN = """<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="NVivo 14">
  <Codes>
    <Code guid="11111111-1111-1111-1111-111111111111" name="Emotions" isCodable="false">
      <Description>Feelings the participant shows.</Description>
      <Code guid="22222222-2222-2222-2222-222222222222" name="Sadness" isCodable="true"
            color="#112233"><Description>Sad, low, grieving.</Description></Code>
      <Code guid="33333333-3333-3333-3333-333333333333" name="Fear &amp; worry" isCodable="true"/>
    </Code>
    <Code guid="44444444-4444-4444-4444-444444444444" name="Advice giving" isCodable="true"/>
  </Codes>
  <Sets>
    <Set guid="55555555-5555-5555-5555-555555555555" name="Negative">
      <MemberCode guid="22222222-2222-2222-2222-222222222222"/>
      <MemberCode guid="33333333-3333-3333-3333-333333333333"/>
    </Set>
  </Sets>
</CodeBook>
"""


@pytest.fixture
def foreign_qdc(tmp_path: Path) -> Path:
    """A .qdc file made in a QDA tool (NVivo-like): a folder, codes, a set."""
    path = tmp_path / "nvivo.qdc"
    path.write_text(FOREIGN, encoding="utf-8")
    return path
