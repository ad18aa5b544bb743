"""Benchmark of LLM coder runs (annotate.llm); prints ONE JSON object.

Baselines, measured in the same run with the same model, prompts, schema and order:

* in process: a bare loop of ``Llama.create_chat_completion`` over the prompts that
  ``annotate llm run`` sends (same messages, same JSON schema as ``response_format``, same
  decoding settings), on the same loaded model. Target: ``annotate`` time / bare time <= 1.15.
  What annotate adds: building prompts, the schema check, the audit log (fsync per unit), the
  label append (fsync per unit), the progress bar.
* HTTP: llama.cpp's server (``python -m llama_cpp.server``) on 127.0.0.1; ``--workers 4``
  against a bare client of 4 threads posting the same request bodies. Target: annotate's
  throughput / bare throughput >= 0.9 (the server is the bottleneck; annotate must not be).

The model is SmolLM2-135M-Instruct (the llm-demo extra) with one thread (a second llama.cpp
thread competing with other processes slows it many-fold). The project is the demo project
(default codebook). Each arm codes ``UNITS`` units; the in-process arms alternate and the best
of ``REPEAT`` is kept. The model's prompt cache is reset before every arm.

Run: ``.venv/bin/python bench/bench_llm.py`` (a few minutes).
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from annotate.demo import demo_project
from annotate.llm import (
    LlamaCppBackend,
    OpenAIBackend,
    UnitCoder,
    add_llm_coder,
    load_coder,
    plan_units,
    run_llm_coder,
)
from annotate.llm.audit import ResponseCache
from annotate.llm.models import smollm2_path
from annotate.llm.run import select_conversations

UNITS = int(os.environ.get("BENCH_LLM_UNITS", "24"))
REPEAT = 2


def requests_for(project, coder_id: str, n: int) -> list:
    """The first ``n`` requests ``annotate llm run`` would send, in its order."""
    spec = load_coder(project, coder_id)
    coder = UnitCoder(spec, project.codebook, ResponseCache(project.path, enabled=False), "bench")
    conv_ids = select_conversations(project, coder_id, "reliability")
    units = plan_units(project.turns, conv_ids, coder.builder)[:n]
    texts = {}
    out = []
    for u in units:
        if u.conversation_id not in texts:
            df = project.corpus.conversation(u.conversation_id)
            texts[u.conversation_id] = [
                (int(i), str(r), str(t))
                for i, r, t in zip(df["turn_index"], df["role"], df["text"], strict=True)
            ]
        prompt = coder.builder.build(u, texts[u.conversation_id])
        out.append(coder.request(prompt.messages, u, 0, None))
    return out


def bare_loop(llama, reqs) -> float:
    llama.reset()
    start = time.perf_counter()
    for r in reqs:
        llama.create_chat_completion(
            messages=r.messages,
            response_format={"type": "json_object", "schema": r.schema},
            temperature=r.temperature,
            seed=r.seed,
            max_tokens=r.max_tokens,
        )
    return time.perf_counter() - start


def annotate_run(project, coder_id: str, backend, **kw) -> float:
    if hasattr(backend, "llama"):
        backend.llama.reset()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = run_llm_coder(project, coder_id, limit=UNITS, use_cache=False, progress=False,
                          backend=backend, **kw)  # fmt: skip
    elapsed = time.perf_counter() - start
    assert s.units_coded + s.units_missing == UNITS, s
    return elapsed


def in_process(project, model: Path) -> dict:
    backend = LlamaCppBackend(model, n_ctx=8192, threads=1)
    ids = [f"bench-{i}" for i in range(REPEAT)]
    for cid in ids:
        add_llm_coder(project, cid, backend="llama-cpp", model=str(model), threads=1)
    reqs = requests_for(project, ids[0], UNITS)
    bare, ours = [], []
    for cid in ids:  # alternate, so that a noisy neighbour hits both arms alike
        bare.append(bare_loop(backend.llama, reqs))
        ours.append(annotate_run(project, cid, backend))
    backend.close()
    return {
        "units": UNITS,
        "bare_loop_s": round(min(bare), 3),
        "annotate_s": round(min(ours), 3),
        "ratio": round(min(ours) / min(bare), 3),
        "target": "<= 1.15",
        "runs": {"bare": [round(b, 3) for b in bare], "annotate": [round(o, 3) for o in ours]},
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(model: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host",
           "127.0.0.1", "--port", str(port), "--n_threads", "1", "--n_threads_batch", "1",
           "--n_ctx", "8192", "--model_alias", "smollm2", "--verbose", "False"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("llama.cpp server did not start")
        time.sleep(0.5)


def http(project, model: Path) -> dict:
    proc, url = start_server(model)
    try:
        add_llm_coder(project, "bench-http", backend="openai", base_url=url, model="smollm2",
                      response_format="json_object")  # fmt: skip
        reqs = requests_for(project, "bench-http", UNITS)
        client = OpenAIBackend(url, "smollm2", response_format="json_object", workers=4)
        bodies = [client.body(r) for r in reqs]
        bodies[0] = bodies[0] | {"max_tokens": 1}
        httpx.post(f"{url}/chat/completions", json=bodies[0], timeout=600)  # warm the server

        def post(body: dict) -> None:
            httpx.post(f"{url}/chat/completions", json=body, timeout=600).raise_for_status()

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(post, [client.body(r) for r in reqs]))
        bare = time.perf_counter() - start
        ours = annotate_run(project, "bench-http", client, workers=4)
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "units": UNITS,
        "workers": 4,
        "bare_client_units_per_s": round(UNITS / bare, 3),
        "annotate_units_per_s": round(UNITS / ours, 3),
        "throughput_ratio": round(bare / ours, 3),
        "target": ">= 0.9",
    }


def main() -> None:
    model = smollm2_path()
    with tempfile.TemporaryDirectory() as tmp:
        project = demo_project(Path(tmp) / "demo", labels=False)
        result = {
            "benchmark": "llm",
            "model": model.name,
            "threads": 1,
            "python": platform.python_version(),
            "in_process": in_process(project, model),
            "http": http(project, model),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
