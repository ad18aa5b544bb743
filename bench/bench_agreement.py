"""Benchmark of annotate.agreement (report and cores); prints ONE JSON object.

Baseline: the ``krippendorff`` package (fast-krippendorff, GPL; used here only, never by
annotate/) timed in the same run, so the ratios are robust to a noisy machine. Each timing is
the best of ``REPEAT`` runs. Targets (issue 6):

* nominal alpha, 1,000,000 units × 3 coders, 8 categories: ratio ≤ 0.5
* nominal alpha, 100,000 units × 5 coders, 20 % missing: ratio ≤ 0.5
* bootstrap, 1,000 resamples on 1,000 units × 3 coders: ≤ 0.2 s
* whole report, 60-code codebook, 2,000 conversations, 1,000 resamples: ≤ 10 s
* the whole report from the long table (alpha and its companions, no bootstrap), nominal,
  1,000,000 units × 3 coders: ratio to the package's alpha alone on the same data ≤ 1.0
  (issue 12)

Run: ``.venv/bin/python bench/bench_agreement.py``
"""

from __future__ import annotations

import json
import platform
import time
from importlib import metadata

import krippendorff
import numpy as np
import pandas as pd

from annotate.agreement import alpha
from annotate.agreement import report as agreement_report
from annotate.agreement._matrix import encode, value_counts
from annotate.agreement.bootstrap import bootstrap_alpha
from annotate.agreement.distances import delta
from annotate.codebook import codebook_from_data

REPEAT = 3


def best(fn, repeat=REPEAT, clock=time.perf_counter):
    times, value = [], None
    for _ in range(repeat):
        t = clock()
        value = fn()
        times.append(clock() - t)
    return min(times), value


def data(n_units, n_coders, q, p_missing, seed=0, p_agree=0.7):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, q, n_units)
    d = np.repeat(truth[:, None], n_coders, axis=1)
    noise = rng.random(d.shape) > p_agree
    d[noise] = rng.integers(0, q, noise.sum())
    d = d.astype(float)
    d[rng.random(d.shape) < p_missing] = np.nan
    return d


def compare(name, d, q, level="nominal"):
    values = np.arange(q, dtype=float)
    t_ours, a = best(lambda: alpha(d, level=level, values=values))
    t_pkg, b = best(
        lambda: krippendorff.alpha(
            reliability_data=d.T, level_of_measurement=level, value_domain=values
        )
    )
    # CPU time as well: the shared machine's load makes wall-clock ratios noisy
    c_ours, _ = best(lambda: alpha(d, level=level, values=values), clock=time.process_time)
    c_pkg, _ = best(
        lambda: krippendorff.alpha(
            reliability_data=d.T, level_of_measurement=level, value_domain=values
        ),
        clock=time.process_time,
    )
    return {
        "case": name,
        "annotate_s": round(t_ours, 4),
        "krippendorff_pkg_s": round(t_pkg, 4),
        "ratio": round(t_ours / t_pkg, 3),
        "cpu_ratio": round(c_ours / c_pkg, 3),
        "same_value": bool(abs(a - b) < 1e-9),
    }


def bench_bootstrap():
    d = data(1000, 3, 8, 0.0, seed=1)
    values = np.arange(8, dtype=float)

    def ours():
        codes, _ = encode(d, values)
        counts = value_counts(codes, 8)
        return bootstrap_alpha(counts, np.arange(1000), d=delta("nominal", 8), n_boot=1000, seed=0)

    t_ours, _ = best(ours)
    rng = np.random.default_rng(0)

    def naive(n=100):  # recompute with the package on each resample (100, scaled to 1000)
        for _ in range(n):
            idx = rng.integers(0, 1000, 1000)
            krippendorff.alpha(d[idx].T, level_of_measurement="nominal", value_domain=values)

    t_naive, _ = best(naive, repeat=1)
    t_naive *= 10
    return {
        "case": "bootstrap 1000 resamples, 1,000 units x 3 coders",
        "annotate_s": round(t_ours, 4),
        "target_s": 0.2,
        "krippendorff_pkg_recompute_s": round(t_naive, 3),
        "ratio": round(t_ours / t_naive, 4),
    }


