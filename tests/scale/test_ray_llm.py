"""``annotate llm run --engine ray`` on a local Ray against llama.cpp's server on 127.0.0.1 with the
real test model (SmolLM2-135M-Instruct): the same labels as the local engine on the same units
(temperature 0, same seed), the same provenance, and a driver killed with SIGKILL resumes
without coding a unit twice.

A 135M model codes badly: these tests check the mechanics, never label quality.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from annotate.llm import add_llm_coder, read_audit, run_llm_coder
from annotate.project import Project

from .conftest import make_project

pytestmark = pytest.mark.slow

#: every unit of the test corpus (tests/llm/conftest.py): 11 turns with codes, 4 conversations
N_UNITS = 15
#: two of its conversations, with units of every kind (user turns, assistant turns, the
#: conversation): 6 units, so that the two engines' runs take seconds, not a minute
SOME = ["t2", "t4"]


def _add(project, coder_id: str, url: str) -> None:
    add_llm_coder(project, coder_id, backend="openai", base_url=url, model="smollm2",
                  response_format="json_object", n_ctx=2048)  # fmt: skip


def _labels(project, coder: str) -> pd.DataFrame:
    lab = project.labels(annotator=coder)
    lab = lab[~lab["code_id"].str.startswith("_")]
    cols = ["unit", "conversation_id", "turn_index", "code_id", "value"]
    out = lab[cols].astype(object).sort_values(cols[:4], key=lambda s: s.astype(str))
    return out.reset_index(drop=True)


def _unit_keys(events: pd.DataFrame) -> set:
    codes = events[~events["code_id"].str.startswith("_")]
    return set(zip(codes["unit"], codes["conversation_id"], codes["turn_index"].astype(object),
                   strict=True))  # fmt: skip


def test_ray_llm_run_gives_the_local_labels(ray_address, tmp_path, llama_server) -> None:
    project = make_project(tmp_path)
    _add(project, "local", llama_server)
    _add(project, "rayed", llama_server)
    local = run_llm_coder(project, "local", conversations=SOME, workers=2, progress=False)
    # no cache: every unit goes through Ray's HTTP processor to the server
    ray = run_llm_coder(project, "rayed", conversations=SOME, workers=2, use_cache=False,
                        progress=False, engine="ray", engine_options={"batch": 2})  # fmt: skip
    n = 6
    assert (local.units_coded, ray.units_coded) == (n, n)
    assert ray.units_missing == local.units_missing == 0
    assert ray.cache_hits == 0 and ray.requests >= n
    a, b = _labels(project, "local"), _labels(project, "rayed")
    assert len(a) == n and {"asks_help", "ai_move", "warmth"} == set(a["code_id"])
    pd.testing.assert_frame_equal(a, b)  # the same labels, unit by unit
    # provenance: the same prompts went out, the same answers came back, timed and recorded
    mine = {(r["conversation_id"], r["turn_index"], r["attempt"]): r
            for r in read_audit(project.path, "local")}  # fmt: skip
    records = read_audit(project.path, "rayed")
    assert len(records) == ray.requests
    for r in records:
        other = mine[(r["conversation_id"], r["turn_index"], r["attempt"])]
        assert r["prompt_hash"] == other["prompt_hash"] and r["text"] == other["text"]
        assert r["run_id"] == ray.run_id and r["response"]["object"] == "chat.completion"
        assert r["response_model"] == "smollm2" and r["latency_ms"] > 0
        assert r["transport_attempts"] == 1 and r["cached"] is False
    events = project.labels(history=True, annotator="rayed")
    assert set(events["session_id"]) == {ray.run_id}
    assert (events[events["code_id"] == "_status"]["value"] == "done").sum() == 2
    status = project.status()["coders"].set_index("annotator_id").loc["rayed"]
    assert status["kind"] == "llm" and status["done"] == 2
    # a second run finds nothing to do
    again = run_llm_coder(project, "rayed", conversations=SOME, progress=False, engine="ray")
    assert (again.units_already_coded, again.units_coded, again.requests) == (n, 0, 0)


def test_ray_llm_run_resumes_after_sigkill_of_the_driver(ray_address, tmp_path,
                                                         llama_server) -> None:  # fmt: skip
    """The driver (`annotate llm run --engine ray`, a process of its own joined to the
    session's Ray) killed with SIGKILL once some batches are stored, then run again (in this
    process, whose Ray workers are warm): every unit coded exactly once."""
    project = make_project(tmp_path)
    _add(project, "smol", llama_server)
    cmd = [sys.executable, "-m", "annotate", "llm", "run", str(project.path), "--coder", "smol",
           "--engine", "ray", "--address", ray_address, "--batch", "1", "--workers", "1",
           "--rate", "1", "--no-progress"]  # fmt: skip
    # --rate 1: one request a second (Ray's qps), so the kill comes while units are left
    env = os.environ | {"RAY_USAGE_STATS_ENABLED": "0"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    try:
        while True:  # wait until some units are stored, then kill without warning
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
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
    assert (project.path / "llm" / "smol" / "run.lock").exists()  # left by the killed driver
    partial = _unit_keys(Project.open(project.path).labels(annotator="smol"))
    assert 3 <= len(partial) < N_UNITS
    again = run_llm_coder(Project.open(project.path), "smol", conversations="reliability",
                          workers=1, progress=False, engine="ray")  # fmt: skip
    assert again.units_already_coded == len(partial)
    assert again.units_coded == N_UNITS - len(partial)
    p = Project.open(project.path)
    events = p.labels(history=True, annotator="smol")
    codes = events[~events["code_id"].str.startswith("_")]
    assert len(_unit_keys(codes)) == N_UNITS  # every unit coded
    key = ["unit", "conversation_id", "turn_index", "code_id"]
    assert not codes.duplicated(key).any()  # ... and each exactly once
    assert not events.duplicated("event_id").any()
    assert (events[events["code_id"] == "_status"]["value"] == "done").sum() == 4
    # one model answer per unit: a unit answered but not stored came from the cache
    fresh = [r for r in read_audit(p.path, "smol") if not r["cached"] and r["final"]]
    units = [(r["unit"], r["conversation_id"], r["turn_index"]) for r in fresh]
    assert len(units) == len(set(units)) == N_UNITS
    assert not (project.path / "llm" / "smol" / "run.lock").exists()


def test_ray_llm_vllm_transport_needs_a_gpu() -> None:
    """The vllm transport (ray.data.llm's vLLM engines) is documented in docs/scale.md and
    runs only where vLLM and a CUDA GPU are: never on the CI machine."""
    pytest.importorskip("vllm", reason="the vllm transport needs vLLM and a GPU (none here)")
    torch = pytest.importorskip("torch", reason="the vllm transport needs a GPU (none here)")
    if not torch.cuda.is_available():
        pytest.skip("the vllm transport needs a CUDA GPU (none here)")
    pytest.skip("no vllm test is written yet (none could run where this suite was written)")
