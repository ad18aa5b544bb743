"""The quote bank (``annotate quotes``) on the demo corpus, with illustrative evidence spans.

The demo's own labels have no spans, so this fixture codes the demo corpus with the toy
codebook (whose ``ai_autonomy_support`` and ``user_defers`` take evidence) and marks spans by
rule: every assistant question (the sentence ending in "?") of the first conversations is
marked by alice; bob marks it without its first word (or, on every third, not at all); carol
marks it too where bob does not, and elsewhere another sentence of the turn or nothing; an LLM
coder marks other words everywhere; gold decides one turn. So each coded turn has one quote,
known here without the quote bank's code: bob's span where he marked, else alice's (= carol's).
Every quote must be found verbatim at its offsets in the corpus.
"""

from __future__ import annotations

import csv
import hashlib
import html.parser
import io
import json
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import annotate
from annotate.cli import main
from annotate.export._quotes import quote_bank, render
from annotate.nlp import mask_text
from annotate.store import evidence_span

REPO = Path(__file__).resolve().parents[2]
CODE = "ai_autonomy_support"
EMAIL_TURN = "my email is jordan.miles@example.com"


def _question(text: str) -> tuple[int, int] | None:
    """The first sentence of a turn that ends in a question mark (a plain-text one)."""
    for m in re.finditer(r"(?:^|(?<=[.!?]\s))([A-Z][^.!?\n*`_\[\]<>]{8,}\?)", text):
        return m.start(1), m.end(1)
    return None


@pytest.fixture(scope="module")
def bank_project(tmp_path_factory) -> tuple[annotate.Project, dict]:
    root = tmp_path_factory.mktemp("quotes")
    annotate.import_corpus(REPO / "corpora/demo/demo.jsonl", "openai", out=root / "corpus")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        project = annotate.Project.create(
            root / "project", corpus=root / "corpus", codebook=REPO / "codebooks/toy.yaml",
            coders=["alice", "bob", "carol"], per_item=3, seed=1,
        )  # fmt: skip
    turns = project.corpus.turns
    events, expected = [], {}

    def ev(who, cid, ti, spans, value="1", code=CODE):
        return {"annotator_id": who, "unit": "turn", "conversation_id": cid, "turn_index": ti,
                "code_id": code, "value": value, "evidence": spans or None}  # fmt: skip

    k = 0
    for r in turns[turns["role"].eq("assistant")].itertuples():
        if r.conversation_id > "c012":
            break
        q = _question(r.text)
        if q is None:
            continue
        cid, ti, text = r.conversation_id, int(r.turn_index), r.text
        first = text.index(" ", q[0]) + 1  # after the question's first word
        alice = evidence_span(text, *q)
        events.append(ev("alice", cid, ti, [alice]))
        if k % 3:
            events.append(ev("bob", cid, ti, [evidence_span(text, first, q[1])]))
            expected[(cid, ti)] = text[first : q[1]]
            other = re.search(r"[A-Z][^.!?]{5,}[.!]", text[q[1] :])
            spans = [evidence_span(text, q[1] + other.start(), q[1] + other.end())] if other else []
            events.append(ev("carol", cid, ti, spans, value="1" if k % 2 else "0"))
        else:
            events.append(ev("bob", cid, ti, []))  # agrees on the code, marks nothing
            events.append(ev("carol", cid, ti, [alice]))
            expected[(cid, ti)] = text[q[0] : q[1]]
        events.append(ev("gpt", cid, ti, [evidence_span(text, 0, q[0] or 1)]))  # never human
        k += 1
    # the e-mail turn: two coders' spans overlap in the middle of the address (masked whole)
    row = turns[turns["text"].str.contains(EMAIL_TURN, regex=False)].iloc[0]
    cid, ti, text = row["conversation_id"], int(row["turn_index"]), row["text"]
    at = text.index("email is")
    a = evidence_span(text, at, text.index("@"))  # "email is jordan.miles"
    b = evidence_span(text, at + 6, text.index(".com") + 8)  # "is jordan.miles@example.com and"
    events += [
        ev("alice", cid, ti, [a], code="user_defers"),
        ev("bob", cid, ti, [b], code="user_defers"),
    ]
    # gold decides one turn: its span is the quote, whoever marked it
    gold_key = sorted(expected)[0]
    gold_text = turns[
        (turns["conversation_id"] == gold_key[0]) & (turns["turn_index"] == gold_key[1])
    ]["text"].iloc[0]
    gold_span = evidence_span(gold_text, 0, gold_text.index(" "))
    events.append(ev("gold", *gold_key, [gold_span]))
    project.append(events)
    (project.path / "llm" / "gpt").mkdir(parents=True)
    (project.path / "llm" / "gpt" / "coder.json").write_text(json.dumps({"kind": "llm"}))
    facts = {"expected": expected, "gold": (gold_key, gold_text[: gold_span["end"]]),
             "email": (cid, ti), "n_gpt": k}  # fmt: skip
    assert len(expected) >= 8
    return project, facts


