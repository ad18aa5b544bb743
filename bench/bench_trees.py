"""Reply chains and deep JSON: the paths that were quadratic (issue 13) against linear baselines.

Generates, in a temp dir, one reply chain of N messages as ConvoKit utterances without
conversation (root) ids and as flat oasst rows, and one oasst tree export whose replies nest N
levels deep (one JSON record far deeper than Python's decoder allows). Times, best of three in
CPU seconds (steadier than wall time on a shared machine), each import against a baseline
measured in the same run on the same file:

* ConvoKit ``thread`` (was 224 s at 32k) and ConvoKit / oasst ``--paths all`` (was > 30 s at
  100k), each against ``--paths best`` on the same file (a path that was always linear);
* the nested oasst export (decoded by the explicit-stack decoder) against the same messages as
  flat rows (decoded by the C decoder);
* each at N and 2N: the doubling ratio (linear: about 2; the old quadratic code: 4 to 6).

Prints one JSON object.
"""

from __future__ import annotations

import gc
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from annotate.importers import import_corpus

N = 50_000


def convokit_chain(folder: Path, n: int) -> Path:
    folder.mkdir()
    with open(folder / "utterances.jsonl", "w", encoding="utf-8") as f:
        for i in range(n):
            utt = {
                "id": f"u{i}",
                "reply-to": None if i == 0 else f"u{i - 1}",
                "speaker": "bot" if i % 2 else "ann",
                "text": f"utterance {i}",
                "timestamp": i,
            }
            f.write(json.dumps(utt) + "\n")
    (folder / "speakers.json").write_text('{"bot": {"meta": {"role": "assistant"}}}')
    return folder


def oasst_rows(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            row = {
                "message_id": f"m{i}",
                "parent_id": None if i == 0 else f"m{i - 1}",
                "role": "assistant" if i % 2 else "prompter",
                "text": f"message {i}",
            }
            f.write(json.dumps(row) + "\n")
    return path


def oasst_nested(path: Path, n: int) -> Path:
    """The same chain as one tree export record: each message the only reply of the one before."""
    with open(path, "w", encoding="utf-8") as f:
        f.write('{"message_tree_id": "t", "prompt": ')
        for i in range(n):
            role = "assistant" if i % 2 else "prompter"
            f.write(
                f'{{"message_id": "m{i}", "role": "{role}", "text": "message {i}", "replies": ['
            )
        f.write("]}" * n + "}\n")
    return path


def cpu_time(src: Path, fmt: str, out: Path, **opts) -> float:
    best = float("inf")
    for k in range(3):
        gc.collect()
        c0 = time.process_time()
        import_corpus(src, fmt, out=out.with_name(f"{out.name}-{k}"), **opts)
        best = min(best, time.process_time() - c0)
    return best


def main() -> None:
    warnings.simplefilter("ignore")
    cases: dict[str, tuple[Callable[[Path, int], Path], str, dict, dict]] = {
        "convokit_thread": (convokit_chain, "convokit", {"paths": "thread"}, {"paths": "best"}),
        "convokit_all": (convokit_chain, "convokit", {"paths": "all"}, {"paths": "best"}),
        "oasst_all": (oasst_rows, "oasst", {"paths": "all"}, {"paths": "best"}),
    }
    result: dict = {"benchmark": "reply_chains_and_deep_json", "n": N, "unit": "cpu_seconds"}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        import_corpus(oasst_rows(tmp / "warm.jsonl", 100), "oasst", out=tmp / "warm")
        for name, (make, fmt, opts, base_opts) in cases.items():
            times = {}
            for n in (N, 2 * N):
                src = make(tmp / f"{name}-{n}", n)
                times[n] = cpu_time(src, fmt, tmp / f"o-{name}-{n}", **opts)
                if n == 2 * N:
                    base = cpu_time(src, fmt, tmp / f"b-{name}-{n}", **base_opts)
            result[name] = {
                f"s_at_{N}": round(times[N], 3),
                f"s_at_{2 * N}": round(times[2 * N], 3),
                "doubling_ratio": round(times[2 * N] / times[N], 2),
                f"baseline_best_s_at_{2 * N}": round(base, 3),
                "ratio_vs_baseline": round(times[2 * N] / base, 2),
            }
        times = {}
        for n in (N, 2 * N):
            times[n] = cpu_time(oasst_nested(tmp / f"nested-{n}.jsonl", n), "oasst", tmp / f"n{n}")
        flat = cpu_time(oasst_rows(tmp / f"flat-{2 * N}.jsonl", 2 * N), "oasst", tmp / "f")
        result["oasst_nested_deep_json"] = {
            f"s_at_{N}": round(times[N], 3),
            f"s_at_{2 * N}": round(times[2 * N], 3),
            "doubling_ratio": round(times[2 * N] / times[N], 2),
            f"baseline_flat_rows_s_at_{2 * N}": round(flat, 3),
            "ratio_vs_baseline": round(times[2 * N] / flat, 2),
        }
    result["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
