"""Shared test fixtures. Area fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: the team's shared folder (real corpora, published agreement values); beside the clone in CI
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared folder; tests read real data from it and never copy it into the project."""
    if not SHARED.is_dir():  # pragma: no cover - CI always has it beside the clone
        pytest.fail(f"the shared folder is missing: expected it at {SHARED}")
    return SHARED
