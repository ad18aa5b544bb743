"""The versioned plan: compare-and-swap under real concurrent processes, old projects, checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from annotate.errors import ProjectError, StorageError
from annotate.project import Project, _versions

from .conftest import make_corpus

REPO = Path(__file__).resolve().parents[2]

#: one worker: wait for the start signal, then make its plan changes one after another
WORKER = textwrap.dedent(
    """
    import sys, time, os
    from pathlib import Path
    from annotate.project import Project
    project, go, name, rounds, kind = sys.argv[1:6]
    Path(go + "." + name).write_text("ready")
    while not os.path.exists(go):
        time.sleep(0.001)
    for r in range(int(rounds)):
        p = Project.open(project)
        if kind == "coders":
            p.add_coders([f"{name}r{r}"])
        else:
            p.add_conversations([f"c{int(name[1:]) * 100 + r:03d}"])
    print("ok")
    """
)


def _race(project: Path, tmp: Path, workers: list[tuple[str, str]], rounds: int) -> None:
    """Start one process per (name, kind), let them all change the plan at once."""
    go = tmp / f"go-{time.monotonic_ns()}"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(project), str(go), name, str(rounds), kind],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, kind in workers
    ]
    deadline = time.monotonic() + 120
    while not all(Path(f"{go}.{name}").exists() for name, _ in workers):  # all imported
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.01)
    go.write_text("go")
    for proc in procs:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0 and out.strip() == "ok", err


def _all_versions(project: Path) -> list[_versions.PlanState]:
    n = _versions.latest_version(project)
    assert n is not None
    return [_versions.read_version(project, v) for v in range(1, n + 1)]


def to_legacy(p: Project) -> Path:
    """Turn a project into the layout before plan versions (project.json + assignments)."""
    state = p._state()
    doc = json.loads((p.path / "project.json").read_text())
    doc["format"] = "annotate-project/1"
    doc["plan"] = dict(state.plan)
    for key in ("plan_folder", "note", "sampling"):
        doc.pop(key, None)
    (p.path / "project.json").write_text(json.dumps(doc, indent=2))
    state.assignments.to_parquet(p.path / "assignments.parquet", index=False)
    for f in (p.path / "plan").iterdir():
        f.unlink()
    (p.path / "plan").rmdir()
    return p.path


@pytest.mark.slow
def test_plan_versions_concurrent_processes_lose_no_coder(tmp_path, toy_path) -> None:
    corpus = make_corpus(tmp_path / "c", n_conversations=30, n_turns=2)
    p = Project.create(
        tmp_path / "p", corpus=corpus, codebook=toy_path, coders=["a", "b"], reliability=0.2
    )
    workers = [(f"w{i}", "coders") for i in range(4)]
    rounds = 4
    _race(p.path, tmp_path, workers, rounds)
    q = Project.open(p.path)
    expected = {f"w{i}r{r}" for i in range(4) for r in range(rounds)}
    assert expected <= set(q.coders) and len(q.coders) == 2 + len(expected)
    rel = set(q.assignments.loc[q.assignments["is_reliability"], "conversation_id"])
    assert len(rel) == 6
    for coder in expected:  # every new coder got the whole reliability sample
        assert set(q.queue(coder)) == rel
    versions = _all_versions(p.path)
    assert [v.version for v in versions] == list(range(1, 2 + len(expected)))
    for v in versions:  # every published version is consistent in itself
        assert _versions.problems(v) == []
        assert len(v.assignments) == 24 + 6 * len(v.coders)


@pytest.mark.slow
def test_plan_versions_mixed_changes_and_migration_race(tmp_path, toy_path) -> None:
    corpus = make_corpus(tmp_path / "c", n_conversations=400, n_turns=2)
    p = Project.create(
        tmp_path / "p", corpus=corpus, codebook=toy_path, coders=["a", "b"], reliability=0.1,
        sample=100, seed=2,
    )  # fmt: skip
    before = p.assignments
    to_legacy(p)  # every worker's first change races to migrate the old layout
    q0 = Project.open(p.path)
    assert q0.plan["version"] == 0
    known = set(before["conversation_id"])
    workers = [("w1", "coders"), ("w2", "coders"), ("x3", "conversations"),
               ("x2", "conversations")]  # fmt: skip
    _race(p.path, tmp_path, workers, rounds=3)
    q = Project.open(p.path)
    a = q.assignments
    assert {"w1r0", "w1r1", "w1r2", "w2r0", "w2r1", "w2r2"} <= set(q.coders)
    wanted = {f"c{k * 100 + r:03d}" for k in (2, 3) for r in range(3)} - known
    assert wanted <= set(a["conversation_id"])
    pd.testing.assert_frame_equal(a.iloc[: len(before)].reset_index(drop=True), before)
    assert _versions.problems(q._state()) == []
    assert json.loads((p.path / "project.json").read_text())["format"] == "annotate-project/2"
    assert q.plan["version"] == 12 and q.plan["batches"] == 1 + 6


def test_plan_versions_compare_and_swap_retries(
    tmp_path, corpus_dir, toy_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Another session publishes between our read and our publish: ours loses the name,
    re-reads the winner's version and computes its change again on top of it."""
    p = Project.create(tmp_path / "p", corpus=corpus_dir, codebook=toy_path,
                       coders=["a", "b"], reliability=0.2)  # fmt: skip
    other = Project.open(p.path)
    real = _versions.publish
    calls: list[int] = []

    def racing_publish(project: Path, state: _versions.PlanState) -> None:
        calls.append(state.version)
        if len(calls) == 1:  # the other session wins version 2 just before us
            monkeypatch.setattr(_versions, "publish", real)
            other.add_coders(["c"])
            monkeypatch.setattr(_versions, "publish", racing_publish)
        real(project, state)

    monkeypatch.setattr(_versions, "publish", racing_publish)
    p.add_coders(["d"])
    assert calls == [2, 3]  # lost version 2 (FileExistsError), published version 3
    q = Project.open(p.path)
    assert q.coders == ["a", "b", "c", "d"]
    rel = set(q.assignments.loc[q.assignments["is_reliability"], "conversation_id"])
    assert set(q.queue("c")) == rel and set(q.queue("d")) == rel
    assert [h["what"] for h in q.plan_history] == ["create", "add_coders c", "add_coders d"]


