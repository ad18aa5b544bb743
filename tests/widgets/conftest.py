"""Fixtures for the widget tests: a real project (real corpus writer, store and toy codebook)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from widget_data import make_project


@pytest.fixture
def project(tmp_path):
    """A two-coder project on four small conversations (c1..c4), no reliability sample."""
    return make_project(tmp_path)


@pytest.fixture
def session(project):
    from annotate.widgets.session import AnnotationSession

    return AnnotationSession(project, "alice", session_id="s-test")


class Clock:
    """A fake monotonic clock (seconds) the tests move by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()
