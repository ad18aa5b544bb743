"""``annotate quotes`` on the demo project (issue #20, "Done when"): the quote bank of the
default codebook 2.1.0 from the demo coders' evidence spans (corpora/demo/labels/
evidence-2.1.0.jsonl), in CSV, Markdown and HTML. Every quote must be found verbatim at its
offsets in the corpus's ``turns.text``; the data card counts the quotes; agreement reports the
coders' span overlap for the codes that take evidence.

The expected counts are derived here from the shipped label files (which coders marked which
words where), not from the quote bank's code.
"""

from __future__ import annotations

import csv
import hashlib
import html
import itertools
import json
import re
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from annotate.cli import main
from annotate.demo import demo_project

REPO = Path(__file__).resolve().parents[2]
LABELS = REPO / "corpora" / "demo" / "labels"
#: the codes of 2.1.0 that take evidence and occur in the demo's labels
DEMO_CODES = {
    "ai_false_claim", "ai_retention_tactic", "user_loneliness", "user_attachment",
    "user_ai_connection",
}  # fmt: skip
ARGS = ["--min-agreement", "2", "--context", "1"]


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):  # type: ignore[no-untyped-def]
    project = demo_project(tmp_path_factory.mktemp("demo-quotes"))
    turns = project.corpus.turns
    texts = {(c, int(t)): x for c, t, x in turns[["conversation_id", "turn_index", "text"]].values}
    return project, texts


@pytest.fixture(scope="module")
def marked() -> dict[tuple[str, int, str], dict[str, tuple[int, int]]]:
    """(conversation, turn, code) -> coder -> the span the coder marked (from the files)."""
    out: dict[tuple[str, int, str], dict[str, tuple[int, int]]] = defaultdict(dict)
    for e in _jsonl(LABELS / "evidence-2.1.0.jsonl"):
        (span,) = e["evidence"]
        out[(e["conversation_id"], e["turn_index"], e["code_id"])][e["annotator_id"]] = (
            span["start"], span["end"],
        )  # fmt: skip
    return out


