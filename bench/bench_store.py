"""Benchmark of the label store: durable append latency and reading 1M events.

Prints ONE JSON object. Every time is compared with a baseline measured in the same run
(these machines are shared and noisy): append latency against a bare fsync of a small file
and against a durable new file (fsync, rename, fsync of the folder: the floor of any design
that writes a file per save), measured op by op in between the appends; reading current labels
against pyarrow reading the same rows (the compacted file) into an Arrow table.

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


def _fsync_small(folder: Path, name: str, data: bytes) -> float:
    """Baseline: write a ~1 KB file and fsync it."""
    t0 = time.perf_counter()
    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, data)
    os.fsync(fd)
    os.close(fd)
    return time.perf_counter() - t0


def _durable_new_file(folder: Path, name: str, data: bytes) -> float:
    """Baseline: the same, then rename into place and fsync the folder (a durable new file)."""
    t0 = time.perf_counter()
    fd = os.open(folder / f".{name}.tmp", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.write(fd, data)
    os.fsync(fd)
    os.close(fd)
    os.rename(folder / f".{name}.tmp", folder / name)
    dfd = os.open(folder, os.O_RDONLY)
    os.fsync(dfd)
    os.close(dfd)
    return time.perf_counter() - t0


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


def append_latency(store: LabelStore, n: int, rng: random.Random, base: Path) -> dict[str, float]:
    """Append latency, interleaved op by op with the two baselines, so all three see the
    same machine load (the ratios are what compare across runs)."""
    base.mkdir(parents=True, exist_ok=True)
    data = os.urandom(1024)
    lat, plain, durable = [], [], []
    for i in range(n):
        ev = event(rng, i)
        t0 = time.perf_counter()
        store.append(ev)
        lat.append(time.perf_counter() - t0)
        plain.append(_fsync_small(base, f"f{i}", data))
        durable.append(_durable_new_file(base, f"g{i}", data))
    out = _pct(lat)
    p, d = _pct(plain), _pct(durable)
    out.update(
        baseline_fsync_small_file=p,
        baseline_durable_new_file=d,
        p50_ratio_to_fsync=round(out["p50_ms"] / p["p50_ms"], 2),
        p95_ratio_to_fsync=round(out["p95_ms"] / p["p95_ms"], 2),
        p50_ratio_to_durable_new_file=round(out["p50_ms"] / d["p50_ms"], 2),
        p95_ratio_to_durable_new_file=round(out["p95_ms"] / d["p95_ms"], 2),
    )
    return out


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
        sizes = [("0", 0), ("100k", min(100_000, args.events)), ("1m", args.events)]
        for label, n in sizes:
            store = LabelStore(root / f"s{label}", cb)
            if n:
                out[f"fill_{label}_s"] = round(fill(store, n, rng), 2)
            out[f"append_{label}_stored"] = append_latency(
                store, args.appends, rng, root / f"fsync{label}"
            )
        big = LabelStore(root / "s1m", cb, auto_compact=0)
        (first,) = (big.path / "compacted").glob("*.parquet")
        t_base_live, _ = timed(lambda: pq.read_table(first))
        t_live, cur_live = timed(big.current)  # 1 compacted file + the appended parts
        big.compact(full=True)
        (only,) = (big.path / "compacted").glob("*.parquet")
        t_base, table = timed(lambda: pq.read_table(only))
        t_cur, cur = timed(big.current)
        t_hist, _ = timed(big.events, repeat=1)
        out["read"] = {
            "rows": table.num_rows, "current_rows": len(cur),
            "baseline_pyarrow_read_s": round(t_base, 3),
            "current_s": round(t_cur, 3),
            "current_ratio_to_pyarrow": round(t_cur / t_base, 2),
            "with_parts": {
                "parts": args.appends, "current_s": round(t_live, 3),
                "baseline_pyarrow_read_s": round(t_base_live, 3),
                "current_ratio_to_pyarrow": round(t_live / t_base_live, 2),
            },
            "history_s": round(t_hist, 3),
        }  # fmt: skip
        assert len(cur_live) == len(cur)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