def synthetic_codebook(n_codes=60):
    codes = []
    for i in range(n_codes):
        kind = i % 6
        base = {"id": f"c{i:02d}", "label": f"Code {i}", "definition": "synthetic"}
        if kind < 3:  # binary turn codes: assistant, user, both
            roles = [["assistant"], ["user"], ["user", "assistant"]][kind]
            codes.append(base | {"unit": "turn", "level": "binary", "applies_to": roles})
        elif kind == 3:
            vals = [{"value": v, "label": v} for v in "abcdef"]
            codes.append(base | {"unit": "turn", "level": "nominal", "applies_to": ["assistant"],
                                 "values": vals})  # fmt: skip
        elif kind == 4:
            vals = [{"value": str(v), "label": str(v)} for v in range(1, 6)]
            codes.append(base | {"unit": "conversation", "level": "ordinal",
                                 "applies_to": ["assistant"], "values": vals})  # fmt: skip
        else:
            vals = [{"value": str(v), "label": str(v)} for v in range(1, 8)]
            codes.append(base | {"unit": "conversation", "level": "interval",
                                 "applies_to": ["assistant"], "values": vals})  # fmt: skip
    return codebook_from_data({"id": "bench", "version": "1.0.0", "title": "Bench",
                               "codes": codes})  # fmt: skip


def synthetic_labels(cb, n_conv=2000, turns=6, coders=("a", "b", "c"), seed=0):
    rng = np.random.default_rng(seed)
    frames = []
    conv = np.repeat([f"conv{i:05d}" for i in range(n_conv)], turns)
    tix = np.tile(np.arange(turns), n_conv)
    role = np.where(tix % 2 == 0, "user", "assistant")
    for code in cb.codes:
        ids = np.array(code.value_ids)
        if code.unit == "turn":
            keep = np.isin(role, code.applies_to)
            c, t, r = conv[keep], tix[keep], role[keep]
        else:
            c = np.array([f"conv{i:05d}" for i in range(n_conv)])
            t, r = np.full(len(c), None), np.full(len(c), None)
        p = np.full(len(ids), 1.0 / len(ids)) if len(ids) > 2 else np.array([0.8, 0.2])
        truth = rng.choice(len(ids), len(c), p=p)
        for a in coders:
            v = np.where(rng.random(len(c)) < 0.85, truth, rng.integers(0, len(ids), len(c)))
            frames.append(pd.DataFrame({"annotator_id": a, "unit": code.unit,
                                        "conversation_id": c, "turn_index": t, "role": r,
                                        "code_id": code.id, "value": ids[v]}))  # fmt: skip
    out = pd.concat(frames, ignore_index=True)
    out["turn_index"] = pd.array(out["turn_index"], dtype="Int32")
    return out


def bench_report():
    cb = synthetic_codebook()
    labels = synthetic_labels(cb)
    t, report = best(lambda: agreement_report(labels, cb, bootstrap=1000, seed=0), repeat=1)
    t0, _ = best(lambda: agreement_report(labels, cb), repeat=1)
    return {
        "case": "report: 60 codes, 2,000 conversations x 6 turns, 3 coders, 1000 resamples",
        "annotate_s": round(t, 3),
        "without_bootstrap_s": round(t0, 3),
        "target_s": 10.0,
        "n_label_rows": len(labels),
        "n_report_rows": len(report.table),
    }


def both_clocks(fn, repeat=REPEAT):
    """Best wall-clock and best CPU time of ``repeat`` runs (one run measures both)."""
    walls, cpus, value = [], [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        value = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus), value


def _const(value, n):
    return pd.array(np.full(n, value), dtype="string[pyarrow]")