def _quotes(project_dir: Path, fmt: str, tmp_path: Path) -> str:
    out = tmp_path / f"bank.{fmt}"
    result = CliRunner().invoke(main, ["quotes", str(project_dir), *ARGS, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "quote(s) written to" in result.output
    return out.read_text(encoding="utf-8")


def test_csv_quote_bank_of_the_demo_every_quote_verbatim(demo, marked, tmp_path) -> None:
    project, texts = demo
    rows = list(csv.DictReader(_quotes(project.path, "csv", tmp_path).splitlines()))
    assert len(rows) >= 10
    assert {r["code_id"] for r in rows} == DEMO_CODES  # quotes for every code the demo holds
    for r in rows:
        key = (r["conversation_id"], int(r["turn_index"]))
        start, end = int(r["start"]), int(r["end"])
        text = texts[key]
        assert text[start:end] == r["quote"]  # verbatim at its offsets in turns.text
        assert hashlib.sha256(r["quote"].encode("utf-8")).hexdigest() == r["sha256"]
        assert r["masked"] == "False"
        assert (r["codebook_id"], r["codebook_version"]) == ("sdt-socioaffective", "2.1.0")
        assert r["user_id"] == project.corpus.conversation_meta(key[0])["user_id"]
        prev = project.corpus.turns.set_index(["conversation_id", "turn_index"]).loc[
            (key[0], key[1] - 1)
        ]
        assert r["context"] == f"{prev['role']}: {prev['text']}"  # nothing to mask here
        # every character of the quote was marked by two or more of the coders the row names,
        # each of whom marked some of it
        coders = r["coders"].split(", ")
        assert int(r["n_coders"]) == len(coders) >= 2 and r["source"] == "coders"
        spans = marked[(*key, r["code_id"])]
        assert all(spans[c][0] < end and start < spans[c][1] for c in coders)
        for i in range(start, end):
            assert sum(spans[c][0] <= i < spans[c][1] for c in coders) >= 2
    # and every stretch that two coders marked on one turn and code is in the bank
    expected = set()
    for (cid, ti, code), spans in marked.items():
        for (a0, a1), (b0, b1) in itertools.combinations(spans.values(), 2):
            if max(a0, b0) < min(a1, b1):
                expected.add((cid, ti, code))
    assert {(r["conversation_id"], int(r["turn_index"]), r["code_id"]) for r in rows} == expected


def test_markdown_and_html_quote_banks_hold_the_same_quotes(demo, tmp_path) -> None:
    project, texts = demo
    rows = list(csv.DictReader(_quotes(project.path, "csv", tmp_path).splitlines()))
    want = [(r["conversation_id"], int(r["turn_index"]), int(r["start"]), int(r["end"]))
            for r in rows]  # fmt: skip
    where = re.compile(
        r"conversation (c\d+), user \w+, turn (\d+) \(\w+\);.*characters (\d+)–(\d+)"
    )

    md = _quotes(project.path, "md", tmp_path)
    quotes = [re.sub(r"\\(.)", r"\1", ln[2:]) for ln in md.splitlines() if ln.startswith("> ")]
    places = [m.groups() for m in where.finditer(md)]
    got = [(c, int(t), int(s), int(e)) for c, t, s, e in places]
    assert got == want and len(quotes) == len(want)
    for (cid, ti, s, e), quote in zip(got, quotes, strict=True):
        assert texts[(cid, ti)][s:e] == quote

    page = _quotes(project.path, "html", tmp_path)
    blocks = [html.unescape(q) for q in re.findall(r"<blockquote>(.*?)</blockquote>", page, re.S)]
    got = [(c, int(t), int(s), int(e)) for c, t, s, e in where.findall(page)]
    assert got == want and len(blocks) == len(want)
    for (cid, ti, s, e), quote in zip(got, blocks, strict=True):
        assert texts[(cid, ti)][s:e] == quote
    for code in DEMO_CODES:
        assert f'<h2 id="{code}">' in page and f"(`{code}`)" in md


def test_data_card_counts_the_demo_evidence_and_quotes(demo, tmp_path) -> None:
    project, _ = demo
    rows = list(csv.DictReader(_quotes(project.path, "csv", tmp_path).splitlines()))
    per_code = pd.Series([r["code_id"] for r in rows]).value_counts()
    spans = pd.Series([e["code_id"] for e in _jsonl(LABELS / "evidence-2.1.0.jsonl")])
    out = tmp_path / "export"
    args = ["export", str(project.path), "--out", str(out), "--labels", "all", "--bootstrap", "0"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    card = (out / "README.md").read_text(encoding="utf-8")
    section = card[card.index("## Evidence and quotes") :]
    for code in DEMO_CODES:
        line = next(ln for ln in section.splitlines() if ln.startswith(f"| {code} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1] == str(spans.value_counts()[code])  # spans of the coders
        assert cells[3] == str(per_code.get(code, 0))  # quotes (>= 2 coders or gold)
        assert cells[4:6] == ["0", "0"]  # no LLM spans, none stale


def test_agreement_on_the_demo_reports_span_overlap(demo, marked) -> None:
    """Per evidence code: as many compared pairs as the files hold (two coders with the same
    value who both marked words), one-sided pairs, and token F1 (recomputed here for
    user_loneliness, whose turns hold only words and punctuation)."""
    project, texts = demo
    result = CliRunner().invoke(main, ["agreement", str(project.path), "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["code_id"]: r for r in json.loads(result.output)["rows"]}
    labels = project.labels()
    present = labels[labels["value"].eq("1") & labels["code_id"].isin(DEMO_CODES)]
    holders = present.groupby(["conversation_id", "turn_index", "code_id"])["annotator_id"].agg(set)
    for code in DEMO_CODES:
        compared = one_sided = 0
        for (cid, ti, c), coders in holders.items():
            if c != code:
                continue
            with_words = set(marked.get((cid, int(ti), c), {}))
            for a, b in itertools.combinations(sorted(coders), 2):
                n = (a in with_words) + (b in with_words)
                compared += n == 2
                one_sided += n == 1
        row = rows[code]
        assert (row["ev_pairs"], row["ev_one_sided"], row["ev_stale"]) == (compared, one_sided, 0)
        assert compared > 0 and 0 < row["ev_f1"] <= 1 and 0 < row["ev_jaccard"] <= row["ev_f1"]
        assert row["ev_alpha_u"] is not None
    # token F1 of user_loneliness, pooled over the compared pairs
    inter = total = 0
    for (cid, ti, code), spans in marked.items():
        if code != "user_loneliness":
            continue
        words = [m.span() for m in re.finditer(r"\w+", texts[(cid, ti)])]
        sets = {
            who: {i for i, (a, b) in enumerate(words) if s < b and e > a}
            for who, (s, e) in spans.items()
        }
        for x, y in itertools.combinations(sorted(sets), 2):
            inter += len(sets[x] & sets[y])
            total += len(sets[x]) + len(sets[y])
    assert rows["user_loneliness"]["ev_f1"] == pytest.approx(2 * inter / total)
    assert rows["user_loneliness"]["ev_f1"] < 1  # the coders did not all mark the same words
