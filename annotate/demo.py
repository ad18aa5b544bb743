"""The demo project: the team's demo corpus, the default codebook, and (optionally) the demo's
illustrative pre-coded labels of three coders. Used by the notebooks so that each stays short.

The demo corpus and its labels were written by the annotate team for demonstrations and tests
(see corpora/demo/README.md and corpora/demo/labels/README.md); they are not real user data and
not a real reliability study.

The coders first coded under codebook 1.0.0 (``events-1.0.0.jsonl``); the project then moved to
2.0.0 with the shipped migration map and the coders recoded what it queued
(``recode-2.0.0.jsonl``); ``events.jsonl`` holds their labels under 2.0.0. Codebook 2.1.0 carries
every label as it is and lets coders mark evidence spans on seven codes; the coders marked the
words behind their labels of those codes (``evidence-2.1.0.jsonl``). ``demo_project(work)``
starts from 2.1.0 with their labels and evidence; ``version="2.0.0"`` starts from 2.0.0 (the
labels without evidence), ``version="1.0.0"`` from 1.0.0, and :func:`migrate_demo` takes such a
project through the migrations and the coders' recoding and evidence.
:func:`demo_enriched_project` is the demo with a reliability sample enriched for the rare codes
(on 2.0.0; ``enriched-2.0.0.jsonl``: the labels of the coders who had not coded its
conversations).
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from annotate.codebook import default_codebook_path, migration_map_path
from annotate.errors import Errors, ProjectError
from annotate.importers import import_corpus
from annotate.project import Project
from annotate.types import FilePath

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "corpora" / "demo"
CODERS = ("alice", "bob", "carol")
#: the codebook versions the demo's labels exist for, oldest first (the last is the default
#: codebook's, the one :func:`demo_project` starts from by default)
VERSIONS = ("1.0.0", "2.0.0", "2.1.0")
CURRENT = VERSIONS[-1]
#: the rare codes of the enriched demo's reliability sample, and its design
RARE_CODES = ("ai_control", "ai_dismissal", "ai_competence_thwart", "ai_retention_tactic")
ENRICH_N, ENRICH_SHARE, ENRICH_PRESCORE = 20, 0.5, "cues"


def demo_paths(version: str = CURRENT) -> dict[str, Path]:
    """Where the demo's files are (the corpus source, the labels, the codebook of ``version``,
    the recoding after the migration to 2.0.0, the enriched sample's labels, the coders' evidence
    spans under 2.1.0, the migration maps from 1.0.0 to 2.0.0 (``map``) and from 2.0.0 to 2.1.0
    (``map_evidence``), and the LLM coder's replicate run and its prompt-sensitivity table)."""
    if version not in VERSIONS:
        raise ProjectError(Errors.E340.format(version=version, held=", ".join(VERSIONS)))
    labels = DEMO / "labels"
    paths = {
        "source": DEMO / "demo.jsonl",
        "labels": labels / ("events-1.0.0.jsonl" if version == "1.0.0" else "events.jsonl"),
        "recode": labels / "recode-2.0.0.jsonl",
        "enriched": labels / "enriched-2.0.0.jsonl",
        "evidence": labels / "evidence-2.1.0.jsonl",
        "codebook": Path(default_codebook_path(None if version == CURRENT else version)),
        "map": Path(migration_map_path("1.0.0", "2.0.0")),
        "map_evidence": Path(migration_map_path("2.0.0", "2.1.0")),
        # the LLM coder's replicate run and its prompt-sensitivity table (llm/make_replicates.py)
        "paraphrase": DEMO / "llm" / "paraphrase.txt",
        "replicates": DEMO / "llm" / "replicates.jsonl",
        "stability": DEMO / "llm" / "stability.csv",
    }
    return paths


def _need(paths: dict[str, Path], *names: str) -> dict[str, Path]:
    """``paths``, after checking that the files named exist (E399 otherwise)."""
    for name in names:
        if not paths[name].exists():
            raise ProjectError(Errors.E399.format(what=name, path=paths[name]))
    return paths


