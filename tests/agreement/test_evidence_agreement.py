"""Agreement on evidence spans: Krippendorff's unitizing alpha against his published examples,
token F1 and Jaccard on a real project (hand-computed values), stale spans, LLM coders and gold
left out, and the report's and the CLI's evidence columns.

Reference values of alpha_u: Krippendorff, K. (2004). Content Analysis: An Introduction to Its
Methodology, 2nd ed., Sage, p. 254 (two observers, categories c and k on [150, 450)); and
Krippendorff, K. (1995). On the reliability of unitizing contiguous data. Sociological
Methodology 25, 47-76, p. 57 (four studies A-D of two observers on 24 units), as transcribed in
DKPro Statistics' tests (Krippendorff2004Test, Krippendorff1995Test), with their tolerances.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from annotate.agreement import report as agreement_report
from annotate.agreement.evidence import (
    coder_kinds,
    evidence_agreement,
    non_human,
    tokens,
    unitizing_alpha,
)
from annotate.corpus import write_corpus
from annotate.project import Project
from annotate.store import LabelStore, evidence_span

REPO = Path(__file__).resolve().parents[2]
TOY = REPO / "codebooks" / "toy.yaml"


# --- alpha_u: Krippendorff's examples ---------------------------------------------------------
def test_alpha_u_krippendorff_2004_example():
    units = [
        (0, "c", 225, 295), (0, "c", 370, 400), (1, "c", 220, 300), (1, "c", 355, 375),
        (1, "c", 400, 420), (0, "k", 180, 240), (0, "k", 300, 350), (1, "k", 180, 240),
        (1, "k", 300, 350),
    ]  # fmt: skip
    got = unitizing_alpha(units, 150, 300, 2)
    alpha_c, do_c, de_c = got.categories["c"]
    assert do_c == pytest.approx(0.0144, abs=1e-4)
    assert de_c == pytest.approx(0.0532, abs=1e-4)
    assert alpha_c == pytest.approx(0.7286, abs=1e-4)
    alpha_k, do_k, de_k = got.categories["k"]
    assert (do_k, alpha_k) == (0.0, 1.0) and de_k == pytest.approx(0.0490, abs=1e-4)
    assert got.alpha == pytest.approx(0.8591, abs=5e-4)


def _example_1995(stretch: float):
    s = lambda x: int(x * stretch)  # noqa: E731
    spec = {
        "A": [(2, 8, 0), (14, 6, 0), (4, 4, 1), (15, 2, 1)],
        "B": [(0, 18, 0), (0, 2, 1), (2, 1, 1), (3, 1, 1), (4, 1, 1), (5, 1, 1), (6, 3, 1),
              (9, 1, 1)],
        "C": [(2, 6, 0), (10, 2, 0), (14, 4, 0), (20, 2, 0), (0, 2, 1), (4, 4, 1), (10, 4, 1),
              (16, 2, 1), (20, 2, 1)],
        "D": [(0, 2, 0), (2, 8, 0), (10, 4, 0), (14, 6, 0), (20, 4, 0), (0, 4, 1), (4, 4, 1),
              (8, 7, 1), (15, 2, 1), (17, 7, 1)],
    }  # fmt: skip
    units = [(obs, cat, s(b), s(b) + s(n)) for cat, rows in spec.items() for b, n, obs in rows]
    return unitizing_alpha(units, 0, s(24), 2)


def test_alpha_u_krippendorff_1995_observed():
    got = _example_1995(1).categories
    for cat, observed in {"A": 0.03125, "B": 2.26736, "C": 0.02777, "D": 0.38715}.items():
        assert got[cat][1] == pytest.approx(observed, abs=1e-5), cat


def test_alpha_u_krippendorff_1995_continuous():
    """The published expected disagreements and alphas are of the continuous case (the
    example stretched to a fine grid); the paper's D_e has a small error (DKPro's note), hence
    the tolerances .005 and .02 of DKPro's test."""
    got = _example_1995(1_200_000 / 24).categories
    expected = {"A": 0.06990, "B": 1.17731, "C": 0.08642, "D": 0.41445}
    alphas = {"A": 0.553, "B": -0.926, "C": 0.679, "D": 0.066}
    for cat in "ABCD":
        assert got[cat][2] == pytest.approx(expected[cat], abs=0.005), cat
        assert got[cat][0] == pytest.approx(alphas[cat], abs=0.02), cat


