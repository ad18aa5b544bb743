"""The data card stays readable: long tables become summaries, the full tables are files beside
it (in the export's format), and the design is said in numbers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

import annotate
from annotate.adjudication import gold_labels, gold_summary
from annotate.export._card import (
    CARD_ROWS,
    agreement_section,
    coders_section,
    reliability_line,
)


def _md_tables(card: str) -> list[list[str]]:
    """The Markdown tables of a card, each as its lines."""
    tables, cur = [], []
    for line in card.splitlines():
        if line.startswith("|"):
            cur.append(line)
        elif cur:
            tables.append(cur)
            cur = []
    return tables + ([cur] if cur else [])


def test_card_summarises_long_tables_and_writes_them_beside_it(demo_project, tmp_path) -> None:
    out = annotate.export.write(demo_project, tmp_path / "csv", format="csv", bootstrap=50)
    card = (out / "README.md").read_text(encoding="utf-8")
    # no table of the card is longer than CARD_ROWS rows (+ header and rule)
    assert max(len(t) for t in _md_tables(card)) <= CARD_ROWS + 2
    for name in ("agreement.csv", "coders.csv", "label_sources.csv", "code_counts.csv"):
        assert (out / name).exists(), name
        assert f"`{name}`" in card, name
    # the full tables are the ones the card summarises
    gold = gold_labels(demo_project)
    sources = pd.read_csv(out / "label_sources.csv")
    pd.testing.assert_frame_equal(
        sources, gold_summary(gold).astype({"code_id": object, "source": object}),
        check_dtype=False,
    )  # fmt: skip
    totals = sources.groupby("source")["n_units"].sum()
    for source, n in totals.items():
        assert f"| {source} | {n} |" in card
    counts = pd.read_csv(out / "code_counts.csv", dtype={"value": str})
    resolved = gold[gold["value"].notna()]
    assert counts["n_units"].sum() == len(resolved)
    rare = counts[counts["n_units"] < 10]
    first = rare.sort_values(["n_units", "code_id"], kind="stable").iloc[0]
    assert f"`{first['code_id']}` = {first['value']} ({first['n_units']})" in card
    # the agreement summary: every row under exactly one verdict, counts that add up
    agreement = pd.read_csv(out / "agreement.csv")
    found = {
        m.group(1): int(m.group(2))
        for m in re.finditer(
            r"- \*\*(reliable|tentative|not established|undefined)\*\* \((\d+)\)", card
        )
    }
    assert sum(found.values()) == len(agreement)
    expected = agreement["verdict"].str.replace(r" \(no CI\)|, few cases", "", regex=True)
    assert found == expected.value_counts().to_dict()
    assert f"{int(agreement['few_cases'].sum())} of them rest on **few cases**" in card
    coders = pd.read_csv(out / "coders.csv")
    assert coders["annotator_id"].tolist() == ["alice", "bob", "carol"]
    assert "| alice |" in card  # three coders: a short table stays a table


def test_short_agreement_table_stays_a_table() -> None:
    table = pd.DataFrame(
        {
            "code_id": ["a", "b"],
            "unit": "turn",
            "role": ["user", None],
            "n_units": [100, 40],
            "alpha": [0.91, 1.0],
            "alpha_low": [0.85, 1.0],
            "alpha_high": [0.95, 1.0],
            "distribution": [{"0": 0.7, "1": 0.3}, {"0": 0.99, "1": 0.01}],
        }
    )
    text = agreement_section(table, 500, None, "agreement.parquet")
    lines = text.splitlines()
    assert lines[0] == "| code | role | units | alpha | 95% CI | verdict |"
    assert "| a | user | 100 | 0.910 | [0.850, 0.950] | reliable |" in lines
    assert "| b |  | 40 | 1.000 | [1.000, 1.000] | reliable, few cases |" in lines
    assert lines[-1] == "Every coefficient of every code: `agreement.parquet`."


def test_many_coders_become_a_summary_line() -> None:
    table = pd.DataFrame(
        {
            "annotator_id": [f"c{i:02d}" for i in range(20)],
            "units": np.arange(100, 120),
            "conversations": 5,
        }
    )
    text = coders_section(table, "coders.csv")
    assert text == "20 coders labelled 100–119 units each (median 110). Per coder: `coders.csv`."
    assert coders_section(table.head(3), None).startswith("| annotator_id | units |")


def test_reliability_line_says_the_sample_in_conversations_and_percent() -> None:
    design = {"n_reliability": 20, "n_conversations": 200, "n_rel": None}
    assert reliability_line(design) == (
        "reliability sample: 20 conversations (10 %) of the project's 200, each coded "
        "independently by every coder"
    )
    design = {"n_reliability": 20, "n_conversations": 200, "n_rel": 2}
    assert reliability_line(design).endswith("each coded independently by 2 coders")
    assert "none" in reliability_line({"n_reliability": 0, "n_conversations": 200})


def test_card_of_a_sampled_project_in_numbers(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    annotate.import_corpus(repo / "corpora/demo/demo.jsonl", "openai", out=tmp_path / "c")
    project = annotate.Project.create(
        tmp_path / "p", corpus=tmp_path / "c", codebook=repo / "codebooks/sdt-socioaffective.yaml",
        coders=["alice", "bob"], reliability=0.25, seed=3, sample=40, stratify="model",
    )  # fmt: skip
    rel = project.assignments.loc[project.assignments["is_reliability"], "conversation_id"]
    conv = sorted(rel.unique())[0]
    events = [
        {"annotator_id": coder, "unit": "conversation", "conversation_id": conv,
         "turn_index": None, "code_id": "conv_warmth", "value": value, "op": "set"}
        for coder, value in (("alice", "3"), ("bob", "4"))
    ]  # fmt: skip
    project.append(pd.DataFrame(events))
    out = annotate.export.write(project, tmp_path / "out", labels="all", bootstrap=0)
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "reliability sample: 10 conversations (25 %) of the project's 40" in card
    assert "sample: **40** conversations" in card
    assert (out / "sample_strata.parquet").exists()
    strata = pd.read_parquet(out / "sample_strata.parquet")
    assert strata["sample"].sum() == 40
