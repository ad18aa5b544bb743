"""Benchmark of the Ray engines (the ``scale`` extra, docs/scale.md); prints ONE JSON object.

Baselines, measured in the same run on the same data:

* **masking** (``annotate corpus mask``): ``mask_corpus(engine="ray")`` (Ray Data's
  ``map_batches`` over the row groups, writing the same corpus) against the local engine (one
  process), at several corpus sizes (``BENCH_SCALE_SIZES``, turns), both with the regular
  expressions only and with spaCy (``nlp.pipe``; no trained model is installed here, so the
  pipeline is blank English with an entity ruler as its ``ner``: tokenisation and matching are
  spaCy's real cost, a trained NER's is higher). The ratio is ray / local time (> 1: Ray is
  slower). The local Ray is started once before the timings (its start is reported apart).
* **LLM coding**: llama.cpp's server on 127.0.0.1 with SmolLM2-135M (one thread), the
  LLM tests' four conversations (tests/llm/conftest.py, a three-code codebook: short prompts,
  so Ray's share of the time is as large as it gets) copied ``BENCH_SCALE_COPIES`` times (4:
  60 units), coded by the local engine with
  ``--workers 2``, by ``--engine ray`` (ray.data.llm's HTTP processor, 2 workers), and by the
  local engine again, no cache. Target: Ray's throughput / local throughput (the mean of the
  two local runs) >= 0.8: the server is the bottleneck; Ray must not be.

The synthetic turns are generated here (a vocabulary of pseudo-words, ~5% with an e-mail, URL,
phone or @handle, a few with two person names). Run: ``.venv/bin/python bench/bench_scale.py``
(about 10 minutes on 2 cores).
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
COPIES = int(os.environ.get("BENCH_SCALE_COPIES", "4"))  # x 15 units
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


def _project(folder: Path):
    """The LLM tests' four conversations (tests/llm/conftest.py) copied ``COPIES`` times, with
    their three-code codebook: short prompts, so Ray's share of the time is as large as it
    gets."""
    from annotate.project import Project
    from tests.llm.conftest import CONVERSATIONS, TINY_CODEBOOK

    folder.mkdir(parents=True)
    lines = []
    for k in range(COPIES):
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


def llm(work: Path) -> dict:
    """The same units coded by the local engine, by Ray, and by the local engine again (its
    throughput: the mean of the two, so that a drift of the machine's load cancels)."""
    import httpx

    from annotate.llm import add_llm_coder, run_llm_coder
    from annotate.llm.models import smollm2_path

    project = _project(work / "llm")
    proc, url = start_server(smollm2_path())
    arms = [("local", {}), ("rayed", {"engine": "ray", "engine_options": {"batch": BATCH}}),
            ("local2", {})]  # fmt: skip
    try:
        warm = {"model": "smollm2", "max_tokens": 1,
                "messages": [{"role": "user", "content": "Hello"}]}  # fmt: skip
        httpx.post(f"{url}/chat/completions", json=warm, timeout=600)
        out = {}
        for cid, kw in arms:
            add_llm_coder(project, cid, backend="openai", base_url=url, model="smollm2",
                          response_format="json_object", n_ctx=2048)  # fmt: skip
            summary = {}

            def run(cid=cid, kw=kw, summary=summary) -> None:
                summary["s"] = run_llm_coder(project, cid, workers=2, use_cache=False,
                                             progress=False, **kw)  # fmt: skip

            seconds = _timed(run)
            s = summary["s"]
            out[cid] = {"units": s.units_coded + s.units_missing, "seconds": round(seconds, 2),
                        "units_per_s": round((s.units_coded + s.units_missing) / seconds, 3),
                        "requests": s.requests}  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    key = ["unit", "conversation_id", "turn_index", "code_id", "value"]

    def labels(coder: str):
        lab = project.labels(annotator=coder)[key].astype(str)
        return lab.sort_values(key[:4]).reset_index(drop=True)

    local = (out["local"]["units_per_s"] + out["local2"]["units_per_s"]) / 2
    return {
        "server": "llama.cpp server, SmolLM2-135M-Instruct, 1 thread",
        "workers": 2,
        "batch": BATCH,
        "local_workers": out["local"],
        "ray_http": out["rayed"],
        "local_workers_again": out["local2"],
        "throughput_ratio_ray_over_local": round(out["rayed"]["units_per_s"] / local, 3),
        "target": ">= 0.8",
        "same_labels": bool(labels("local").equals(labels("rayed"))),
    }


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
    main()
