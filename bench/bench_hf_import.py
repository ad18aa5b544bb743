"""hf-chat import speed and memory: WildChat-layout parquet shards vs. a bare pyarrow baseline.

Generates parquet shards in the layout of WildChat-1M/4.8M (dataset cards of allenai/WildChat-1M
and allenai/WildChat-4.8M): per row ``conversation_hash`` (shuffled hex: the corpus must be
sorted), ``model``, ``timestamp``, ``conversation`` (per turn ``content``, ``role``,
``language``, ``redacted``, ``toxic``, ``timestamp``, ``turn_identifier``, and on user turns
``country``, ``state``, ``hashed_ip``, ``header``), ``turn``, ``language``,
``openai_moderation`` and ``detoxify_moderation`` (one result per turn: 22 category flags in
both spellings, 22 scores, ``flagged``; 7 detoxify scores), ``toxic``, ``redacted``,
``country``, ``state``, ``hashed_ip``, ``header``. Conversations have 2, 4, 6 or 8 turns
(5 on average); texts are Zipf-distributed words; row groups of 5,000 rows, snappy (the
``datasets`` default). Then, each in its own subprocess (peak RSS per run), alternately:

* baseline: read each shard row group by row group with pyarrow, flatten the message list
  (``list_flatten`` + the struct's fields as columns, the conversation hash repeated per turn)
  and the two moderation lists, write one parquet file (zstd, 64k-row groups): no validation,
  no role normalisation, no sorting, no JSON, no manifest;
* annotate: ``import_corpus(SHARD_FOLDER, "hf-chat", out=...)``: every shard in one pass, roles
  normalised, skips counted, per-turn meta as JSON, sorted by conversation id through sorted
  runs spilled to disk, sha256 of every shard, atomic folder write.

Both subprocesses load their modules (pyarrow, numpy, pandas; annotate) before their clock
starts: pyarrow imports pandas the first time it converts to or from numpy, a one-off module load
(1.2 s on this project's machine, which runs Python without a bytecode cache) that is not import
work and that a bare read-and-write never triggers. annotate sets Arrow's memory pool to jemalloc
while it imports (``annotate.corpus._build.import_pool``); the baseline runs with pyarrow's
default pool (mimalloc), as a bare script would, and once more per round with jemalloc
(``ARROW_DEFAULT_MEMORY_POOL=jemalloc``) to show the ratio on the same allocator.

Prints one JSON object: best-of-N wall and CPU seconds, the ratios annotate / baseline (target
<= 1.5) and annotate / baseline on jemalloc, peak RSS of each and annotate's peak RSS over the
shards' total size (target <= 2).

    .venv/bin/python bench/bench_hf_import.py                 # 1M turns, 4 shards, 3 runs each
    .venv/bin/python bench/bench_hf_import.py --turns 10000000 --runs 1 --no-baseline
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

PEAK = r"""
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

BASELINE = (
    PEAK
    + r"""
import json, sys, time
from pathlib import Path
import pandas
import pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
src, out = Path(sys.argv[1]), sys.argv[2]
t0, c0 = time.perf_counter(), time.process_time()
writer, rows = None, 0
for shard in sorted(src.glob("*.parquet")):
    pf = pq.ParquetFile(shard)
    for i in range(pf.metadata.num_row_groups):
        t = pf.read_row_group(i)
        msgs = t["conversation"].combine_chunks()
        parent = pc.list_parent_indices(msgs)
        flat = msgs.flatten()
        cols = {"conversation_hash": t["conversation_hash"].combine_chunks().take(parent)}
        for j in range(flat.type.num_fields):
            cols[flat.type.field(j).name] = flat.field(j)
        for name in ("openai_moderation", "detoxify_moderation"):
            cols[name] = t[name].combine_chunks().flatten()
        table = pa.table(cols)
        if writer is None:
            writer = pq.ParquetWriter(out, table.schema, compression="zstd")
        writer.write_table(table, row_group_size=65536)
        rows += table.num_rows
writer.close()
dt, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"seconds": dt, "cpu_seconds": cpu, "rows": rows, "max_rss_mb": peak_mb()}))
"""
)

ANNOTATE = (
    PEAK
    + r"""
import json, sys, time
import pandas
from annotate.importers import import_corpus
src, out = sys.argv[1], sys.argv[2]
t0, c0 = time.perf_counter(), time.process_time()
corpus = import_corpus(src, "hf-chat", out=out)
dt, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"seconds": dt, "cpu_seconds": cpu, "rows": corpus.manifest["counts"]["turns"],
                  "max_rss_mb": peak_mb()}))
"""
)

