"""A replicate run of the demo's LLM coder and its prompt-sensitivity table, with the real model.

ILLUSTRATIVE DATA. The model is SmolLM2-135M-Instruct (annotate's ``llm-demo`` extra, a
135-million parameter model that codes badly); the files show the workflow and the format, not
the quality of LLM coding. See README.md in this folder.

What it does (the CLI equivalent in brackets):

1. creates the demo project (``annotate.demo.demo_project``) in a temporary folder;
2. adds the LLM coder ``smol-v1`` (the test model, temperature 0, seed 0, one thread, the two
   user codes of ``CODES``) [``annotate llm add DIR --id smol-v1 --backend llama-cpp --model
   smollm2-135m --temperature 0 --seed 0 --threads 1 --codes ...``] and runs it on the
   ``N_CONVERSATIONS`` shortest conversations of the reliability sample (ties in corpus order)
   [``annotate llm run``];
3. adds its replicates: ``RUNS`` runs at temperature ``TEMPERATURE`` (``smol-v1.r1`` …, seeds
   1 and 2) and one paraphrase of the prompt (``paraphrase.txt`` in this folder, ``smol-v1.p1``,
   the parent's decoding) [``annotate llm replicate DIR --coder smol-v1 --runs 2 --temperature
   0.7`` and ``--paraphrases paraphrase.txt``], and runs them on the same units;
4. writes here:

   * ``replicates.jsonl``: the label events of the four coders (``annotator_id``, ``unit``,
     ``conversation_id``, ``turn_index``, ``code_id``, ``value``), sorted;
   * ``coders.json``: each coder's record without machine paths (model file name and sha256,
     prompt source and hash, decoding settings, codes, parent);
   * ``stability.csv``: ``annotate.llm.prompt_stability(project, "smol-v1", codes=CODES,
     bootstrap=1000, seed=1).table`` (alpha across the runs and across the prompts, with the
     conversation-bootstrap interval).

At temperature 0 llama.cpp decodes greedily, so ``smol-v1`` and ``smol-v1.p1`` repeat their
labels on the same build; the sampled runs depend on llama.cpp's sampler and may differ between
llama-cpp-python versions. tests/llm/test_demo_replicates.py checks the table against the
``krippendorff`` package computed from ``replicates.jsonl``.

Run from the repository root (about 10 minutes on one core)::

    .venv/bin/python corpora/demo/llm/make_replicates.py            # writes the files here
    .venv/bin/python corpora/demo/llm/make_replicates.py --out x/   # elsewhere
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
CODER = "smol-v1"
CODES = ["user_emotional_disclosure", "user_support_seeking"]
N_CONVERSATIONS = 6
RUNS = 2
TEMPERATURE = 0.7
BOOTSTRAP, SEED = 1000, 1
EVENT_COLUMNS = ["annotator_id", "unit", "conversation_id", "turn_index", "code_id", "value"]
RECORD_FIELDS = [
    "id",
    "parent",
    "backend",
    "model",
    "model_sha256",
    "prompt_source",
    "prompt_hash",
    "temperature",
    "seed",
    "top_p",
    "max_tokens",
    "context",
    "max_context_chars",
    "codes",
    "codebook",
]


def chosen_conversations(project) -> list[str]:
    """The ``N_CONVERSATIONS`` shortest conversations of the reliability sample."""
    a = project.assignments
    sample = set(a[a["is_reliability"]]["conversation_id"].astype(str))
    n_turns = project.turns.groupby("conversation_id", sort=False).size()
    n_turns = n_turns[n_turns.index.astype(str).isin(sample)]
    return [str(c) for c in n_turns.sort_values(kind="stable").index[:N_CONVERSATIONS]]


def make(out: Path) -> pd.DataFrame:
    from annotate.demo import demo_project
    from annotate.llm import (
        load_coder,
        prompt_stability,
        replicate_coder,
        replicates_of,
        run_llm_coder,
        run_replicates,
    )
    from annotate.llm.models import smollm2_path

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        project = demo_project(Path(tmp), fresh=True)
        project.add_llm_coder(
            CODER,
            backend="llama-cpp",
            model=str(smollm2_path()),
            temperature=0.0,
            seed=0,
            threads=1,
            codes=CODES,
        )
        chosen = chosen_conversations(project)
        run_llm_coder(project, CODER, conversations=chosen)
        replicate_coder(project, CODER, runs=RUNS, temperature=TEMPERATURE)
        replicate_coder(project, CODER, paraphrases=HERE / "paraphrase.txt")
        run_replicates(project, CODER, conversations=chosen)
        ids = [CODER] + [c.id for c in replicates_of(project, CODER)]
        events = project.labels()
        keep = events["annotator_id"].isin(ids) & events["code_id"].isin(CODES)
        events = events[keep][EVENT_COLUMNS]
        events = events.sort_values(
            ["annotator_id", "conversation_id", "turn_index", "code_id"], kind="stable"
        )
        with open(out / "replicates.jsonl", "w", encoding="utf-8") as f:
            for row in events.astype(object).where(events.notna(), None).to_dict("records"):
                if row["turn_index"] is not None:
                    row["turn_index"] = int(row["turn_index"])
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        records = []
        for cid in ids:
            spec = load_coder(project, cid)
            records.append({k: getattr(spec, k) for k in RECORD_FIELDS})
        meta = {"conversations": chosen, "coders": records}
        (out / "coders.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        stability = prompt_stability(project, CODER, codes=CODES, bootstrap=BOOTSTRAP, seed=SEED)
        stability.table.to_csv(out / "stability.csv", index=False)
        return stability.table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder of the three files")
    args = parser.parse_args()
    table = make(args.out)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
