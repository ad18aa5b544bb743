"""The demo project: the team's demo corpus, the default codebook, and (optionally) the demo's
illustrative pre-coded labels of three coders. Used by the notebooks so that each stays short.

The demo corpus and its labels were written by the annotate team for demonstrations and tests
(see corpora/demo/README.md and corpora/demo/labels/README.md); they are not real user data and
not a real reliability study.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from annotate.codebook import default_codebook_path
from annotate.errors import Errors, ProjectError
from annotate.importers import import_corpus
from annotate.project import Project
from annotate.types import FilePath

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "corpora" / "demo"
CODERS = ("alice", "bob", "carol")


def demo_paths() -> dict[str, Path]:
    """Where the demo's files are (the corpus source, the labels, the default codebook)."""
    paths = {
        "source": DEMO / "demo.jsonl",
        "labels": DEMO / "labels" / "events.jsonl",
        "codebook": Path(default_codebook_path()),
    }
    for name, path in paths.items():
        if not path.exists():
            raise ProjectError(Errors.E399.format(what=name, path=path))
    return paths


def demo_project(
    work: FilePath, *, labels: bool = True, fresh: bool = False, reliability: float = 0.2
) -> Project:
    """Create (or open) the demo project under ``work``.

    Parameters
    ----------
    work : path
        A working folder; the corpus goes to ``work/corpus``, the project to ``work/project``.
    labels : bool
        Load the demo's illustrative labels of alice, bob and carol into a new project.
    fresh : bool
        Remove an existing demo project (and corpus) first.
    reliability : float
        Share of conversations in the reliability sample.

    Returns
    -------
    Project
    """
    work = Path(work)
    corpus_dir, project_dir = work / "corpus", work / "project"
    if fresh:
        for d in (project_dir, corpus_dir):
            if d.exists():
                shutil.rmtree(d)
    if project_dir.exists():
        return Project.open(project_dir)
    paths = demo_paths()
    if not corpus_dir.exists():
        import_corpus(paths["source"], "openai", out=corpus_dir)
    project = Project.create(
        project_dir, corpus=corpus_dir, codebook=paths["codebook"], coders=list(CODERS),
        per_item=1, reliability=reliability, seed=1,
    )  # fmt: skip
    if labels:
        project.append(pd.read_json(paths["labels"], lines=True, dtype=False))
    return project
