"""Benchmark: ``describe`` on 10,000 conversations x 20 turns x 60 codes (synthetic).

Codes: 29 binary user codes, 29 binary assistant codes (each coded on every turn of its role,
as Project.unit_labels() makes implicit absences explicit), one conversation-level nominal
context code and one ordinal rating: 5.8 million turn labels. 500 users with 20 sessions each.
Baseline: the time pandas needs to group-count the same labels by (code_id, value).
Prints one JSON object.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotate.analysis import describe
from annotate.codebook.model import Code, Codebook, CodeValue, Version

N_CONV, N_TURNS, N_USER, N_AI = 10_000, 20, 29, 29
#: three codes carry default-codebook ids so that a default sequence query (with its 500
#: within-conversation permutations) runs too
RENAME = {"user_00": "user_support_seeking", "ai_00": "ai_empathy", "ai_01": "ai_bridge"}


def _id(name: str) -> str:
    return RENAME.get(name, name)


def _code(cid: str, unit: str, roles: tuple[str, ...], level: str, values: list[str]) -> Code:
    vals = tuple(CodeValue(v, v) for v in values)
    return Code(cid, cid, unit, roles, level, vals, (), cid, codebook_id="bench")


def codebook() -> Codebook:
    codes = [
        _code(_id(f"user_{k:02d}"), "turn", ("user",), "binary", ["0", "1"]) for k in range(N_USER)
    ]
    codes += [
        _code(_id(f"ai_{k:02d}"), "turn", ("assistant",), "binary", ["0", "1"]) for k in range(N_AI)
    ]
    codes.append(_code("conv_context", "conversation", ("assistant",), "nominal", ["a", "b", "c"]))
    codes.append(_code("conv_warmth", "conversation", ("assistant",), "ordinal", list("12345")))
    return Codebook("bench", Version("1.0.0"), "bench", None, (), (), tuple(codes), (), "0" * 64)


def data(seed: int = 0) -> tuple[pd.DataFrame, SimpleNamespace]:
    rng = np.random.default_rng(seed)
    conv_ids = np.array([f"c{i:05d}" for i in range(N_CONV)])
    tidx = np.tile(np.arange(N_TURNS), N_CONV)
    conv = np.repeat(np.arange(N_CONV), N_TURNS)
    role = np.where(tidx % 2 == 0, "user", "assistant")
    parts = []
    rates = rng.uniform(0.02, 0.4, N_USER + N_AI)
    for k in range(N_USER + N_AI):
        is_user = k < N_USER
        rows = np.flatnonzero((tidx % 2 == 0) == is_user)
        present = rng.random(len(rows)) < rates[k]
        parts.append(
            pd.DataFrame(
                {
                    "conv": conv[rows],
                    "turn_index": tidx[rows],
                    "role": role[rows],
                    "code_id": _id(f"user_{k:02d}" if is_user else f"ai_{k - N_USER:02d}"),
                    "value": np.where(present, "1", "0"),
                }
            )
        )
    turns = pd.concat(parts, ignore_index=True)
    labels = pd.DataFrame(
        {
            "annotator_id": pd.Categorical(["gold"] * len(turns)),
            "unit": pd.Categorical(["turn"] * len(turns)),
            "conversation_id": pd.Categorical.from_codes(turns["conv"], categories=conv_ids),
            "turn_index": turns["turn_index"].astype("Int32"),
            "role": pd.Categorical(turns["role"]),
            "code_id": pd.Categorical(turns["code_id"]),
            "value": pd.Categorical(turns["value"]),
        }
    )
    conv_labels = pd.DataFrame(
        {
            "annotator_id": "gold",
            "unit": "conversation",
            "conversation_id": np.concatenate([conv_ids, conv_ids]),
            "turn_index": pd.array([None] * (2 * N_CONV), dtype="Int32"),
            "role": None,
            "code_id": ["conv_context"] * N_CONV + ["conv_warmth"] * N_CONV,
            "value": np.concatenate(
                [rng.choice(list("abc"), N_CONV), rng.choice(list("12345"), N_CONV)]
            ),
        }
    )
    labels = pd.concat([labels, conv_labels.astype(labels.dtypes.to_dict())], ignore_index=True)
    users = np.repeat(np.arange(500), N_CONV // 500)
    start = pd.Timestamp("2025-01-01", tz="UTC")
    conversations = pd.DataFrame(
        {
            "conversation_id": conv_ids,
            "source": "synthetic",
            "user_id": [f"u{u:03d}" for u in users],
            "started_at": start + pd.to_timedelta(np.arange(N_CONV), unit="h"),
            "n_turns": N_TURNS,
            "model": np.where(np.arange(N_CONV) % 2 == 0, "model-a", "model-b"),
            "meta": None,
        }
    )
    corpus_turns = pd.DataFrame(
        {"conversation_id": conv_ids[conv], "turn_index": tidx, "role": role, "model": None}
    )
    return labels, SimpleNamespace(turns=corpus_turns, conversations=conversations)


def main() -> None:
    labels, corpus = data()
    cb = codebook()
    t0, c0 = time.perf_counter(), time.process_time()
    labels.groupby(["code_id", "value"], observed=True).size()
    baseline, baseline_cpu = time.perf_counter() - t0, time.process_time() - c0
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        d = describe(labels, corpus, cb, out=Path(tmp), plots=False, seed=0)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        t0 = time.perf_counter()
        describe(labels, corpus, cb, out=Path(tmp) / "with_plots", plots=True, seed=0)
        seconds_plots = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "benchmark": "describe",
                "conversations": N_CONV,
                "turns_per_conversation": N_TURNS,
                "codes": len(cb.codes),
                "label_rows": len(labels),
                "bootstrap": 1000,
                "permutations": 500,
                "seconds": round(seconds, 2),
                "cpu_seconds": round(cpu, 2),
                "seconds_with_figures": round(seconds_plots, 2),
                "baseline": "pandas groupby(code_id, value).size() on the same labels",
                "baseline_seconds": round(baseline, 3),
                "ratio": round(seconds / baseline, 1),
                "baseline_cpu_seconds": round(baseline_cpu, 3),
                "cpu_ratio": round(cpu / baseline_cpu, 1),
                "budget_seconds": 30,
                "within_budget": seconds <= 30,
                "tables": {k: len(v) for k, v in d.tables.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
