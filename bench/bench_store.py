"""Benchmark of the label store: durable append latency and reading 1M events.

Prints ONE JSON object. Every time is compared with a baseline measured in the same run
(these machines are shared and noisy): append latency against a bare fsync of a small file,
reading current labels against pyarrow reading the same rows from one parquet file.

    .venv/bin/python bench/bench_store.py [--events 1000000] [--appends 300]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from annotate.codebook import load_codebook
from annotate.store import LabelStore

REPO = Path(__file__).resolve().parents[1]
TURN_CODES = [("ai_empathy", "1"), ("ai_pressure", "1"), ("ai_move", "ask"), ("user_move", "task")]


def _pct(values: list[float]) -> dict[str, float]:
    arr = np.array(values) * 1000
    return {"p50_ms": round(float(np.percentile(arr, 50)), 4),
            "p95_ms": round(float(np.percentile(arr, 95)), 4)}  # fmt: skip


def bare_fsync(folder: Path, n: int) -> tuple[dict[str, float], dict[str, float]]:
    """Baselines: write+fsync a ~1 KB file; and the same + rename + fsync of the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    data = os.urandom(1024)
    plain, durable = [], []
    for i in range(n):
        t0 = time.perf_counter()
        fd = os.open(folder / f"f{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        fd = os.open(folder / f".g{i}.tmp", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.rename(folder / f".g{i}.tmp", folder / f"g{i}")
        dfd = os.open(folder, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
        durable.append(time.perf_counter() - t0)
    return _pct(plain), _pct(durable)


def event(rng: random.Random, i: int) -> dict[str, object]:
    code, value = TURN_CODES[i % len(TURN_CODES)]
    return {"annotator_id": f"coder{rng.randrange(20)}", "unit": "turn",
            "conversation_id": f"conv{rng.randrange(60_000):06d}", "turn_index": rng.randrange(12),
            "code_id": code, "value": value, "elapsed_ms": rng.randrange(100_000)}  # fmt: skip


def fill(store: LabelStore, n: int, rng: random.Random) -> float:
    """Store n events by bulk appends of 100k, then compact; returns seconds."""
    t0 = time.perf_counter()
    done = 0
    while done < n:
        k = min(100_000, n - done)
        store.append([event(rng, done + j) for j in range(k)])
        done += k
    store.compact()
    return time.perf_counter() - t0


def append_latency(store: LabelStore, n: int, rng: random.Random) -> dict[str, float]:
    lat = []
    for i in range(n):
        ev = event(rng, i)
        t0 = time.perf_counter()
        store.append(ev)
        lat.append(time.perf_counter() - t0)
    return _pct(lat)


def timed(fn, repeat: int = 3) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--appends", type=int, default=300)
    args = ap.parse_args()
    cb = load_codebook(REPO / "codebooks" / "toy.yaml")
    rng = random.Random(0)
    root = Path(tempfile.mkdtemp(prefix="bench_store_", dir=os.environ.get("BENCH_DIR")))
    out: dict[str, object] = {"benchmark": "store", "events": args.events, "appends": args.appends}
    try:
        plain, durable = bare_fsync(root / "fsync", args.appends)
        out["baseline_fsync_small_file"] = plain
        out["baseline_durable_new_file"] = durable
        sizes = [("0", 0), ("100k", min(100_000, args.events)), ("1m", args.events)]
        for label, n in sizes:
            store = LabelStore(root / f"s{label}", cb)
            if n:
                out[f"fill_{label}_s"] = round(fill(store, n, rng), 2)
            lat = append_latency(store, args.appends, rng)
            lat["p50_ratio_to_fsync"] = round(lat["p50_ms"] / plain["p50_ms"], 2)
            lat["p95_ratio_to_fsync"] = round(lat["p95_ms"] / plain["p95_ms"], 2)
            lat["p95_ratio_to_durable_new_file"] = round(lat["p95_ms"] / durable["p95_ms"], 2)
            out[f"append_{label}_stored"] = lat
        big = LabelStore(root / "s1m", cb, auto_compact=0)
        (compacted,) = (big.path / "compacted").glob("*.parquet")
        t_base, table = timed(lambda: pq.read_table(compacted))
        t_live, cur_live = timed(big.current)  # 1 compacted file + the appended parts
        big.compact()
        t_cur, cur = timed(big.current)
        t_hist, _ = timed(big.events, repeat=1)
        out["read"] = {
            "rows": table.num_rows, "current_rows": len(cur),
            "baseline_pyarrow_read_s": round(t_base, 3),
            "current_compacted_s": round(t_cur, 3),
            "current_ratio_to_pyarrow": round(t_cur / t_base, 2),
            "current_with_parts_s": round(t_live, 3),
            "current_with_parts_ratio_to_pyarrow": round(t_live / t_base, 2),
            "parts_beside_compacted": args.appends,
            "history_s": round(t_hist, 3),
        }  # fmt: skip
        assert len(cur_live) == len(cur)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