def test_plan_versions_exclusive_publish_never_replaces(tmp_path, corpus_dir, toy_path) -> None:
    p = Project.create(tmp_path / "p", corpus=corpus_dir, codebook=toy_path, coders=["a", "b"],
                       reliability=0.2)  # fmt: skip
    state = p._state()
    data = (p.path / "plan" / "v000001.parquet").read_bytes()
    with pytest.raises(FileExistsError):
        _versions.publish(p.path, state)
    assert (p.path / "plan" / "v000001.parquet").read_bytes() == data


def test_plan_versions_old_layout_is_read_and_migrated(tmp_path, corpus_dir, toy_path) -> None:
    p = Project.create(tmp_path / "p", corpus=corpus_dir, codebook=toy_path,
                       coders=["a", "b"], reliability=0.2, seed=4)  # fmt: skip
    before = p.assignments
    to_legacy(p)
    q = Project.open(p.path)
    assert q.plan["version"] == 0 and q.coders == ["a", "b"]
    pd.testing.assert_frame_equal(q.assignments, before)
    q.add_coders("c")
    assert sorted(os.listdir(p.path / "plan")) == ["v000001.parquet"]
    r = Project.open(p.path)
    assert r.coders == ["a", "b", "c"] and r.plan["version"] == 1
    pd.testing.assert_frame_equal(r.assignments.iloc[: len(before)], before)
    assert r.plan_history[0]["what"] == "add_coders c"


def test_plan_versions_mismatch_is_detected_and_repaired(tmp_path, corpus_dir, toy_path) -> None:
    """What two old add_coders left: a listed coder with an empty queue, and assignments for
    a coder who is not listed."""
    p = Project.create(tmp_path / "p", corpus=corpus_dir, codebook=toy_path,
                       coders=["a", "b"], reliability=0.2)  # fmt: skip
    q = Project.open(p.path)
    q.add_coders(["e"])
    with_e = q.assignments
    path = to_legacy(q)
    doc = json.loads((path / "project.json").read_text())
    doc["plan"]["coders"] = ["a", "b", "d"]  # d's rows were lost, e's name was lost
    (path / "project.json").write_text(json.dumps(doc))
    with pytest.warns(UserWarning, match=r"W320.*coder\(s\) e who are not in the coder list.*"
                      r"coder\(s\) d lack reliability.*p\.repair_plan"):  # fmt: skip
        broken = Project.open(path)
    with pytest.raises(ProjectError, match=r"E322.*repair"):
        broken.add_coders("f")
    done = broken.repair_plan()
    assert done == {"coders_added": ["e"], "reliability_rows_added": 2, "duplicates_removed": 0}
    fixed = Project.open(path)
    assert fixed.coders == ["a", "b", "d", "e"]
    rel = set(with_e.loc[with_e["is_reliability"], "conversation_id"])
    assert set(fixed.queue("d")) == rel and set(fixed.queue("e")) == rel
    fixed.add_coders("f")  # plan changes work again
    assert fixed.repair_plan() == {
        "coders_added": [], "reliability_rows_added": 0, "duplicates_removed": 0
    }  # fmt: skip


def test_plan_versions_damaged_version_is_reported(tmp_path, corpus_dir, toy_path) -> None:
    p = Project.create(tmp_path / "p", corpus=corpus_dir, codebook=toy_path, coders=["a", "b"],
                       reliability=0.2)  # fmt: skip
    (p.path / "plan" / "v000002.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ProjectError, match=r"E320.*v000002\.parquet' is damaged"):
        Project.open(p.path)


@pytest.mark.parametrize(
    "planted",
    ["project.json", "plan", "labels", "labels/parts", "labels/compacted", "codebook.yaml",
     "plan/v000001.parquet"],
)  # fmt: skip
def test_plan_versions_planted_links_are_refused(tmp_path, corpus_dir, toy_path, planted) -> None:
    p = Project.create(tmp_path / "p", corpus=corpus_dir, codebook=toy_path, coders=["a", "b"],
                       reliability=0.2)  # fmt: skip
    target = p.path / planted
    moved = tmp_path / "elsewhere"
    target.rename(moved)
    target.symlink_to(moved)
    with pytest.raises(StorageError, match=r"E003.*symbolic link"):
        Project.open(p.path)


def test_plan_versions_planted_assignments_link_is_refused(tmp_path, corpus_dir, toy_path) -> None:
    p = Project.create(tmp_path / "p", corpus=corpus_dir, codebook=toy_path, coders=["a", "b"],
                       reliability=0.2)  # fmt: skip
    to_legacy(p)
    victim = tmp_path / "victim.parquet"
    (p.path / "assignments.parquet").rename(victim)
    (p.path / "assignments.parquet").symlink_to(victim)
    with pytest.raises(StorageError, match="E003"):
        Project.open(p.path)