CATEGORIES = [
    "harassment", "harassment/threatening", "hate", "hate/threatening", "self-harm",
    "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence",
    "violence/graphic",
]  # fmt: skip
DETOXIFY = [
    "identity_attack", "insult", "obscene", "severe_toxicity", "sexual_explicit", "threat",
    "toxicity",
]  # fmt: skip
ROWS_PER_GROUP = 5_000


def _moderation(rng: np.random.Generator, n: int) -> pa.StructArray:
    """One OpenAI moderation result per turn, both spellings of each category (one null)."""
    names, flags, scores = [], [], []
    flagged = rng.random(n) < 0.03
    for c in CATEGORIES:
        for spelling in {c, c.replace("/", "_")}:
            names.append(spelling)
            used = spelling == c
            f = (flagged & (rng.random(n) < 0.3)) if used else None
            flags.append(pa.array(f) if used else pa.nulls(n, pa.bool_()))
            scores.append(pa.array(rng.random(n) ** 6) if used else pa.nulls(n, pa.float64()))
    return pa.StructArray.from_arrays(
        [
            pa.StructArray.from_arrays(flags, names=names),
            pa.StructArray.from_arrays(scores, names=names),
            pa.array(flagged),
        ],
        names=["categories", "category_scores", "flagged"],
    )


def _texts(rng: np.random.Generator, n: int, vocab: pa.Array, p: np.ndarray) -> pa.Array:
    lengths = rng.integers(5, 60, n)
    words = vocab.take(pa.array(rng.choice(len(vocab), int(lengths.sum()), p=p)))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    lists = pa.ListArray.from_arrays(pa.array(offsets), words)
    return pc.binary_join_element_wise(pc.binary_join(lists, " "), ".", "")


