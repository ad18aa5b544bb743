"""Unit labels and describe at scale: ``Project.unit_labels(engine="duckdb")`` is the in-memory
table (rows, dtypes, order), also after a codebook migration (versions, codes not coded), and
``describe`` on it gives the same tables; the CLI's two engines print the same document."""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import annotate
from annotate.analysis import describe
from annotate.cli import main
from annotate.errors import ProjectError

REPO = Path(__file__).resolve().parents[2]
PROJECT_TESTS = REPO / "tests" / "project"
sys.path.insert(0, str(PROJECT_TESTS))
from migrate_helpers import TOY, ev, write_toy_v2  # noqa: E402


def _make_corpus():
    spec = importlib.util.spec_from_file_location("project_conftest", PROJECT_TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_corpus


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("scale_describe")
    annotate.import_corpus(str(REPO / "corpora/demo/demo.jsonl"), "openai", out=str(work / "c"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # W321: no reliability sample drawn
        project = annotate.Project.create(
            work / "p", corpus=work / "c", codebook=REPO / "codebooks/sdt-socioaffective.yaml",
            coders=["alice", "bob", "carol"],
        )  # fmt: skip
    project.append(pd.read_json(REPO / "corpora/demo/labels/events.jsonl", lines=True))
    return work / "p"


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> annotate.Project:
    """The toy project of the migration tests, migrated to toy 2.0.0 (codes added uncoded,
    renamed, recoded), with a conversation finished again under 2.0.0."""
    work = tmp_path_factory.mktemp("scale_migrated")
    corpus = _make_corpus()(work / "corpus")
    p = annotate.Project.create(work / "p", corpus=corpus, codebook=TOY, coders=["ann", "bob"],
                                reliability=1.0, seed=3)  # fmt: skip
    events = []
    for coder in ("ann", "bob"):
        events += [
            ev(coder, "c000", 1, "ai_pressure", "1"),
            ev(coder, "c000", 0, "user_seeks_support", "1"),
            ev(coder, "c000", 1, "ai_move", "direct"),
            ev(coder, "c000", None, "conv_human_bonds", "0"),
            ev(coder, "c001", 1, "ai_pressure", "1" if coder == "ann" else "0"),
            ev(coder, "c001", None, "conv_human_bonds", "1"),
            ev(coder, "c002", 3, "ai_empathy", "1"),
        ]
        events += [ev(coder, c, None, "_status", "done") for c in ("c000", "c001", "c002")]
    p.append(events)
    cb, mp = write_toy_v2(work / "v2")
    p.migrate(cb, mp)
    p.append([ev("ann", "c001", None, "_status", "done"), ev("bob", "c002", 3, "ai_mistake", "1")])
    return p


def test_unit_labels_duckdb_equals_memory(demo_dir) -> None:
    p = annotate.Project.open(demo_dir)
    pd.testing.assert_frame_equal(p.unit_labels(engine="duckdb"), p.unit_labels())
    pd.testing.assert_frame_equal(
        p.unit_labels(["carol"], engine="duckdb"), p.unit_labels(["carol"])
    )
    assert len(p.unit_labels()) > 20_000  # implicit absences of the finished conversations


def test_unit_labels_duckdb_after_a_migration(migrated) -> None:
    p = migrated
    for version in (None, "1.0.0", "2.0.0"):
        memory = p.unit_labels(version=version)
        pd.testing.assert_frame_equal(p.unit_labels(version=version, engine="duckdb"), memory)
    units = p.unit_labels(engine="duckdb")
    bob = units[(units["annotator_id"] == "bob") & (units["conversation_id"] == "c001")]
    assert "ai_mistake" not in set(bob["code_id"])  # added uncoded: no implicit absence


def test_unit_labels_engine_is_checked(demo_dir) -> None:
    with pytest.raises(ProjectError, match=r"\[E404\]"):
        annotate.Project.open(demo_dir).unit_labels(engine="spark")


def test_unit_labels_duckdb_in_a_blind_coder_session(migrated) -> None:
    p = annotate.Project.open(migrated.path, coder="ann")
    if not p.blind:
        pytest.skip("the project is not blind")
    pd.testing.assert_frame_equal(p.unit_labels(engine="duckdb"), p.unit_labels())
    with pytest.raises(ProjectError, match=r"\[E315\]"):
        p.unit_labels(["bob"], engine="duckdb")


def test_describe_on_duckdb_unit_labels_gives_the_same_tables(demo_dir) -> None:
    p = annotate.Project.open(demo_dir)
    kw = {"annotator": "bob", "bootstrap": 50, "permutations": 20, "seed": 4, "plots": False}
    memory = describe(p.unit_labels(["bob"]), p.corpus, p.codebook, **kw)
    scaled = describe(p.unit_labels(["bob"], engine="duckdb"), p.corpus, p.codebook, **kw)
    assert memory.tables.keys() == scaled.tables.keys()
    for name, table in memory.tables.items():
        pd.testing.assert_frame_equal(scaled.tables[name], table, check_exact=True, obj=name)
    assert len(memory.tables["prevalence"]) > 20


def test_cli_describe_engines_print_the_same_document(demo_dir) -> None:
    runner = CliRunner()
    args = ["describe", str(demo_dir), "--annotator", "alice", "--bootstrap", "30",
            "--permutations", "10", "--json"]  # fmt: skip
    memory = runner.invoke(main, [*args, "--engine", "memory"])
    scaled = runner.invoke(main, [*args, "--engine", "duckdb"])
    assert memory.exit_code == 0 and scaled.exit_code == 0, scaled.output
    assert json.loads(scaled.output) == json.loads(memory.output)
    assert json.loads(memory.output)["tables"]["prevalence"]


def test_unit_labels_duckdb_without_finished_conversations(tmp_path) -> None:
    """No conversation marked done: explicit labels only (DuckDB folds the files once)."""
    corpus = _make_corpus()(tmp_path / "corpus")
    p = annotate.Project.create(tmp_path / "p", corpus=corpus, codebook=TOY, coders=["ann", "bob"],
                                reliability=1.0, seed=3)  # fmt: skip
    events = [
        ev(c, f"c00{i}", 1, "ai_empathy", str(i % 2)) for c in ("ann", "bob") for i in range(4)
    ]
    events += [ev("ann", "c000", None, "conv_warmth", "3"), ev("bob", "c000", 0, "_memo", "hm")]
    p.append(events)
    memory = p.unit_labels()
    assert len(memory) == 9 and "_memo" not in set(memory["code_id"])
    pd.testing.assert_frame_equal(p.unit_labels(engine="duckdb"), memory)
