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


_PEAK = """
import sys, time, json
import pyarrow as pa
from annotate.codebook import load_codebook
from annotate.store import LabelStore

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024  # MB

store = LabelStore(sys.argv[1], load_codebook(sys.argv[2]), auto_compact=0)
who = sys.argv[3] or None
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current RSS
before = status("VmRSS:")
t0 = time.perf_counter()
rows = len(store.current(who))
took = time.perf_counter() - t0
print(json.dumps({"rows": rows, "s": took, "peak_rss_mb": status("VmHWM:") - before,
                  "arrow_peak_mb": pa.default_memory_pool().max_memory() / 2**20}))
"""


def coder_scope(root: Path, cb_path: Path, n: int, coders: int, rng: random.Random) -> dict:
    """A coder's current labels vs every coder's, at n events of ``coders`` coders: time
    (median of 3, in one process) and peak memory (each read in a fresh process)."""
    import subprocess
    import sys

    cb = load_codebook(cb_path)
    store = LabelStore(root / "coders", cb, auto_compact=0)
    t0 = time.perf_counter()
    done = 0
    while done < n:
        k = min(200_000, n - done)
        batch = []
        for j in range(k):
            code, value = TURN_CODES[(done + j) % len(TURN_CODES)]
            conv = f"conv{rng.randrange(200_000):06d}"
            batch.append({"annotator_id": f"coder{rng.randrange(coders)}", "unit": "turn",
                          "conversation_id": conv, "turn_index": rng.randrange(12),
                          "code_id": code, "value": value})  # fmt: skip
        store.append(batch)
        done += k
    store.compact(full=True)
    fill_s = time.perf_counter() - t0
    t_all, everyone = timed(store.current)
    t_one, mine = timed(lambda: store.current("coder3"))

    def peak(who: str) -> dict:
        res = subprocess.run([sys.executable, "-c", _PEAK, str(store.path), str(cb_path), who],
                             capture_output=True, text=True, check=True)  # fmt: skip
        return json.loads(res.stdout)

    m_all, m_one = peak(""), peak("coder3")
    return {
        "events": n, "coders": coders, "fill_s": round(fill_s, 1),
        "all_current_rows": len(everyone), "coder_current_rows": len(mine),
        "all_current_s": round(t_all, 3), "coder_current_s": round(t_one, 3),
        "time_ratio": round(t_one / t_all, 3),
        "all_peak_rss_mb": round(m_all["peak_rss_mb"], 1),
        "coder_peak_rss_mb": round(m_one["peak_rss_mb"], 1),
        "rss_ratio": round(m_one["peak_rss_mb"] / max(m_all["peak_rss_mb"], 1e-9), 3),
        "all_arrow_peak_mb": round(m_all["arrow_peak_mb"], 1),
        "coder_arrow_peak_mb": round(m_one["arrow_peak_mb"], 1),
        "arrow_peak_ratio": round(m_one["arrow_peak_mb"] / m_all["arrow_peak_mb"], 3),
    }  # fmt: skip


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
    ap.add_argument("--coder-events", type=int, default=5_000_000)
    ap.add_argument("--coders", type=int, default=10)
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
        big.compact(full=True)  # one file per coder: the baseline reads those files
        firsts = sorted((big.path / "compacted").rglob("*.parquet"))
        t_base_live, _ = timed(lambda: [pq.read_table(f) for f in firsts])
        t_live, cur_live = timed(big.current)  # 1 compacted file + the appended parts
        big.compact(full=True)
        files = sorted((big.path / "compacted").rglob("*.parquet"))
        t_base, tables = timed(lambda: [pq.read_table(f) for f in files])
        t_cur, cur = timed(big.current)
        t_hist, _ = timed(big.events, repeat=1)
        out["read"] = {
            "rows": sum(t.num_rows for t in tables), "files": len(files),
            "current_rows": len(cur),
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
        if args.coder_events:
            out["coder_scope"] = coder_scope(
                root, REPO / "codebooks" / "toy.yaml", args.coder_events, args.coders, rng
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