def long_table(d, coders=("alice", "bob", "carol"), turns=10):
    """Reliability data (units, coders) as the unit-labels table a project gives (pyarrow
    strings, Int32 turns): unit ``u`` is assistant turn ``2 (u % turns) + 1`` of conversation
    ``u // turns``; values are the category numbers as strings."""
    n_units = d.shape[0]
    names = pd.array([f"c{i:07d}" for i in range(-(-n_units // turns))], dtype="string[pyarrow]")
    units = np.arange(n_units)
    frames = []
    for j, coder in enumerate(coders):
        u = units[~np.isnan(d[:, j])]
        frames.append(pd.DataFrame({
            "annotator_id": _const(coder, len(u)), "unit": _const("turn", len(u)),
            "conversation_id": names.take(u // turns),
            "turn_index": pd.array(2 * (u % turns) + 1, dtype="Int32"),
            "role": _const("assistant", len(u)), "code_id": _const("move", len(u)),
            "value": pd.array(d[u, j].astype(int).astype(str), dtype="string[pyarrow]"),
        }))  # fmt: skip
    out = pd.concat(frames, ignore_index=True)
    order = ["annotator_id", "conversation_id", "unit", "turn_index", "code_id"]
    return out.sort_values(order, kind="stable").reset_index(drop=True)  # as unit_labels()


def bench_report_long(n_units=10**6, q=8):
    """The whole report from the long table vs the krippendorff package's alpha alone."""
    d = data(n_units, 3, q, 0.0)
    values = np.arange(q, dtype=float)
    labels = long_table(d)
    cb = codebook_from_data({"id": "bench", "version": "1.0.0", "title": "Bench", "codes": [
        {"id": "move", "label": "Move", "definition": "synthetic", "unit": "turn",
         "level": "nominal", "applies_to": ["assistant"],
         "values": [{"value": str(v), "label": str(v)} for v in range(q)]}]})  # fmt: skip
    t_ours, c_ours, report = both_clocks(lambda: agreement_report(labels, cb))
    t_pkg, c_pkg, b = both_clocks(
        lambda: krippendorff.alpha(
            reliability_data=d.T, level_of_measurement="nominal", value_domain=values
        )
    )
    row = report.table.iloc[0]
    return {
        "case": "report from the long table (alpha + companions), nominal, "
        f"{n_units:,} units x 3 coders, {q} categories, vs the package's alpha alone",
        "annotate_s": round(t_ours, 4),
        "krippendorff_pkg_s": round(t_pkg, 4),
        "ratio": round(t_ours / t_pkg, 3),
        "cpu_ratio": round(c_ours / c_pkg, 3),
        "target_ratio": 1.0,
        "n_label_rows": len(labels),
        "same_value": bool(abs(row["alpha"] - b) < 1e-9),
    }


def main():
    cases = [
        compare(
            "nominal alpha, 1,000,000 units x 3 coders, 8 categories", data(10**6, 3, 8, 0.0), 8
        ),
        compare("nominal alpha, 100,000 units x 5 coders, 20% missing", data(10**5, 5, 8, 0.2), 8),
        compare(
            "interval alpha, 100,000 units x 5 coders, 20% missing (info)",
            data(10**5, 5, 8, 0.2),
            8,
            level="interval",
        ),
        bench_bootstrap(),
        bench_report(),
        bench_report_long(),
    ]
    ok = (
        cases[0]["ratio"] <= 0.5
        and cases[1]["ratio"] <= 0.5
        and cases[3]["annotate_s"] <= 0.2
        and cases[4]["annotate_s"] <= 10.0
        and cases[5]["ratio"] <= 1.0
    )
    print(json.dumps({
        "benchmark": "agreement",
        "baseline": f"krippendorff {metadata.version('krippendorff')} (same run)",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "repeat": REPEAT,
        "cases": cases,
        "all_targets_met": ok,
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
