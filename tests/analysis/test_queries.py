"""Sequence questions: ids of the default codebook, resolution errors, hand-counted answers."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml
from analysis_helpers import _code, ai, frame, turn_rows, user

from annotate.analysis import DEFAULT_QUERIES, SequenceQuery, sequence_queries
from annotate.codebook.model import Codebook, Version
from annotate.errors import AnalysisError

DEFAULT = Path(__file__).resolve().parents[2] / "codebooks" / "sdt-socioaffective.yaml"


def test_queries_default_ids_exist_in_default_codebook() -> None:
    doc = yaml.safe_load(DEFAULT.read_text(encoding="utf-8"))
    values = {c["id"]: [v["value"] for v in c.get("values", [])] for c in doc["codes"]}
    for q in DEFAULT_QUERIES:
        for item in (*q.antecedent, *q.consequent, *q.then):
            code_id, _, value = item.partition("=")
            assert code_id in values, f"{q.name}: {code_id} is not in the default codebook"
            assert not value or value in values[code_id], f"{q.name}: {item}"


def _support_codebook() -> Codebook:
    codes = (
        _code("user_support_seeking", "turn", ("user",), "binary", ("0", "1")),
        _code("ai_empathy", "turn", ("assistant",), "binary", ("0", "1")),
        _code("ai_bridge", "turn", ("assistant",), "binary", ("0", "1")),
        _code("ai_primary_move", "turn", ("assistant",), "nominal", ("listen", "refer", "other")),
    )
    return Codebook("core", Version("1.0.0"), "core", None, (), (), codes, (), "0" * 64)


def _labels():
    # bids on turns 0 and 4 of c1 and turn 0 of c2; empathy follows the first two bids
    spec1 = [
        user({"user_support_seeking": "1"}),
        ai({"ai_empathy": "1", "ai_bridge": "0", "ai_primary_move": "listen"}),
        user({"user_support_seeking": "0"}),
        ai({"ai_empathy": "0", "ai_bridge": "1", "ai_primary_move": "refer"}),
        user({"user_support_seeking": "1"}),
        ai({"ai_empathy": "1", "ai_bridge": "0", "ai_primary_move": "listen"}),
    ]
    spec2 = [
        user({"user_support_seeking": "1"}),
        ai({"ai_empathy": "0", "ai_bridge": "1", "ai_primary_move": "refer"}),
        user({"user_support_seeking": "0"}),
        ai({"ai_empathy": "0", "ai_bridge": "0", "ai_primary_move": "other"}),
    ]
    return frame(turn_rows("c1", spec1) + turn_rows("c2", spec2))


def test_queries_default_run_on_core_codes_with_warning() -> None:
    with pytest.warns(UserWarning, match=r"W450.*pushback_move"):
        t = sequence_queries(_labels(), _support_codebook(), permutations=50, seed=0)
    assert t["query"].unique().tolist() == ["support_bid"]
    rows = t.set_index("consequent")
    # 5 user -> assistant transitions, 3 with a bid; empathy after 2 of the 3 bids, never
    # after no bid; bridge after 1 of 3 bids and 1 of 2 non-bids; refer like bridge
    assert rows.loc["ai_empathy", ["count", "given_n", "target_n", "n"]].tolist() == [2, 3, 2, 5]
    assert rows.loc["ai_empathy", "probability"] == pytest.approx(2 / 3)
    assert rows.loc["ai_empathy", "yule_q"] == pytest.approx(1.0)
    assert rows.loc["ai_bridge", "count"] == 1
    assert rows.loc["ai_primary_move=refer", "count"] == 1


def test_queries_explicit_query_with_unknown_code_lists_ids() -> None:
    q = SequenceQuery("mine", ("user_support_seeking",), ("ai_hug",))
    with pytest.raises(AnalysisError, match=r"E456.*ai_hug.*Available code ids: user_support"):
        sequence_queries(_labels(), _support_codebook(), queries=[q])
    q = SequenceQuery("mine", ("ai_primary_move=shout",), ("ai_empathy",))
    with pytest.raises(AnalysisError, match="E456"):
        sequence_queries(_labels(), _support_codebook(), queries=[q])


def test_queries_union_antecedent() -> None:
    q = SequenceQuery(
        "either",
        ("user_support_seeking", "ai_primary_move=refer"),
        ("ai_empathy",),
        given_role=None,
        target_role=None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = sequence_queries(_labels(), _support_codebook(), queries=[q], permutations=0)
    row = t.iloc[0]
    assert row["antecedent"] == "user_support_seeking | ai_primary_move=refer"
    # of the 8 lag-1 transitions only the 5 into an assistant turn have empathy coded; on
    # those the antecedent is present after c1:0, c1:4 and c2:0 (refer sits on assistant turns,
    # which precede user turns) and empathy follows c1:0 and c1:4
    assert (row["n"], row["given_n"], row["count"]) == (5, 3, 2)


def _rupture_codebook() -> Codebook:
    codes = (
        _code("user_primary_move", "turn", ("user",), "nominal", ("pushback", "agency", "other")),
        _code("ai_repair", "turn", ("assistant",), "binary", ("0", "1")),
    )
    return Codebook("core", Version("1.0.0"), "core", None, (), (), codes, (), "0" * 64)


def test_queries_three_step_rupture_repair_reengagement_by_hand() -> None:
    """Pushback at t, repair at t+1, agency (re-engagement) at t+2, counted by hand."""
    cb = _rupture_codebook()
    rows = []
    # (repair?, re-engaged?) after a pushback, per conversation: users u0..u5
    chains = [(1, 1), (1, 1), (1, 0), (0, 0), (0, 1), (0, 0), (1, 1), (0, 0)]
    for c, (rep, eng) in enumerate(chains):
        rows += turn_rows(
            f"c{c}",
            [
                user({"user_primary_move": "other"}),
                ai({"ai_repair": "0"}),
                user({"user_primary_move": "pushback"}),
                ai({"ai_repair": str(rep)}),
                user({"user_primary_move": "agency" if eng else "other"}),
            ],
        )
    q = SequenceQuery(
        "rupture",
        ("user_primary_move=pushback",),
        ("ai_repair",),
        then=("user_primary_move=agency",),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = sequence_queries(frame(rows), cb, queries=[q], permutations=0, bootstrap=300, seed=1)
    row = t.iloc[0]
    # 8 pushbacks, 4 repaired; after a repair 3 of 4 re-engage, without one 1 of 4
    assert (row["given_n"], row["count"]) == (8, 4)
    assert (row["then_n"], row["then_count"]) == (4, 3)
    assert row["p_then_after"] == pytest.approx(0.75)
    assert row["p_then_without"] == pytest.approx(0.25)
    assert row["then_difference"] == pytest.approx(0.5)
    assert row["then_ci_low"] <= 0.5 <= row["then_ci_high"]
    assert row["odds_ratio"] == pytest.approx(9.0, rel=1e-4)  # (3/1) / (1/3), saturated
    assert "GEE" in row["model"] and row["then"] == "user_primary_move=agency"