def demo_project(
    work: FilePath,
    *,
    labels: bool = True,
    fresh: bool = False,
    reliability: float = 0.2,
    version: str = CURRENT,
) -> Project:
    """Create (or open) the demo project under ``work``.

    Parameters
    ----------
    work : path
        A working folder; the corpus goes to ``work/corpus``, the project to ``work/project``.
    labels : bool
        Load the demo's illustrative labels of alice, bob and carol into a new project (on
        2.1.0 with their evidence spans).
    fresh : bool
        Remove an existing demo project (and corpus) first.
    reliability : float
        Share of conversations in the reliability sample.
    version : {"2.1.0", "2.0.0", "1.0.0"}
        The codebook version to start from: 2.1.0 (the default codebook) with the coders'
        labels and evidence spans, 2.0.0 with their labels (no evidence: 2.0.0 takes none), or
        1.0.0 with their labels under 1.0.0 (then :func:`migrate_demo`).

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
    wanted = []
    if labels:
        wanted = ["labels", "evidence"] if version == CURRENT else ["labels"]
    paths = _need(demo_paths(version), "source", "codebook", *wanted)
    if not corpus_dir.exists():
        import_corpus(paths["source"], "openai", out=corpus_dir)
    project = Project.create(
        project_dir, corpus=corpus_dir, codebook=paths["codebook"], coders=list(CODERS),
        per_item=1, reliability=reliability, seed=1,
    )  # fmt: skip
    if labels:
        project.append(pd.read_json(paths["labels"], lines=True, dtype=False))
        if version == CURRENT:
            project.append(demo_evidence())
    return project


def demo_evidence() -> pd.DataFrame:
    """The coders' evidence spans under 2.1.0 (``evidence-2.1.0.jsonl``): label events that set
    a label's value again with the words that justify it."""
    path = _need(demo_paths(), "evidence")["evidence"]
    return pd.read_json(path, lines=True, dtype=False)


def migrate_demo(project: Project, *, recode: bool = True, to: str = "2.0.0") -> dict[str, Any]:
    """Move a demo project made with ``version="1.0.0"`` (or ``"2.0.0"``) on to ``to`` with the
    shipped maps: to 2.0.0, then (``recode``) append the coders' recoding of what that
    migration queued; to 2.1.0, then (``recode``) append the coders' evidence spans. Returns
    what the last migration did."""
    if to not in VERSIONS[1:]:
        raise ProjectError(Errors.E340.format(version=to, held=", ".join(VERSIONS[1:])))
    summary: dict[str, Any] = {}
    if str(project.codebook.version) == "1.0.0":
        paths = _need(demo_paths("2.0.0"), "codebook", "map", *(("recode",) if recode else ()))
        summary = project.migrate(paths["codebook"], paths["map"])
        if recode:
            project.append(pd.read_json(paths["recode"], lines=True, dtype=False))
    if to == "2.1.0" and str(project.codebook.version) == "2.0.0":
        paths = _need(demo_paths(), "codebook", "map_evidence")
        summary = project.migrate(paths["codebook"], paths["map_evidence"])
        if recode:
            project.append(demo_evidence())
    return summary


def enriched_design(work: FilePath) -> Project:
    """The enriched demo's project without labels: the demo corpus on 2.0.0, every conversation
    coded once, and a reliability sample of 20 conversations drawn by
    :meth:`Project.enrich_reliability` for :data:`RARE_CODES` (pre-score: their cue phrases;
    half of the sample among the conversations it flags)."""
    work = Path(work)
    paths = _need(demo_paths("2.0.0"), "source", "codebook")
    if not (work / "corpus").exists():
        import_corpus(paths["source"], "openai", out=work / "corpus")
    with warnings.catch_warnings():  # W321 (no reliability sample yet): the enrichment draws it
        warnings.simplefilter("ignore")
        project = Project.create(work / "project", corpus=work / "corpus",
                                 codebook=paths["codebook"], coders=list(CODERS), per_item=1,
                                 reliability=0.0, seed=1)  # fmt: skip
    project.enrich_reliability(
        ENRICH_N, codes=list(RARE_CODES), prescore=ENRICH_PRESCORE, share=ENRICH_SHARE
    )
    return project


def demo_enriched_project(work: FilePath, *, fresh: bool = False) -> Project:
    """The demo with an enriched reliability sample for the rare codes (see
    :func:`enriched_design`), with the coders' labels: outside the sample each conversation
    keeps one coder's labels (the first of alice, bob, carol who coded it); in the sample every
    coder's, from ``events.jsonl`` and, for the coders who had not coded it,
    ``enriched-2.0.0.jsonl``. Analyse it with :func:`annotate.agreement.design_report` and
    :func:`annotate.agreement.plan_sample`."""
    work = Path(work)
    if fresh and work.exists():
        for d in (work / "project", work / "corpus"):
            if d.exists():
                shutil.rmtree(d)
    if (work / "project").exists():
        return Project.open(work / "project")
    paths = _need(demo_paths("2.0.0"), "labels", "enriched")
    project = enriched_design(work)
    a = project.assignments
    sample = set(a.loc[a["is_reliability"], "conversation_id"])
    events = pd.read_json(paths["labels"], lines=True, dtype=False)
    first = events.groupby("conversation_id")["annotator_id"].agg(
        lambda s: min(s, key=CODERS.index)
    )
    keep = events["conversation_id"].isin(sample) | (
        events["annotator_id"] == events["conversation_id"].map(first)
    )
    project.append(events[keep.to_numpy()])
    project.append(pd.read_json(paths["enriched"], lines=True, dtype=False))
    return project