def test_alpha_u_identical_and_symmetric():
    same = [(0, "x", 3, 9), (1, "x", 3, 9), (0, "x", 20, 25), (1, "x", 20, 25)]
    assert unitizing_alpha(same, 0, 40, 2).alpha == 1.0
    a = [(0, "x", 3, 9), (1, "x", 5, 12), (0, "x", 20, 25)]
    b = [(1 - o, c, s, e) for o, c, s, e in a]
    assert unitizing_alpha(a, 0, 40, 2).alpha == unitizing_alpha(b, 0, 40, 2).alpha


def test_tokens_leave_punctuation_out_and_keep_symbols():
    text = "Just tell me, you decide… 😀 ok?"
    assert [text[s:e] for s, e in tokens(text)] == [
        "Just",
        "tell",
        "me",
        "you",
        "decide",
        "😀",
        "ok",
    ]


# --- a real project ---------------------------------------------------------------------------
T1 = "Just tell me what to do, you decide."
T2 = "Should I break up with him? You decide."
T3 = "I don't know. Pick one for me."


def _span(text: str, words: str) -> dict:
    start = text.index(words)
    return evidence_span(text, start, start + len(words))


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    none = dict.fromkeys(("created_at", "model", "meta", "speaker"))
    turns = [
        {"conversation_id": cid, "turn_index": 0, "turn_id": cid, "role": "user", "text": t, **none}
        for cid, t in (("a1", T1), ("a2", T2), ("a3", T3))
    ]
    conv_none = dict.fromkeys(("started_at", "model", "meta", "language", "user_id"))
    convs = [
        {"conversation_id": c, "source": "test", "source_id": c, "n_turns": 1, **conv_none}
        for c in ("a1", "a2", "a3")
    ]
    corpus = write_corpus(tmp_path / "corpus", pd.DataFrame(turns), pd.DataFrame(convs), {})
    p = Project.create(
        tmp_path / "project", corpus=corpus, codebook=TOY, coders=["alice", "bob"], per_item=2
    )

    def ev(who, cid, value="1", spans=None):
        return {"annotator_id": who, "unit": "turn", "conversation_id": cid, "turn_index": 0,
                "code_id": "user_defers", "value": value, "evidence": spans}  # fmt: skip

    p.append([
        ev("alice", "a1", spans=[_span(T1, "tell me what to do")]),
        ev("bob", "a1", spans=[_span(T1, "what to do, you decide")]),
        ev("alice", "a2", spans=[_span(T2, "You decide")]),
        ev("bob", "a2", spans=[_span(T2, "You decide.")]),
        ev("alice", "a3", spans=[_span(T3, "Pick one for me")]),
        ev("bob", "a3"),  # agrees on the code, marks no words: one-sided
        # an LLM coder and gold agree with alice on a1 word for word: never human evidence
        ev("gpt", "a1", spans=[_span(T1, "tell me what to do")]),
        ev("gold", "a1", spans=[_span(T1, "you decide")]),
    ])  # fmt: skip
    (p.path / "llm" / "gpt").mkdir(parents=True)
    (p.path / "llm" / "gpt" / "coder.json").write_text(json.dumps({"kind": "llm", "model": "x"}))
    return p


def test_coder_kinds_from_the_llm_folder(project: Project) -> None:
    assert coder_kinds(project.path) == {"gpt": "llm"}
    assert non_human(project.path) == {"gpt"}
    assert coder_kinds(project.path / "nowhere") == {}


