"""Benchmark: ``agreement`` and ``describe`` at scale (issue 21); prints ONE JSON object.

A synthetic project is written once per size into a temporary folder outside the repository
(reused by later runs): a corpus of conversations of 8 turns (user and assistant alternating),
the default codebook, 10 coders who each label every turn with the 5 binary codes of its role
(true values with a prevalence per code, each coder flipping 10 % of them), one compacted
label file per coder written with pyarrow. 100 million label rows = 250,000 conversations,
2 million turns. No ``_status`` notes: every label is explicit (no implicit absences).

Each measurement runs in its own process (peak RSS = that process's maximum resident set,
DuckDB's memory included; ``seconds`` wall time, ``cpu_seconds`` the process's CPU time, the
steadier figure on a shared machine):

* ``agreement``: the whole-codebook report (bootstrap ``--bootstrap`` resamples), in memory
  (``annotate.agreement.report(project.unit_labels(), ...)``) and with DuckDB
  (``annotate.analysis.scale.agreement_report``); their tables are compared (``same``).
* ``describe``: one coder's describe (``--describe-bootstrap`` resamples, 100 permutations),
  its unit labels read in memory or with DuckDB (``Project.unit_labels(engine=...)``).
* baseline, in the same run: DuckDB's own group-by count of (coder, code, value) over the same
  label files; ratios are each engine's time over it.

The in-memory path runs up to ``--memory-max`` rows (default 10 million); at 100 million its
time and memory are extrapolated linearly from 10 million (``*_extrapolated``).

Run: ``.venv/bin/python bench/bench_scale_analysis.py [--rows 100000000] [--dir DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TURNS, CODERS, FLIP = 8, 10, 0.10
USER_CODES = ["user_agency", "user_connected", "user_loneliness", "user_support_seeking",
              "user_emotional_disclosure"]  # fmt: skip
AI_CODES = ["ai_empathy", "ai_control", "ai_bridge", "ai_repair", "ai_over_validation"]
PER_TURN = 5  # codes per turn (those of its role)


def n_conversations(rows: int) -> int:
    return max(1, rows // (CODERS * TURNS * PER_TURN))


# --- data ------------------------------------------------------------------------------------


def _corpus(folder: Path, n_conv: int) -> Path:
    import annotate

    src = folder / "corpus.jsonl"
    with open(src, "w", encoding="utf-8") as f:
        for i in range(n_conv):
            msgs = [
                {"role": "user" if t % 2 == 0 else "assistant", "content": f"turn {t} of {i}"}
                for t in range(TURNS)
            ]
            f.write(json.dumps({"id": f"c{i:07d}", "messages": msgs}) + "\n")
    out = folder / "corpus"
    annotate.import_corpus(str(src), "openai", out=str(out))
    src.unlink()
    return out


def generate(folder: Path, rows: int, seed: int = 0) -> Path:
    """The project folder for ``rows`` label rows (written once; reused when complete)."""
    import annotate
    from annotate.store._files import HEAD_ROWS, MAX_CREATED
    from annotate.store._schema import LABEL_SCHEMA

    project_dir = folder / "project"
    if (folder / "DONE").is_file():
        return project_dir
    folder.mkdir(parents=True, exist_ok=True)
    n_conv = n_conversations(rows)
    corpus = _corpus(folder, n_conv)
    coders = [f"coder{j:02d}" for j in range(CODERS)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = annotate.Project.create(project_dir, corpus=corpus,
                                    codebook=ROOT / "codebooks/sdt-socioaffective.yaml",
                                    coders=coders)  # fmt: skip
    rng = np.random.default_rng(seed)
    n_turns = n_conv * TURNS
    conv = np.repeat(np.arange(n_conv, dtype=np.int32), TURNS * PER_TURN)
    tidx = np.tile(np.repeat(np.arange(TURNS, dtype=np.int32), PER_TURN), n_conv)
    code = np.tile(np.arange(PER_TURN, dtype=np.int32), n_turns) + (tidx % 2) * PER_TURN
    prevalence = np.linspace(0.05, 0.4, 2 * PER_TURN)
    truth = rng.random(len(code)) < prevalence[code]
    conv_names = pa.array([f"c{i:07d}" for i in range(n_conv)], pa.string())
    code_names = pa.array(USER_CODES + AI_CODES, pa.string())
    n = len(code)
    const = {
        "session_id": "bench", "unit": "turn", "op": "set", "codebook_id": p.codebook.id,
        "codebook_version": str(p.codebook.version), "context": "full",
    }  # fmt: skip
    base_us = 1_780_000_000_000_000
    for j, coder in enumerate(coders):
        value = truth ^ (rng.random(n) < FLIP)
        ids = pc.binary_join_element_wise(
            f"{coder}-", pc.cast(pa.array(np.arange(n, dtype=np.int64)), pa.string()), ""
        )
        created = pa.array(base_us + j * n + np.arange(n, dtype=np.int64)).cast(
            pa.timestamp("us", tz="UTC")
        )
        cols = {
            "event_id": ids,
            "annotator_id": pa.array(np.full(n, coder, dtype=object), pa.string()),
            "conversation_id": conv_names.take(pa.array(conv)),
            "turn_index": pa.array(tidx, pa.int32()),
            "code_id": code_names.take(pa.array(code)),
            "value": pc.if_else(pa.array(value), "1", "0"),
            "created_at": created,
        }
        for name, v in const.items():
            cols[name] = pa.array(np.full(n, v, dtype=object), pa.string())
        table = pa.table(
            {f.name: cols[f.name] if f.name in cols else pa.nulls(n, f.type) for f in LABEL_SCHEMA}
        ).cast(LABEL_SCHEMA)
        meta = {HEAD_ROWS: str(n).encode(), MAX_CREATED: str(base_us + (j + 1) * n).encode()}
        out = project_dir / "labels" / "compacted" / coder
        out.mkdir(parents=True, exist_ok=True)
        name = f"c-{base_us:016d}-{uuid.uuid4().hex[:12]}.parquet"
        pq.write_table(table.replace_schema_metadata(meta), out / name,
                       compression="zstd", row_group_size=1 << 20)  # fmt: skip
        del table, cols, ids, created
    (folder / "DONE").write_text(f"{rows}\n")
    return project_dir


# --- one measurement (child process) ---------------------------------------------------------


def child(mode: str, project_dir: Path, bootstrap: int, describe_bootstrap: int) -> dict:
    import annotate
    from annotate.analysis import describe
    from annotate.analysis.scale import agreement_report

    warnings.simplefilter("ignore")
    p = annotate.Project.open(project_dir)
    t0 = time.perf_counter()
    start = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = start.ru_utime + start.ru_stime
    out: dict = {}
    if mode == "groupby":
        from annotate.store._sql import connect, label_files, quote

        with tempfile.TemporaryDirectory() as spill:
            con = connect("4GB", spill)
            files = ", ".join(quote(f) for f in label_files(project_dir / "labels"))
            got = con.sql(
                "SELECT annotator_id, code_id, value, count(*) AS n FROM read_parquet("
                f"[{files}]) GROUP BY ALL"
            ).fetchall()
        out["groups"] = len(got)
    elif mode.startswith("agreement-"):
        if mode == "agreement-memory":
            rep = annotate.agreement.report(p.unit_labels(), p.codebook, bootstrap=bootstrap,
                                            seed=1)  # fmt: skip
        else:
            rep = agreement_report(p, bootstrap=bootstrap, seed=1)
        t = rep.table
        keep = ["code_id", "role", "n_units", "alpha", "alpha_low", "alpha_high", "fleiss_kappa"]
        rows = t[t["n_units"] > 0][keep]
        out["table"] = json.loads(rows.to_json(orient="records", double_precision=15))
    elif mode.startswith("describe-"):
        engine = mode.split("-", 1)[1]
        labels = p.unit_labels(["coder00"], engine=engine)
        d = describe(labels, p.corpus, p.codebook, annotator="coder00", plots=False,
                     bootstrap=describe_bootstrap, permutations=100, seed=0)  # fmt: skip
        prev = d.tables["prevalence"]
        out["prevalence"] = json.loads(
            prev[["item", "unit", "n", "count", "share", "ci_low", "ci_high"]].to_json(
                orient="records", double_precision=15
            )
        )
    out["seconds"] = round(time.perf_counter() - t0, 2)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # CPU time of the process (all threads): steadier than wall time on a shared machine
    out["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime - cpu0, 2)
    out["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    return out


def run(mode: str, project_dir: Path, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--project", str(project_dir),
           "--bootstrap", str(args.bootstrap),
           "--describe-bootstrap", str(args.describe_bootstrap)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]}
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 10_000_000, 100_000_000])
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "annotate-scale")
    ap.add_argument("--memory-max", type=int, default=10_000_000)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--describe-bootstrap", type=int, default=200)
    ap.add_argument("--child")
    ap.add_argument("--project", type=Path)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.project, args.bootstrap, args.describe_bootstrap)))
        return
    doc: dict = {
        "benchmark": "agreement and describe at scale (DuckDB) against in memory (pandas)",
        "machine": {"cpus": os.cpu_count()},
        "coders": CODERS,
        "bootstrap": args.bootstrap,
        "describe_bootstrap": args.describe_bootstrap,
        "sizes": {},
    }
    for rows in args.rows:
        folder = args.dir / f"rows-{rows}"
        t0 = time.perf_counter()
        fresh = not (folder / "DONE").is_file()
        project_dir = generate(folder, rows)
        size: dict = {"generate_seconds": round(time.perf_counter() - t0, 1) if fresh else None}
        size["conversations"] = n_conversations(rows)
        base = run("groupby", project_dir, args)
        size["baseline_duckdb_groupby"] = base
        for what in ("agreement", "describe"):
            engines = ["duckdb"] + (["memory"] if rows <= args.memory_max else [])
            for engine in engines:
                got = run(f"{what}-{engine}", project_dir, args)
                payload = got.pop("table", None) or got.pop("prevalence", None)
                got["ratio_to_groupby"] = (
                    round(got["seconds"] / base["seconds"], 2)
                    if "seconds" in got and base.get("seconds")
                    else None
                )
                size[f"{what}_{engine}"] = got
                size.setdefault(f"_{what}", {})[engine] = payload
            if "memory" in engines:
                pair = size.pop(f"_{what}")
                size[f"{what}_same_result"] = pair["duckdb"] == pair["memory"]
                mem, duck = size[f"{what}_memory"], size[f"{what}_duckdb"]
                if "seconds" in mem and "seconds" in duck:
                    size[f"{what}_time_ratio_duckdb_to_memory"] = round(
                        duck["seconds"] / mem["seconds"], 2
                    )
                    size[f"{what}_rss_ratio_duckdb_to_memory"] = round(
                        duck["peak_rss_mb"] / mem["peak_rss_mb"], 2
                    )
            else:
                size.pop(f"_{what}", None)
        doc["sizes"][str(rows)] = size
    _extrapolate(doc, args.memory_max)
    print(json.dumps(doc))


def _extrapolate(doc: dict, memory_max: int) -> None:
    """The in-memory path at the largest size, linear from the largest size it ran at."""
    sizes = {int(k): v for k, v in doc["sizes"].items()}
    ran = [r for r in sizes if r <= memory_max]
    big = [r for r in sizes if r > memory_max]
    if not ran or not big:
        return
    ref = max(ran)
    for rows in big:
        for what in ("agreement", "describe"):
            mem = sizes[ref].get(f"{what}_memory", {})
            duck = sizes[rows].get(f"{what}_duckdb", {})
            if "seconds" not in mem or "seconds" not in duck:
                continue
            scale = rows / ref
            est = {"seconds": round(mem["seconds"] * scale, 1),
                   "peak_rss_mb": round(mem["peak_rss_mb"] * scale, 1)}  # fmt: skip
            sizes[rows][f"{what}_memory_extrapolated"] = est
            sizes[rows][f"{what}_rss_ratio_duckdb_to_memory_extrapolated"] = round(
                duck["peak_rss_mb"] / est["peak_rss_mb"], 3
            )


if __name__ == "__main__":
    main()
