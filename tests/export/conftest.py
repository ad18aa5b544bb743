"""A real project on the demo corpus with the demo's illustrative labels (three coders)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import annotate

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def demo_project_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    annotate.import_corpus(REPO / "corpora/demo/demo.jsonl", "openai", out=root / "corpus")
    project = annotate.Project.create(
        root / "project", corpus=root / "corpus",
        codebook=REPO / "codebooks/sdt-socioaffective.yaml",
        coders=["alice", "bob", "carol"], per_item=1, reliability=0.2, seed=1,
    )  # fmt: skip
    events = pd.read_json(REPO / "corpora/demo/labels/events.jsonl", lines=True, dtype=False)
    project.append(events)
    return root / "project"


@pytest.fixture
def demo_project(demo_project_dir: Path, tmp_path: Path):
    """A private copy per test (tests append and export)."""
    shutil.copytree(demo_project_dir.parent / "corpus", tmp_path / "corpus")
    shutil.copytree(demo_project_dir, tmp_path / "project")
    return annotate.Project.open(tmp_path / "project")