def test_token_f1_and_jaccard_by_hand(project: Project) -> None:
    """a1: alice {tell me what to do}, bob {what to do you decide}: 3 shared of 5 + 5, union 7;
    a2: {You decide} both (the period is no token): 2 of 2 + 2, union 2. Pooled: F1 =
    2 (3 + 2) / (10 + 4) = 5/7, Jaccard = 5 / 9. a3: one-sided. gpt and gold left out."""
    got = evidence_agreement(
        project.labels(), project.codebook, project.corpus, exclude=non_human(project.path)
    )
    row = got.set_index("code_id").loc["user_defers"]
    assert row["role"] == "user"
    assert (row["ev_units"], row["ev_pairs"], row["ev_one_sided"], row["ev_stale"]) == (2, 2, 1, 0)
    assert row["ev_f1"] == pytest.approx(5 / 7)
    assert row["ev_jaccard"] == pytest.approx(5 / 9)
    # alpha_u: the two pairs' turns joined into one continuum of two observers
    a = [(T1.index("tell me what to do"), T1.index(", you")), (len(T1) + 28, len(T1) + 38)]
    b = [(T1.index("what to do"), T1.index(".")), (len(T1) + 28, len(T1) + 39)]
    units = [(0, "c", s, e) for s, e in a] + [(1, "c", s, e) for s, e in b]
    assert T2[28:38] == "You decide"
    assert row["ev_alpha_u"] == unitizing_alpha(units, 0, len(T1) + len(T2), 2).alpha
    assert 0 < row["ev_alpha_u"] < 1
    # counted as a person, the LLM coder would change the numbers
    with_llm = evidence_agreement(project.labels(), project.codebook, project.corpus)
    assert with_llm.set_index("code_id").loc["user_defers", "ev_pairs"] == 4
    # codes without evidence taken: a row of NaN (nothing compared)
    other = got.set_index("code_id").loc["ai_move"]
    assert other["ev_pairs"] == 0 and pd.isna(other["ev_f1"])
    assert set(got["code_id"]) == {"ai_autonomy_support", "user_defers", "ai_move", "user_emotions"}


def test_stale_spans_are_reported_not_compared(project: Project, tmp_path: Path) -> None:
    """A span whose hash no longer matches the corpus text (written here by a store that
    does not know the corpus) is left out and counted, with a warning."""
    store = LabelStore(project.path / "labels", project.codebook)
    wrong = {"start": 0, "end": 4, "sha256": hashlib.sha256(b"Tell").hexdigest()}
    key = {"unit": "turn", "conversation_id": "a2", "turn_index": 0, "code_id": "user_defers"}
    store.append({"annotator_id": "bob", **key, "value": "1", "evidence": [wrong]})
    with pytest.warns(UserWarning, match=r"W410.*1 evidence span.*user_defers \(1\)"):
        got = evidence_agreement(
            project.labels(), project.codebook, project.corpus, exclude=non_human(project.path)
        )
    row = got.set_index("code_id").loc["user_defers"]
    assert row["ev_stale"] == 1 and row["ev_pairs"] == 1 and row["ev_one_sided"] == 2
    assert row["ev_f1"] == pytest.approx(2 * 3 / 10)


def test_report_shows_evidence_beside_alpha(project: Project) -> None:
    ev = evidence_agreement(
        project.labels(), project.codebook, project.corpus, exclude=non_human(project.path)
    )
    rep = agreement_report(project.unit_labels(), project.codebook, evidence=ev)
    row = rep.table.set_index("code_id").loc["user_defers"]
    assert row["ev_f1"] == pytest.approx(5 / 7) and row["ev_pairs"] == 2
    assert pd.isna(rep.table.set_index("code_id").loc["ai_empathy", "ev_f1"])
    text = rep.to_text()
    assert "ev F1" in text and "ev αU" in text and "0.714" in text
    plain = agreement_report(project.unit_labels(), project.codebook)
    assert "ev_f1" not in plain.table and "ev F1" not in plain.to_text()


def test_cli_agreement_reports_evidence(project: Project) -> None:
    from annotate.cli import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = CliRunner().invoke(main, ["agreement", str(project.path), "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["code_id"]: r for r in json.loads(result.stdout)["rows"]}
    assert rows["user_defers"]["ev_f1"] == pytest.approx(5 / 7)
    assert rows["user_defers"]["ev_pairs"] == 2  # the LLM coder left out by its coder.json
    text = CliRunner().invoke(main, ["agreement", str(project.path)]).stdout
    assert "ev F1" in text