def test_cli_quote_bank_every_quote_verbatim_at_its_offsets(bank_project, tmp_path):
    project, facts = bank_project
    out = tmp_path / "bank.csv"
    args = ["quotes", str(project.path), "--codes", f"{CODE},user_defers", "--min-agreement", "2",
            "--context", "1", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "quote(s) written to" in result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    turns = project.corpus.turns.set_index(["conversation_id", "turn_index"])
    got = {}
    for r in rows:
        cid, ti, start, end = (
            r["conversation_id"],
            int(r["turn_index"]),
            int(r["start"]),
            int(r["end"]),
        )
        text = turns.loc[(cid, ti), "text"]
        assert hashlib.sha256(text[start:end].encode()).hexdigest() == r["sha256"]
        if r["masked"] == "False":
            assert text[start:end] == r["quote"]  # verbatim at its offsets
        prev = turns.loc[(cid, ti - 1)]
        assert r["context"] == f"{prev['role']}: {mask_text(prev['text'])}"
        assert r["codebook_id"] == "toy" and r["codebook_version"] == "1.0.0"
        assert r["user_id"] == project.corpus.conversation_meta(cid)["user_id"]
        got[(cid, ti, r["code_id"])] = r
    # one quote per coded turn: bob's words where he marked, else alice's and carol's; gold wins
    gold_key, gold_quote = facts["gold"]
    for (cid, ti), quote in facts["expected"].items():
        r = got.pop((cid, ti, CODE))
        if (cid, ti) == gold_key:
            assert (r["quote"], r["source"]) == (gold_quote, "gold")
        else:
            assert (r["quote"], r["source"]) == (quote, "coders")
            assert r["n_coders"] in ("2", "3") and "gpt" not in r["coders"]
    # the e-mail address is masked whole, although the coders' spans cut it
    email = got.pop((*facts["email"], "user_defers"))
    assert email["quote"] == "is [EMAIL]" and email["masked"] == "True"
    assert email["coders"] == "alice, bob"
    assert not got  # nothing else: the LLM coder's words alone never make a quote


def test_min_agreement_and_no_mask(bank_project):
    project, facts = bank_project
    two = quote_bank(project, codes=CODE, min_agreement=2)
    three = quote_bank(project, codes=CODE, min_agreement=3)
    one = quote_bank(project, codes=CODE, min_agreement=1, mask=False, context=0)
    assert len(three) < len(two) <= len(one)
    assert three["source"].tolist() == ["gold"]  # no three coders marked the same words
    assert len(two) == len(facts["expected"]) and len(one) > len(two)  # alone: alice's first words
    assert (one["context"] == "").all()
    plain = quote_bank(project, codes="user_defers", mask=False)
    assert plain["quote"].tolist() == ["is jordan.miles"] and not plain["masked"].any()
    with pytest.raises(annotate.errors.ExportError, match=r"E511.*ai_empathy"):
        quote_bank(project, codes="ai_empathy")
    with pytest.raises(annotate.errors.ExportError, match="E510"):
        quote_bank(project, min_agreement=0)


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.quotes: list[str] = []
        self._in = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in = tag == "blockquote"

    def handle_endtag(self, tag):
        self._in = False

    def handle_data(self, data):
        if self._in:
            self.quotes.append(data)


def test_html_and_markdown_escape_everything(tmp_path):
    """A turn with markup: the HTML page shows it as text (nothing to run), Markdown too."""
    text = "<script>alert(1)</script> & **you** decide <b>now</b>"
    none = dict.fromkeys(("created_at", "model", "meta", "speaker"))
    turns = [
        {
            "conversation_id": "h1",
            "turn_index": 0,
            "turn_id": "h1",
            "role": "user",
            "text": text,
            **none,
        }
    ]
    convs = [{"conversation_id": "h1", "source": "t", "source_id": "h1", "n_turns": 1,
              **dict.fromkeys(("started_at", "model", "meta", "language", "user_id"))}]  # fmt: skip
    corpus = annotate.corpus.write_corpus(
        tmp_path / "c", pd.DataFrame(turns), pd.DataFrame(convs), {}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        toy = REPO / "codebooks/toy.yaml"
        p = annotate.Project.create(
            tmp_path / "p", corpus=corpus, codebook=toy, coders=["alice", "bob"], per_item=2
        )
    span = evidence_span(text, 0, len(text))
    key = {"unit": "turn", "conversation_id": "h1", "turn_index": 0, "code_id": "user_defers"}
    p.append(
        [{"annotator_id": a, **key, "value": "1", "evidence": [span]} for a in ("alice", "bob")]
    )
    bank = quote_bank(p)
    assert bank["quote"].tolist() == [text]
    page = render(bank, "html", title="<t>")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; **you**" in page
    parsed = _Text()
    parsed.feed(page)
    assert "".join(parsed.quotes) == text and "script" not in parsed.tags and "b" not in parsed.tags
    md = render(bank, "md")
    assert "> \\<script\\>alert(1)\\</script\\> \\& \\*\\*you\\*\\* decide \\<b\\>now\\</b\\>" in md
    back = list(csv.DictReader(io.StringIO(render(bank, "csv"))))
    assert back[0]["quote"] == text


NO_EVIDENCE = """
id: plain
version: 1.0.0
title: No evidence
codes:
  - {id: empathy, label: Empathy, unit: turn, applies_to: [assistant], level: binary,
     definition: Names a feeling.}
"""


def test_quotes_of_a_codebook_without_evidence_say_so(bank_project, tmp_path):
    """A codebook that marks no code for evidence has no quotes: one clear error."""
    project, _ = bank_project
    (tmp_path / "plain.yaml").write_text(NO_EVIDENCE, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = annotate.Project.create(
            tmp_path / "p", corpus=project.corpus_path, codebook=tmp_path / "plain.yaml",
            coders=["alice"],
        )  # fmt: skip
    result = CliRunner().invoke(main, ["quotes", str(plain.path)])
    assert result.exit_code == 1 and "E512" in result.output and "'plain' v1.0.0" in result.output


def test_export_card_counts_evidence_and_quotes(bank_project, tmp_path):
    project, facts = bank_project
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = annotate.export.write(project, tmp_path / "export", labels="all", bootstrap=0)
    card = (out / "README.md").read_text(encoding="utf-8")
    section = card[card.index("## Evidence and quotes") :]
    head = next(ln for ln in section.splitlines() if ln.startswith("| code_id |"))
    assert head.split(" | ")[3:6] == ["quotes (>= 2 coders or gold)", "spans (LLM, not counted)",
                                      "stale spans |"]  # fmt: skip
    line = next(ln for ln in section.splitlines() if ln.startswith(f"| {CODE} |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    labels = project.labels()
    people = labels[(labels["code_id"] == CODE) & ~labels["annotator_id"].isin(["gpt", "gold"])]
    n_spans = sum(0 if e is None else len(e) for e in people["evidence"])
    assert cells[1] == str(n_spans)
    assert int(cells[2]) == len(facts["expected"])  # every coded turn has evidence
    assert cells[3] == str(len(quote_bank(project, codes=CODE)))
    assert cells[4] == str(facts["n_gpt"]) and cells[5] == "0"