def generate(folder: Path, turns: int, shards: int, seed: int = 0) -> int:
    """Write the shards; returns the number of turns."""
    rng = np.random.default_rng(seed)
    vocab = pa.array([f"w{i}" for i in range(20_000)])
    p = 1 / np.arange(1, 20_001)
    p /= p.sum()
    n_conv = turns // 5
    lengths_all = rng.choice([2, 4, 6, 8], n_conv)
    per_shard = np.array_split(np.arange(n_conv), shards)
    total = 0
    for s, rows in enumerate(per_shard):
        path = folder / f"train-{s:05d}-of-{shards:05d}.parquet"
        writer = None
        for lo in range(0, len(rows), ROWS_PER_GROUP):
            idx = rows[lo : lo + ROWS_PER_GROUP]
            n = len(idx)
            lengths = lengths_all[idx]
            m = int(lengths.sum())
            total += m
            parent = np.repeat(np.arange(n), lengths)
            within = np.arange(m) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            user = within % 2 == 0
            ips = pa.array([f"{x:064x}" for x in rng.integers(0, 2**62, n)])
            t0 = 1_680_000_000_000_000 + rng.integers(0, 10**13, n)
            times = pa.array(
                np.repeat(t0, lengths) + within * 30_000_000, pa.timestamp("us", tz="UTC")
            )
            header = pa.StructArray.from_arrays(
                [pa.array(["en-US,en;q=0.9"] * n), pa.array(["Mozilla/5.0 (X11; Linux)"] * n)],
                names=["accept-language", "user-agent"],
            )
            mask = pa.array(~user)
            none = pa.scalar(None, pa.string())
            turn = pa.StructArray.from_arrays(
                [
                    _texts(rng, m, vocab, p),
                    pc.if_else(pa.array(user), "United States", none),
                    pc.if_else(pa.array(user), ips.take(pa.array(parent)), none),
                    pc.if_else(mask, pa.scalar(None, header.type), header.take(pa.array(parent))),
                    pa.array(["English"] * m),
                    pa.array(rng.random(m) < 0.01),
                    pc.if_else(pa.array(user), "user", "assistant"),
                    pc.if_else(pa.array(user), "California", none),
                    times,
                    pa.array(rng.random(m) < 0.02),
                    pa.array(np.repeat(rng.integers(0, 2**40, n), lengths) + within // 2),
                ],
                names=["content", "country", "hashed_ip", "header", "language", "redacted",
                       "role", "state", "timestamp", "toxic", "turn_identifier"],
            )  # fmt: skip
            offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
            detox = pa.StructArray.from_arrays(
                [pa.array(rng.random(m) ** 4) for _ in DETOXIFY], names=DETOXIFY
            )
            table = pa.table(
                {
                    "conversation_hash": pa.array(
                        [f"{x:032x}" for x in rng.integers(0, 2**62, n) * 7919]
                    ),
                    "model": pa.array(rng.choice(["gpt-3.5-turbo-0613", "gpt-4-0314"], n)),
                    "timestamp": pa.array(t0, pa.timestamp("us", tz="UTC")),
                    "conversation": pa.ListArray.from_arrays(offsets, turn),
                    "turn": pa.array(lengths // 2),
                    "language": pa.array(["English"] * n),
                    "openai_moderation": pa.ListArray.from_arrays(offsets, _moderation(rng, m)),
                    "detoxify_moderation": pa.ListArray.from_arrays(offsets, detox),
                    "toxic": pa.array(rng.random(n) < 0.03),
                    "redacted": pa.array(rng.random(n) < 0.02),
                    "state": pa.array(["California"] * n),
                    "country": pa.array(["United States"] * n),
                    "hashed_ip": ips,
                    "header": header,
                }
            )
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="snappy")
            writer.write_table(table, row_group_size=ROWS_PER_GROUP)
        if writer is not None:
            writer.close()
    return total


def run(code: str, src: Path, out: Path, pool: str | None = None) -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env.pop("ARROW_DEFAULT_MEMORY_POOL", None)
    if pool:
        env["ARROW_DEFAULT_MEMORY_POOL"] = pool
    res = subprocess.run(
        [sys.executable, "-c", code, str(src), str(out)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=1_000_000)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as d:
        tmp = Path(d)
        shards = tmp / "shards"
        shards.mkdir()
        t0 = time.perf_counter()
        turns = generate(shards, args.turns, args.shards)
        gen_s = time.perf_counter() - t0
        size_mb = sum(f.stat().st_size for f in shards.iterdir()) / 2**20
        base, base_je, mine = [], [], []
        for i in range(args.runs):
            if not args.no_baseline:
                base.append(run(BASELINE, shards, tmp / f"base{i}.parquet"))
                (tmp / f"base{i}.parquet").unlink()
                base_je.append(run(BASELINE, shards, tmp / f"base{i}.parquet", "jemalloc"))
                (tmp / f"base{i}.parquet").unlink()
            mine.append(run(ANNOTATE, shards, tmp / f"corpus{i}"))
            for f in (tmp / f"corpus{i}").iterdir():
                f.unlink()
        assert all(r["rows"] == turns for r in base + base_je + mine), (turns, base, mine)
        a = min(r["seconds"] for r in mine)
        ac = min(r["cpu_seconds"] for r in mine)
        rss = max(r["max_rss_mb"] for r in mine)
        doc = {
            "benchmark": f"import_hf_chat_wildchat_{turns}_turns_{args.shards}_shards",
            "turns": turns,
            "conversations": turns and None,
            "shards": args.shards,
            "parquet_mb": round(size_mb, 1),
            "generate_s": round(gen_s, 1),
            "annotate_s": round(a, 2),
            "annotate_cpu_s": round(ac, 2),
            "annotate_max_rss_mb": round(rss, 1),
            "annotate_rss_over_parquet_size": round(rss / size_mb, 2),
            "target_rss_over_parquet_size": 2.0,
            "load_average_1min": round(os.getloadavg()[0], 1),
        }
        doc.pop("conversations")
        if base:
            b = min(r["seconds"] for r in base)
            bc = min(r["cpu_seconds"] for r in base)
            doc.update(
                baseline_s=round(b, 2),
                baseline_cpu_s=round(bc, 2),
                ratio_vs_baseline=round(a / b, 3),
                cpu_ratio_vs_baseline=round(ac / bc, 3),
                target_ratio=1.5,
                baseline_max_rss_mb=round(max(r["max_rss_mb"] for r in base), 1),
                baseline_jemalloc_s=round(min(r["seconds"] for r in base_je), 2),
                baseline_jemalloc_cpu_s=round(min(r["cpu_seconds"] for r in base_je), 2),
                ratio_vs_baseline_jemalloc=round(a / min(r["seconds"] for r in base_je), 3),
                cpu_ratio_vs_baseline_jemalloc=round(
                    ac / min(r["cpu_seconds"] for r in base_je), 3
                ),
            )
        doc["runs"] = {
            "baseline_s": [round(r["seconds"], 2) for r in base],
            "baseline_jemalloc_s": [round(r["seconds"], 2) for r in base_je],
            "annotate_s": [round(r["seconds"], 2) for r in mine],
        }
        print(json.dumps(doc))


if __name__ == "__main__":
    main()
