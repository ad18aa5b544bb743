"""Shared test fixtures. Area fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: the third-party corpus samples, in the team's shared folder beside the clone (CI has it). They
#: are not ours to redistribute, so they are read in place and never copied into the project.
SHARED_CORPORA = REPO.parent / "shared" / "corpora"
#: the one reason every test that needs them is skipped with on a clone without the folder
NEEDS_SHARED_CORPORA = "needs the third-party corpus samples in ../shared/corpora (present in CI)"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_corpora() -> Path:
    """The third-party corpus samples (../shared/corpora); the test is skipped without them."""
    if not SHARED_CORPORA.is_dir():
        pytest.skip(NEEDS_SHARED_CORPORA)
    return SHARED_CORPORA
