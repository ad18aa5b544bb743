"""Fixtures of the analysis tests; helpers live in analysis_helpers.py (importable from here)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from analysis_helpers import make_codebook

from annotate.codebook.model import Codebook


@pytest.fixture
def codebook() -> Codebook:
    return make_codebook()
