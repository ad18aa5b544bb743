"""LLM coders with a real model (SmolLM2-135M-Instruct, in process): valid labels, determinism,
provenance, resume after SIGKILL, missing answers recorded with their reason.

A 135M model codes badly: these tests check the mechanics, never label quality.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from annotate.llm import add_llm_coder, load_coder, read_audit, run_llm_coder
from annotate.llm.schema import coder_schemas
from annotate.project import Project

from .conftest import N_UNITS, make_project

pytestmark = pytest.mark.slow


def _unit_keys(labels: pd.DataFrame) -> set:
    codes = labels[~labels["code_id"].str.startswith("_")]
    return set(
        zip(
            codes["unit"], codes["conversation_id"], codes["turn_index"].astype(object), strict=True
        )
    )


def test_llm_run_labels_every_unit_with_valid_values(coded) -> None:
    project, summary = coded
    assert summary.units_planned == N_UNITS and summary.units_coded == N_UNITS
    assert summary.units_missing == 0 and summary.requests >= N_UNITS
    labels = project.labels(annotator="smol")
    assert len(_unit_keys(labels)) == N_UNITS
    for row in labels[~labels["code_id"].str.startswith("_")].itertuples():
        project.codebook.code(row.code_id).check_value(row.value)  # raises if invalid
    # every code of each unit's role, and nothing else
    turns = project.turns.set_index(["conversation_id", "turn_index"])["role"]
    for (unit, cid, ti), grp in labels.groupby(
        ["unit", "conversation_id", "turn_index"], dropna=False
    ):
        want = (
            {c.id for c in project.codebook.codes_for("turn", turns[(cid, ti)])}
            if unit == "turn"
            else {"warmth", "_status"}
        )
        assert set(grp["code_id"]) == want
    # every conversation is done, so the LLM coder's status says so
    status = project.status()["coders"].set_index("annotator_id").loc["smol"]
    assert status["kind"] == "llm" and status["done"] == 4 == status["reliability_done"]


def test_llm_run_provenance_in_record_events_and_audit(coded, model_path) -> None:
    project, summary = coded
    spec = load_coder(project, "smol")
    assert spec.model_sha256 == hashlib.sha256(Path(model_path).read_bytes()).hexdigest()
    assert spec.schemas == coder_schemas(project.codebook)
    events = project.labels(history=True, annotator="smol")
    assert set(events["session_id"]) == {summary.run_id}  # a label names its run
    assert set(events["context"]) == {"full"}
    records = read_audit(project.path, "smol")
    assert {r["run_id"] for r in records} == {summary.run_id}
    assert len(records) == summary.requests
    for r in records:
        assert (
            r["model_id"] == f"sha256:{spec.model_sha256}"
            and r["template_hash"] == spec.prompt_hash
        )
        assert r["seed"] == spec.seed + r["attempt"] and r["temperature"] == spec.temperature
        assert r["prompt_tokens"] > 0 and r["completion_tokens"] > 0 and r["latency_ms"] > 0
        assert r["messages"][0]["sha256"] and r["messages"][1]["role"] == "user"
        assert r["valid"] is True and r["cached"] is False
    # the system messages are logged once each, by hash, in the same file
    from annotate.llm.audit import audit_files, read_log

    systems = [r for r in read_log(audit_files(project.path, "smol")[0]) if r["type"] == "system"]
    assert {hashlib.sha256(s["content"].encode()).hexdigest() for s in systems} == {
        r["messages"][0]["sha256"] for r in records
    }
    # the elapsed time of a unit is counted once
    per_unit = (
        events[events["elapsed_ms"].notna()]
        .groupby(["unit", "conversation_id", "turn_index"], dropna=False)
        .size()
    )
    assert (per_unit == 1).all()


def test_llm_rerun_codes_nothing_twice_and_cache_answers(coded, model_path) -> None:
    project, _ = coded
    again = run_llm_coder(project, "smol", conversations="all", progress=False)
    assert again.units_coded == 0 and again.requests == 0 and again.units_already_coded == N_UNITS
    # a second coder with the same model and settings gets every answer from the cache
    add_llm_coder(
        project, "smol-copy", backend="llama-cpp", model=str(model_path), threads=1, n_ctx=2048
    )
    copy = run_llm_coder(project, "smol-copy", progress=False, limit=5)
    assert copy.units_coded == 5 and copy.requests == 0 and copy.cache_hits == 5
    a = project.labels(annotator="smol").set_index(["conversation_id", "turn_index", "code_id"])
    b = project.labels(annotator="smol-copy").set_index(
        ["conversation_id", "turn_index", "code_id"]
    )
    b = b[~b.index.get_level_values("code_id").str.startswith("_")]
    assert (a.loc[b.index, "value"] == b["value"]).all()


def test_llm_temperature_zero_is_deterministic(coded, model_path) -> None:
    """The same units coded again by a freshly loaded model, without the cache: same answers,
    byte for byte."""
    project, _ = coded
    add_llm_coder(
        project, "smol-again", backend="llama-cpp", model=str(model_path), threads=1, n_ctx=2048
    )
    s = run_llm_coder(project, "smol-again", use_cache=False, limit=4, progress=False)
    assert s.requests == 4 and s.cache_hits == 0
    first = {
        (r["conversation_id"], r["turn_index"]): r["text"] for r in read_audit(project.path, "smol")
    }
    second = read_audit(project.path, "smol-again")
    assert len(second) == 4
    for r in second:
        assert r["text"] == first[(r["conversation_id"], r["turn_index"])]


def test_llm_run_resumes_after_sigkill_each_unit_once(tmp_path, model_path) -> None:
    """``annotate llm run`` killed with SIGKILL mid-run, then run again: every unit coded,
    each exactly once (one set of label events, one model answer)."""
    project = make_project(tmp_path)
    add_llm_coder(
        project, "smol", backend="llama-cpp", model=str(model_path), threads=1, n_ctx=2048
    )
    cmd = [
        sys.executable,
        "-m",
        "annotate",
        "llm",
        "run",
        str(project.path),
        "--coder",
        "smol",
        "--no-progress",
    ]
    env = os.environ | {"OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    try:
        while True:  # wait until some units are stored, then kill without warning
            assert proc.poll() is None, proc.stderr.read().decode()
            done = len(_unit_keys(Project.open(project.path).labels(annotator="smol")))
            if done >= 3:
                break
            assert time.monotonic() < deadline, "no unit coded within 300 s"
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (project.path / "llm" / "smol" / "run.lock").exists()  # left by the killed run
    partial = _unit_keys(Project.open(project.path).labels(annotator="smol"))
    assert 3 <= len(partial) < N_UNITS
    res = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    p = Project.open(project.path)
    events = p.labels(history=True, annotator="smol")
    codes = events[~events["code_id"].str.startswith("_")]
    assert len(_unit_keys(codes)) == N_UNITS  # every unit coded
    key = ["unit", "conversation_id", "turn_index", "code_id"]
    assert not codes.duplicated(key).any()  # ... and each exactly once
    assert (events[events["code_id"] == "_status"]["value"] == "done").sum() == 4
    # one model answer per unit: the second run asked only for units without labels (a unit
    # answered but not stored before the kill came from the cache)
    fresh = [r for r in read_audit(p.path, "smol") if not r["cached"] and r["final"]]
    units = [(r["unit"], r["conversation_id"], r["turn_index"]) for r in fresh]
    assert len(units) == len(set(units)) == N_UNITS
    assert not (project.path / "llm" / "smol" / "run.lock").exists()


def test_llm_invalid_answers_are_missing_with_reason_then_retried(tmp_path, model_path) -> None:
    """Answers cut off by a tiny max_tokens are invalid: after the attempts the unit is recorded
    as missing (a _flag with the reason, no value); --retry-missing asks again with more room."""
    project = make_project(tmp_path)
    add_llm_coder(
        project,
        "tiny",
        backend="llama-cpp",
        model=str(model_path),
        threads=1,
        n_ctx=2048,
        max_tokens=3,
        attempts=2,
    )
    with pytest.warns(UserWarning, match="W702"):
        s = run_llm_coder(project, "tiny", limit=1, progress=False)
    assert (s.units_coded, s.units_missing, s.requests) == (0, 1, 2)
    labels = project.labels(annotator="tiny")
    assert list(labels["code_id"]) == ["_flag"]
    assert "no valid answer in 2 attempt(s)" in labels["note"].iloc[0]
    assert "max_tokens" in labels["note"].iloc[0]
    records = read_audit(project.path, "tiny")
    assert [r["max_tokens"] for r in records] == [3, 6] and not any(r["valid"] for r in records)
    assert [r["temperature"] for r in records] == [0.0, 0.0]  # cut off: more room, still greedy
    # a retry continues from the last attempt: attempt 2, twice the room again
    retry = run_llm_coder(project, "tiny", limit=1, retry_missing=True, progress=False)
    assert (retry.units_coded, retry.units_missing) == (1, 0)  # 12 tokens hold {"asks_help":"0"}
    records = read_audit(project.path, "tiny")
    assert [(r["attempt"], r["max_tokens"]) for r in records] == [(0, 3), (1, 6), (2, 12)]
    assert len({(r["conversation_id"], r["turn_index"]) for r in records}) == 1  # the same unit
    labels = project.labels(annotator="tiny")
    assert "_flag" not in set(labels["code_id"]) and set(labels["code_id"]) == {"asks_help"}


def test_llm_coder_of_some_codes_never_marks_done(tmp_path, model_path) -> None:
    """A coder of one code labels only that code and writes no `_status = done` (which would
    make every binary code it does not code implicitly absent)."""
    project = make_project(tmp_path)
    add_llm_coder(
        project,
        "warm",
        backend="llama-cpp",
        model=str(model_path),
        threads=1,
        n_ctx=2048,
        codes=["warmth"],
    )
    s = run_llm_coder(project, "warm", conversations=["t2", "t4"], progress=False)
    assert (s.units_planned, s.units_coded, s.conversations_done) == (2, 2, 0)
    labels = project.labels(annotator="warm")
    assert set(labels["code_id"]) == {"warmth"} and set(labels["conversation_id"]) == {"t2", "t4"}
    units = project.unit_labels()
    assert set(units[units["annotator_id"] == "warm"]["code_id"]) == {"warmth"}


def test_llm_cache_from_other_projects_answers_identical_requests(
    coded, model_path, tmp_path, monkeypatch
) -> None:
    """A project made again (as a notebook does on each run) gets the answers of the first one
    from its audit logs (``cache_from``, or ANNOTATE_LLM_CACHE_FROM): no model call, the same
    labels, and the audit log says where each answer came from."""
    from annotate.errors import LLMError

    source, _ = coded
    source_runs = {r["run_id"] for r in read_audit(source.path, "smol")}
    again = make_project(tmp_path / "again")
    add_llm_coder(again, "smol", backend="llama-cpp", model=str(model_path), threads=1, n_ctx=2048)
    # a folder that holds the source project (not the project itself) is searched too
    s = run_llm_coder(again, "smol", progress=False, cache_from=source.path.parent)
    assert s.units_coded == N_UNITS and s.requests == 0 and s.cache_hits == N_UNITS
    audit = read_audit(again.path, "smol")
    assert audit and all(r["cached"] and r["cached_from"] in source_runs for r in audit)
    key = ["conversation_id", "turn_index", "code_id"]
    a = source.labels(annotator="smol").set_index(key)["value"].sort_index()
    b = again.labels(annotator="smol").set_index(key)["value"].sort_index()
    assert a.index.equals(b.index) and (a == b).all()

    # the environment variable does the same for a run that does not name cache_from
    add_llm_coder(
        again, "smol-env", backend="llama-cpp", model=str(model_path), threads=1, n_ctx=2048
    )
    monkeypatch.setenv("ANNOTATE_LLM_CACHE_FROM", f"{tmp_path / 'nowhere'}")
    with pytest.raises(LLMError, match=r"E716.*nowhere.*ANNOTATE_LLM_CACHE_FROM"):
        run_llm_coder(again, "smol-env", progress=False, limit=2)
    assert again.labels(annotator="smol-env").empty  # nothing was run
    monkeypatch.setenv("ANNOTATE_LLM_CACHE_FROM", os.pathsep.join([str(source.path), ""]))
    s = run_llm_coder(again, "smol-env", progress=False, limit=2)
    assert s.units_coded == 2 and s.requests == 0 and s.cache_hits == 2
    # without the cache, nothing of it is read: the model is asked
    s = run_llm_coder(again, "smol-env", progress=False, limit=1, use_cache=False)
    assert s.units_coded == 1 and s.requests == 1 and s.cache_hits == 0
