"""Gold-label rules on hand-made unit labels (every expected value counted by hand)."""

from __future__ import annotations

import pandas as pd
import pytest

from annotate.adjudication.gold import GOLD_ID, gold_summary, resolve_gold
from annotate.errors import ExportError


def _labels(rows: list[tuple[str, str, int | None, str, str | None]]) -> pd.DataFrame:
    """rows of (annotator, conversation, turn, code, value)."""
    return pd.DataFrame(
        [
            dict(
                annotator_id=a,
                unit="turn" if t is not None else "conversation",
                conversation_id=c,
                turn_index=t,
                role="user" if t is not None else None,
                code_id=k,
                value=v,
            )
            for a, c, t, k, v in rows
        ]
    )


@pytest.fixture
def labels() -> pd.DataFrame:
    return _labels(
        [
            # c1 turn 0 code x: 3 coders unanimous "1"
            ("a", "c1", 0, "x", "1"),
            ("b", "c1", 0, "x", "1"),
            ("c", "c1", 0, "x", "1"),
            # c1 turn 1 code x: 2 of 3 say "0" -> majority
            ("a", "c1", 1, "x", "0"),
            ("b", "c1", 1, "x", "0"),
            ("c", "c1", 1, "x", "1"),
            # c1 turn 2 code x: 1 vs 1 -> tie
            ("a", "c1", 2, "x", "0"),
            ("b", "c1", 2, "x", "1"),
            # c2 conversation code r: three different values -> no majority, no plurality
            ("a", "c2", None, "r", "1"),
            ("b", "c2", None, "r", "2"),
            ("c", "c2", None, "r", "3"),
            # c3 turn 0 code x: one coder only
            ("a", "c3", 0, "x", "1"),
            # c4 turn 0 code x: 2 vs 1 vs 1 of 4 -> plurality but not majority
            ("a", "c4", 0, "m", "p"),
            ("b", "c4", 0, "m", "p"),
            ("c", "c4", 0, "m", "q"),
            ("d", "c4", 0, "m", "r"),
        ]
    )


def _get(gold: pd.DataFrame, conv: str, turn: int | None, code: str) -> dict:
    sel = (gold.conversation_id == conv) & (gold.code_id == code)
    sel &= gold.turn_index.isna() if turn is None else (gold.turn_index == turn)
    (row,) = gold[sel].to_dict("records")
    return row


def test_gold_majority_rule(labels: pd.DataFrame) -> None:
    gold = resolve_gold(labels, rule="majority")
    assert len(gold) == 6
    assert (gold.annotator_id == GOLD_ID).all()
    r = _get(gold, "c1", 0, "x")
    assert (r["value"], r["source"], r["n_coders"], r["n_agree"]) == ("1", "unanimous", 3, 3)
    r = _get(gold, "c1", 1, "x")
    assert (r["value"], r["source"], r["n_agree"]) == ("0", "majority", 2)
    r = _get(gold, "c1", 2, "x")
    assert r["value"] is None and r["source"] == "unresolved"
    assert _get(gold, "c2", None, "r")["source"] == "unresolved"
    r = _get(gold, "c3", 0, "x")
    assert (r["value"], r["source"]) == ("1", "single")
    # 2 of 4 is not more than half
    assert _get(gold, "c4", 0, "m")["source"] == "unresolved"


def test_gold_plurality_and_unanimous_rules(labels: pd.DataFrame) -> None:
    plural = resolve_gold(labels, rule="plurality")
    r = _get(plural, "c4", 0, "m")
    assert (r["value"], r["source"]) == ("p", "plurality")
    assert _get(plural, "c1", 2, "x")["source"] == "unresolved"  # 1 vs 1 has no unique top
    unan = resolve_gold(labels, rule="unanimous")
    assert _get(unan, "c1", 1, "x")["source"] == "unresolved"
    assert _get(unan, "c1", 0, "x")["source"] == "unanimous"


def test_gold_tie_absent_only_for_binary(labels: pd.DataFrame) -> None:
    gold = resolve_gold(labels, rule="majority", tie="absent", absent_values={"x": "0"})
    r = _get(gold, "c1", 2, "x")
    assert (r["value"], r["source"]) == ("0", "tie-absent")
    assert _get(gold, "c2", None, "r")["source"] == "unresolved"  # r is not binary


def test_gold_adjudicated_wins(labels: pd.DataFrame) -> None:
    adj = _labels([(GOLD_ID, "c1", 2, "x", "1"), (GOLD_ID, "c1", 0, "x", "0")])
    gold = resolve_gold(pd.concat([labels, adj], ignore_index=True))
    r = _get(gold, "c1", 2, "x")
    assert (r["value"], r["source"], r["n_coders"], r["n_agree"]) == ("1", "adjudicated", 2, 1)
    # an adjudicator may overrule even a unanimous unit; then no coder agrees
    r = _get(gold, "c1", 0, "x")
    assert (r["value"], r["source"], r["n_agree"]) == ("0", "adjudicated", 0)
    assert len(gold) == 6


def test_gold_is_reproducible_and_order_free(labels: pd.DataFrame) -> None:
    a = resolve_gold(labels)
    b = resolve_gold(labels.sample(frac=1, random_state=3).reset_index(drop=True))
    pd.testing.assert_frame_equal(a, b)


def test_gold_summary_counts_sources(labels: pd.DataFrame) -> None:
    s = gold_summary(resolve_gold(labels))
    got = {(r.code_id, r.source): r.n_units for r in s.itertuples()}
    assert got == {
        ("x", "unanimous"): 1,
        ("x", "majority"): 1,
        ("x", "unresolved"): 1,
        ("x", "single"): 1,
        ("r", "unresolved"): 1,
        ("m", "unresolved"): 1,
    }


def test_gold_unknown_rule_is_refused(labels: pd.DataFrame) -> None:
    with pytest.raises(ExportError, match="E501"):
        resolve_gold(labels, rule="mode")


def test_gold_mixes_turn_and_conversation_units() -> None:
    """Regression: NA turn indexes of conversation units once broke the group joins."""
    rows = [("a", "c1", None, "x", "1"), ("b", "c1", None, "x", "1")]
    rows += [("a", "c1", 0, "y", "1"), ("b", "c1", 0, "y", "0"), ("c", "c1", 0, "y", "1")]
    df = _labels(rows)
    df["turn_index"] = df["turn_index"].astype("Int32")
    gold = resolve_gold(df, rule="majority")
    conv = _get(gold, "c1", None, "x")
    assert (conv["value"], conv["source"], conv["n_coders"]) == ("1", "unanimous", 2)
    turn = _get(gold, "c1", 0, "y")
    assert (turn["value"], turn["source"], turn["n_coders"], turn["n_agree"]) == (
        "1", "majority", 3, 2,
    )  # fmt: skip
    assert gold["turn_index"].isna().sum() == 1
