"""Benchmark of the Ray engines (the ``scale`` extra, docs/scale.md); prints ONE JSON object.

Baselines, measured in the same run on the same data:

* **masking** (``annotate corpus mask``): ``mask_corpus(engine="ray")`` (Ray Data's
  ``map_batches`` over the row groups, writing the same corpus) against the local engine (one
  process), at several corpus sizes (``BENCH_SCALE_SIZES``, turns), both with the regular
  expressions only and with spaCy (``nlp.pipe``; no trained model is installed here, so the
  pipeline is blank English with an entity ruler as its ``ner``: tokenisation and matching are
  spaCy's real cost, a trained NER's is higher). The ratio is ray / local time (> 1: Ray is
  slower). The local Ray is started once before the timings (its start is reported apart).
* **LLM coding**: the LLM tests' four conversations (tests/llm/conftest.py, a three-code
  codebook: short prompts, so Ray's share of the time is as large as it gets) copied
  ``BENCH_SCALE_COPIES`` times (8: 120 units), coded by the local engine with ``--workers 2``,
  by ``--engine ray`` (ray.data.llm's HTTP processor, 2 requests in flight) and by the local
  engine again, no cache, against llama.cpp's server on 127.0.0.1 with SmolLM2-135M (one
  thread). Target: Ray's throughput / local throughput (the mean of the two local runs) >= 0.8
  in the steady state: the server is the bottleneck; Ray must not be. Ray's start (its fixed
  cost per job) is reported apart, with the throughput with and without it. The same against
  a fake server that sleeps per request and uses no CPU (``BENCH_SCALE_FAKE_COPIES`` x 15
  units), so that Ray's own costs show without a model competing for the two cores: its
  first Ray job (cold) and a second (warm).

The synthetic turns are generated here (a vocabulary of pseudo-words, ~5% with an e-mail, URL,
phone or @handle, a few with two person names). Run: ``.venv/bin/python bench/bench_scale.py``
(about 15 minutes on 2 cores; ``BENCH_SCALE_PARTS=llm``: the LLM part only).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

import spacy

import annotate
from annotate.nlp import mask_corpus

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.llm.conftest
from bench_llm import start_server

SIZES = [int(x) for x in os.environ.get("BENCH_SCALE_SIZES", "10000,100000").split(",")]
SPACY_SIZE = int(os.environ.get("BENCH_SCALE_SPACY", "10000"))
COPIES = int(os.environ.get("BENCH_SCALE_COPIES", "8"))  # x 15 units (llama.cpp)
FAKE_COPIES = int(os.environ.get("BENCH_SCALE_FAKE_COPIES", "20"))  # x 15 units (fake server)
FAKE_DELAY = float(os.environ.get("BENCH_SCALE_FAKE_DELAY", "0.25"))  # s per request
WORKERS = 2
BATCH = int(os.environ.get("BENCH_SCALE_BATCH", "16"))  # --batch of the Ray arm
PARTS = os.environ.get("BENCH_SCALE_PARTS", "masking,llm").split(",")
NAMES = ["Maria Garcia", "John Smith", "Wei Chen", "Amina Diallo"]


def _turn(rng: random.Random, vocab: list[str]) -> str:
    words = [rng.choice(vocab) for _ in range(rng.randint(5, 60))]
    r = rng.random()
    if r < 0.0125:
        words.insert(rng.randrange(len(words)), f"{rng.choice(vocab)}@example.org")
    elif r < 0.025:
        words.insert(rng.randrange(len(words)), f"https://example.com/{rng.choice(vocab)}")
    elif r < 0.0375:
        words.insert(rng.randrange(len(words)), f"+44 20 7946 {rng.randint(1000, 9999)}")
    elif r < 0.05:
        words.insert(rng.randrange(len(words)), f"@{rng.choice(vocab)}")
    elif r < 0.07:
        words[0:0] = [rng.choice(NAMES), "met", rng.choice(NAMES)]
    return " ".join(words).capitalize() + "."


def make_corpus(folder: Path, n_turns: int, seed: int = 0, tag: str = "") -> annotate.Corpus:
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("etaoinshrdlcumwfgyp") for _ in range(rng.randint(2, 9)))
             for _ in range(5000)]  # fmt: skip
    src = folder / f"src-{n_turns}{tag}.jsonl"
    with src.open("w", encoding="utf-8") as f:
        for i in range(n_turns // 8):
            msgs = [{"role": "user" if k % 2 == 0 else "assistant",
                     "content": _turn(rng, vocab)} for k in range(8)]  # fmt: skip
            f.write(json.dumps({"id": f"c{i:07d}", "messages": msgs}) + "\n")
    return annotate.import_corpus(src, "openai", out=folder / f"corpus-{n_turns}{tag}")


def name_pipeline() -> spacy.Language:
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler", name="ner")
    ruler.add_patterns([{"label": "PERSON", "pattern": p} for p in NAMES])
    return nlp


def _timed(fn) -> float:
    start = time.perf_counter()
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        fn()
    return time.perf_counter() - start


def _same_corpus(a: Path, b: Path) -> dict:
    import pyarrow.parquet as pq

    ta, tb = pq.ParquetFile(a / "turns.parquet"), pq.ParquetFile(b / "turns.parquet")

    def groups(f):
        return [f.metadata.row_group(i).num_rows for i in range(f.metadata.num_row_groups)]

    return {"same_turns": ta.read().equals(tb.read()), "same_row_groups": groups(ta) == groups(tb)}


def masking(work: Path) -> dict:
    rows = []
    for n in SIZES:
        corpus = make_corpus(work, n)
        local = _timed(lambda c=corpus, n=n: mask_corpus(c, work / f"l{n}", names=False,
                                                         progress=False))  # fmt: skip
        ray = _timed(lambda c=corpus, n=n: mask_corpus(c, work / f"r{n}", names=False,
                                                       engine="ray", progress=False))  # fmt: skip
        same = _same_corpus(work / f"l{n}", work / f"r{n}")
        rows.append({"turns": n, "method": "regex", "local_s": round(local, 2),
                     "ray_s": round(ray, 2), "ratio_ray_over_local": round(ray / local, 2),
                     **same})  # fmt: skip
    corpus = make_corpus(work, SPACY_SIZE, tag="-spacy")
    nlp = name_pipeline()
    local = _timed(lambda: mask_corpus(corpus, work / "ls", nlp=nlp, progress=False))
    ray = _timed(lambda: mask_corpus(corpus, work / "rs", nlp=nlp, engine="ray", progress=False))
    rows.append({"turns": SPACY_SIZE, "method": "regex + spaCy nlp.pipe (entity ruler as ner)",
                 "local_s": round(local, 2), "ray_s": round(ray, 2),
                 "ratio_ray_over_local": round(ray / local, 2)})  # fmt: skip
    return {"runs": rows}


def _project(folder: Path, copies: int):
    """The LLM tests' four conversations (tests/llm/conftest.py) copied ``copies`` times, with
    their three-code codebook: short prompts, so Ray's share of the time is as large as it
    gets."""
    from annotate.project import Project
    from tests.llm.conftest import CONVERSATIONS, TINY_CODEBOOK

    folder.mkdir(parents=True)
    lines = []
    for k in range(copies):
        for cid, texts in CONVERSATIONS:
            msgs = [{"role": "user" if i % 2 == 0 else "assistant", "content": t}
                    for i, t in enumerate(texts)]  # fmt: skip
            lines.append(json.dumps({"id": f"{cid}-{k}", "messages": msgs}))
    (folder / "src.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "tiny.yaml").write_text(TINY_CODEBOOK, encoding="utf-8")
    annotate.import_corpus(folder / "src.jsonl", "openai", out=folder / "corpus")
    return Project.create(folder / "project", corpus=folder / "corpus",
                          codebook=folder / "tiny.yaml", coders=["alice", "bob"], reliability=1.0,
                          seed=3)  # fmt: skip


# --- a fake OpenAI-compatible server (no CPU): Ray's own costs, with the cores not shared ------


def _fill(schema: dict):
    """A valid answer to a JSON schema (the first value of each enum)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: _fill(v) for k, v in props.items() if k in schema.get("required", props)}
    return {"array": [], "boolean": True, "integer": 0, "number": 0}.get(kind, "x")


def serve_fake(port: int, delay: float) -> None:
    """Answer each chat completion after ``delay`` seconds of sleep, one request at a time (as
    llama.cpp's Python server does), with a valid answer to the request's schema. GET /stats
    gives (arrived, started, answered) per request and the most requests in flight."""
    import asyncio

    from aiohttp import web

    log: list[tuple[float, float, float]] = []
    state = {"inflight": 0, "max": 0}

    async def main() -> None:
        one = asyncio.Lock()

        async def chat(request):
            body = await request.json()
            fmt = body.get("response_format") or {}
            schema = fmt.get("schema") or fmt.get("json_schema", {}).get("schema") or {}
            arrived = time.time()
            state["inflight"] += 1
            state["max"] = max(state["max"], state["inflight"])
            async with one:
                started = time.time()
                await asyncio.sleep(delay)
            state["inflight"] -= 1
            log.append((arrived, started, time.time()))
            message = {"role": "assistant", "content": json.dumps(_fill(schema))}
            return web.json_response({
                "id": f"fake-{len(log)}", "object": "chat.completion", "model": body["model"],
                "created": int(arrived),
                "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            })  # fmt: skip

        async def models(request):
            return web.json_response({"object": "list", "data": [{"id": "fake"}]})

        async def stats(request):
            out = {"log": list(log), "max_inflight": state["max"]}
            log.clear()
            state["max"] = 0
            return web.json_response(out)

        app = web.Application(client_max_size=2**24)
        app.add_routes([web.post("/v1/chat/completions", chat), web.get("/v1/models", models),
                        web.get("/stats", stats)])  # fmt: skip
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def start_fake(delay: float):
    import subprocess

    from tests.llm.conftest import free_port

    port = free_port()
    cmd = [sys.executable, __file__, "--fake-server", str(port), str(delay)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    if proc.stdout.readline().strip() != b"ready":
        raise RuntimeError("the fake server did not start")
    return proc, f"http://127.0.0.1:{port}/v1"


# --- LLM coding: local --workers against --engine ray on the same server -----------------------


def _stored(project, coder: str) -> list[float]:
    """When each unit's labels were stored (seconds since the epoch, sorted)."""
    ev = project.labels(history=True, annotator=coder)
    ev = ev[~ev["code_id"].str.startswith("_")]
    at = ev.groupby(["unit", "conversation_id", "turn_index"], dropna=False)["created_at"].min()
    return sorted(t.timestamp() for t in at)


def _arm(project, coder: str, url: str, kw: dict, fake: bool) -> dict:
    """Code every unit with ``coder``; throughput with and without the start.

    Steady state, llama.cpp: the units stored after the first append, over the time from the
    first append to the last (each engine's start excluded: Ray's job start, its first batch);
    its start: the time of the first append less the time its units take at the steady rate.
    Fake server (its log is exact): every request over the time from the first request to the
    last answer; the start: from the call to the first request.
    """
    import httpx

    from annotate.llm import add_llm_coder, run_llm_coder

    add_llm_coder(project, coder, backend="openai", base_url=url, model="smollm2",
                  response_format="json_object", n_ctx=2048)  # fmt: skip
    summary = {}

    def run() -> None:
        summary["s"] = run_llm_coder(project, coder, workers=WORKERS, use_cache=False,
                                     progress=False, **kw)  # fmt: skip

    t0 = time.time()
    seconds = _timed(run)
    s = summary["s"]
    units = s.units_coded + s.units_missing
    stored = _stored(project, coder)
    first = [t for t in stored if t - stored[0] < 0.2]  # the first append
    window = stored[-1] - stored[0]
    steady = (len(stored) - len(first)) / window if window > 0 else None
    out = {"units": units, "requests": s.requests, "seconds": round(seconds, 2),
           "units_per_s": round(units / seconds, 3),
           "steady_units_per_s": None if steady is None else round(steady, 3),
           "start_s": None if not steady else round(stored[0] - t0 - len(first) / steady, 2),
           }  # fmt: skip
    if fake:
        st = httpx.get(url.removesuffix("/v1") + "/stats", timeout=30).json()
        log = st["log"]
        busy = sum(end - start for _, start, end in log)
        first, last = min(x[0] for x in log), max(x[2] for x in log)
        # the server's idle share from the first request to the last answer: 0 when requests
        # kept it busy all along
        # exact on this server: every unit over the time from the first request to the last
        # answer (the steady state from the first request on)
        out |= {"steady_units_per_s": round(len(log) / (last - first), 3),
                "start_s": round(first - t0, 2),
                "server_idle_share": round(1 - busy / (last - first), 3),
                "max_in_flight": st["max_inflight"]}  # fmt: skip
    return out


def _same_labels(project, a: str, b: str) -> bool:
    key = ["unit", "conversation_id", "turn_index", "code_id", "value"]

    def labels(coder: str):
        lab = project.labels(annotator=coder)[key].astype(str)
        return lab.sort_values(key[:4]).reset_index(drop=True)

    return bool(labels(a).equals(labels(b)))


def _ratios(local: list[dict], rayed: dict) -> dict:
    mean = {k: sum(x[k] for x in local) / len(local) for k in ("units_per_s", "steady_units_per_s")}
    return {
        "throughput_ratio_with_start": round(rayed["units_per_s"] / mean["units_per_s"], 3),
        "throughput_ratio_steady": round(
            rayed["steady_units_per_s"] / mean["steady_units_per_s"], 3
        ),
    }


def llm(work: Path) -> dict:
    """Two servers, each coded by the local engine (``--workers 2``), by Ray and by the local
    engine again (its throughput: the mean of the two, so that a drift of the machine's load
    cancels), no cache, the same units:

    * ``fake``: a server that sleeps ``BENCH_SCALE_FAKE_DELAY`` s per request and uses no CPU
      (Ray's own costs without a model competing for the cores); its first Ray job is the
      driver's first LLM job on this Ray (``cold``: new worker processes, Ray Data's and
      ray.data.llm's actors), a second one runs warm.
    * ``llama_cpp``: llama.cpp's server with SmolLM2-135M on one thread (the target).
    """
    from annotate.llm.models import smollm2_path

    ray_kw = {"engine": "ray", "engine_options": {"batch": BATCH}}
    out: dict = {"workers": WORKERS, "batch": BATCH}
    project = _project(work / "llm-fake", FAKE_COPIES)
    proc, url = start_fake(FAKE_DELAY)
    try:
        arms = {}
        for name, kw in [("local", {}), ("ray_cold", ray_kw), ("ray_warm", ray_kw),
                         ("local_again", {})]:  # fmt: skip
            arms[name] = _arm(project, name, url, kw, fake=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out["fake"] = {"server": f"fake OpenAI server: {FAKE_DELAY} s of sleep per request, one at a "
                             "time, no CPU", **arms,
                   **_ratios([arms["local"], arms["local_again"]], arms["ray_warm"]),
                   "same_labels": _same_labels(project, "local", "ray_warm")}  # fmt: skip
    project = _project(work / "llm", COPIES)
    proc, url = start_server(smollm2_path())
    try:
        import httpx

        warm = {"model": "smollm2", "max_tokens": 1,
                "messages": [{"role": "user", "content": "Hello"}]}  # fmt: skip
        httpx.post(f"{url}/chat/completions", json=warm, timeout=600)
        arms = {}
        for name, kw in [("local", {}), ("ray", ray_kw), ("local_again", {})]:
            arms[name] = _arm(project, name, url, kw, fake=False)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out["llama_cpp"] = {"server": "llama.cpp server, SmolLM2-135M-Instruct, 1 thread", **arms,
                        **_ratios([arms["local"], arms["local_again"]], arms["ray"]),
                        "target": ">= 0.8 (steady state)",
                        "same_labels": _same_labels(project, "local", "ray")}  # fmt: skip
    return out


def main() -> None:
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        for attempt in range(3):  # Ray gives its raylet 30 s to start: few on a busy machine
            try:
                with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
                    warnings.simplefilter("ignore")
                    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                             configure_logging=False,
                             object_store_memory=500 * 1024**2)  # fmt: skip
                break
            except Exception:
                ray.shutdown()
                if attempt == 2:
                    raise
        ray_start = time.perf_counter() - start
        try:
            result = {
                "benchmark": "scale",
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "ray": ray.__version__,
                "ray_start_s": round(ray_start, 2),
                "masking": masking(work) if "masking" in PARTS else None,
                "llm": llm(work) if "llm" in PARTS else None,
            }
        finally:
            ray.shutdown()
    print(json.dumps(result))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--fake-server"]:
        serve_fake(int(sys.argv[2]), float(sys.argv[3]))
    else:
        main()
