"""Prevalence: hand-counted shares, groupings, bootstrap behaviour and input errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import ai, conv_rows, corpus_of, frame, turn_rows, user

from annotate.analysis import prevalence
from annotate.errors import AnalysisError

pytestmark = pytest.mark.filterwarnings("ignore:.*W45[12]")


@pytest.fixture
def labels() -> pd.DataFrame:
    rows = turn_rows(
        "c1",
        [
            user({"bid": "1", "feel": '["sad"]'}),
            ai({"emp": "1", "move": "listen"}),
            user({"bid": "0", "feel": "[]"}),
            ai({"emp": "0", "move": "advise"}),
        ],
    )
    rows += turn_rows(
        "c2",
        [user({"bid": "0", "feel": '["glad","sad"]'}), ai({"emp": "0", "move": "listen"})],
    )
    rows += turn_rows("c3", [user({"bid": "1"}), ai({"emp": "1", "move": "other"})])
    rows += conv_rows("c1", {"ctx": "support"}) + conv_rows("c2", {"ctx": "task"})
    rows += conv_rows("c3", {"ctx": "support"})
    return frame(rows)


def _row(t: pd.DataFrame, **where: object) -> pd.Series:
    mask = np.ones(len(t), dtype=bool)
    for k, v in where.items():
        mask &= (t[k] == v).to_numpy()
    assert mask.sum() == 1, t[mask]
    return t[mask].iloc[0]


def test_prevalence_turn_and_conversation_shares_by_hand(labels, codebook) -> None:
    t = prevalence(labels, codebook, bootstrap=0)
    # bid coded on 4 user turns, present on 2 -> 0.5; conversations with any: c1, c3 of 3
    bid_t = _row(t, unit="turn", item="bid")
    assert (bid_t["n"], bid_t["count"], bid_t["share"]) == (4, 2, 0.5)
    bid_c = _row(t, unit="conversation", item="bid")
    assert (bid_c["n"], bid_c["count"]) == (3, 2)
    assert bid_c["share"] == pytest.approx(2 / 3)
    # set code: sad on 2 of 3 coded turns, glad on 1 of 3 (members are not exclusive)
    assert _row(t, unit="turn", item="feel=sad")["share"] == pytest.approx(2 / 3)
    assert _row(t, unit="turn", item="feel=glad")["share"] == pytest.approx(1 / 3)
    # conversation-level code: ctx=support on 2 of 3 conversations
    assert _row(t, unit="conversation", item="ctx=support")["share"] == pytest.approx(2 / 3)


def test_prevalence_nominal_values_sum_to_one(labels, codebook) -> None:
    t = prevalence(labels, codebook, bootstrap=0, unit="turn")
    moves = t[t["code_id"] == "move"]
    assert moves["share"].sum() == pytest.approx(1.0)
    assert dict(zip(moves["value"], moves["count"], strict=True)) == {
        "listen": 2,
        "advise": 1,
        "other": 1,
    }


def test_prevalence_by_role_and_by_conversation_code(labels, codebook) -> None:
    t = prevalence(labels, codebook, bootstrap=0, by=["role", "ctx"], unit="turn")
    # support conversations c1, c3: bid on 2 of 3 user turns; task (c2): 0 of 1
    assert _row(t, role="user", ctx="support", item="bid")["share"] == pytest.approx(2 / 3)
    assert _row(t, role="user", ctx="task", item="bid")["share"] == 0.0
    assert not ((t["role"] == "user") & (t["code_id"] == "emp")).any()


def test_prevalence_by_meta_context_and_model(labels, codebook) -> None:
    convs = pd.DataFrame(
        {
            "conversation_id": ["c1", "c2", "c3"],
            "model": ["m1", None, "m2"],
            "meta": [json.dumps({"context": "x"}), json.dumps({"context": "y"}), None],
        }
    )
    turns = pd.DataFrame(
        {
            "conversation_id": ["c2", "c2"],
            "turn_index": [0, 1],
            "role": ["user", "assistant"],
            "model": [None, "m2"],
        }
    )
    corpus = corpus_of(convs, turns)
    t = prevalence(labels, codebook, corpus=corpus, bootstrap=0, by="context", unit="turn")
    assert set(t["context"]) == {"x", "y"}  # c3 has no context: left out
    m = prevalence(labels, codebook, corpus=corpus, bootstrap=0, by="model", unit="turn")
    # c2's model comes from its assistant turns (m2), so m2 = c2 + c3
    assert _row(m, model="m2", item="bid")["n"] == 2


def test_prevalence_bootstrap_is_seeded_and_brackets_estimate(labels, codebook) -> None:
    a = prevalence(labels, codebook, bootstrap=300, seed=7)
    b = prevalence(labels, codebook, bootstrap=300, seed=7)
    pd.testing.assert_frame_equal(a, b)
    ok = a["ci_low"].notna()
    assert (a.loc[ok, "ci_low"] <= a.loc[ok, "share"] + 1e-12).all()
    assert (a.loc[ok, "share"] <= a.loc[ok, "ci_high"] + 1e-12).all()


def test_prevalence_bootstrap_covers_true_rate_by_conversation(codebook) -> None:
    # conversations differ in their rate (clustered data): the conversation bootstrap must be
    # wider than a naive binomial interval over turns and cover the true mean rate 0.3
    rng = np.random.default_rng(1)
    rows = []
    for c in range(60):
        rate = rng.choice([0.05, 0.55])
        spec = [user({"bid": "1" if rng.random() < rate else "0"}) for _ in range(20)]
        rows += turn_rows(f"c{c:02d}", spec)
    t = prevalence(frame(rows), codebook, bootstrap=1000, seed=0, unit="turn")
    r = _row(t, item="bid")
    naive_half = 1.96 * np.sqrt(r["share"] * (1 - r["share"]) / r["n"])
    assert (r["ci_high"] - r["ci_low"]) / 2 > 1.5 * naive_half
    assert r["ci_low"] < 0.3 < r["ci_high"]


def test_prevalence_several_coders_need_a_choice(labels, codebook) -> None:
    other = labels.assign(annotator_id="b")
    both = pd.concat([labels, other], ignore_index=True)
    with pytest.raises(AnalysisError, match=r"E450.*a, b"):
        prevalence(both, codebook, bootstrap=0)
    t = prevalence(both, codebook, bootstrap=0, annotator="b")
    assert _row(t, unit="turn", item="bid")["count"] == 2
    with pytest.raises(AnalysisError, match=r"E451.*a, b"):
        prevalence(both, codebook, annotator="zz")


def test_prevalence_rejects_unknown_codes_values_and_groups(labels, codebook) -> None:
    bad = labels.copy()
    bad.loc[0, "code_id"] = "nope"
    with pytest.raises(AnalysisError, match=r"E453.*nope.*Available codes: bid"):
        prevalence(bad, codebook)
    bad = labels.copy()
    bad.loc[bad["code_id"] == "move", "value"] = "shout"
    with pytest.raises(AnalysisError, match=r"E454.*move.*shout.*listen, advise, other"):
        prevalence(bad, codebook)
    with pytest.raises(AnalysisError, match=r"E455.*persona.*ctx"):
        prevalence(labels, codebook, by="persona")
    with pytest.raises(AnalysisError, match="E452"):
        prevalence(labels.drop(columns=["role"]), codebook)
    with pytest.raises(AnalysisError, match=r"E457.*zzz"):
        prevalence(labels, codebook, codes=["zzz"])


def test_prevalence_resamples_users_two_stage(codebook) -> None:
    """Users with several conversations that share their rate: resampling conversations treats
    them as independent and gives a narrower interval than resampling users (two-stage)."""
    rng = np.random.default_rng(3)
    rows, convs = [], []
    for u in range(12):
        rate = rng.choice([0.05, 0.6])
        for k in range(5):
            cid = f"u{u:02d}c{k}"
            rows += turn_rows(cid, [user({"bid": str(int(rng.random() < rate))})
                                    for _ in range(6)])  # fmt: skip
            convs.append({"conversation_id": cid, "user_id": f"u{u:02d}"})
    labels, corpus = frame(rows), corpus_of(pd.DataFrame(convs))
    with pytest.warns(UserWarning, match="W451.*12 users"):
        by_user = _row(prevalence(labels, codebook, corpus=corpus, unit="turn", seed=1), item="bid")
    by_conv = _row(
        prevalence(labels, codebook, corpus=corpus, unit="turn", seed=1, nesting="conversations"),
        item="bid",
    )
    assert by_user["resampled"].startswith("users (two-stage")
    assert by_conv["resampled"] == "conversations"
    assert (by_user["n_clusters"], by_conv["n_clusters"]) == (12, 60)
    assert by_user["share"] == by_conv["share"]
    width_user = by_user["ci_high"] - by_user["ci_low"]
    assert width_user > 1.5 * (by_conv["ci_high"] - by_conv["ci_low"])
    assert by_user["interval"] == "bca"


def test_prevalence_model_share_and_few_positives(labels, codebook) -> None:
    # one turn per conversation and no users: the intercept-only GEE is the logistic
    # regression of a constant, expit(b0) = the share
    rows = []
    for c in range(30):
        rows += turn_rows(f"c{c:02d}", [user({"bid": "1" if c < 6 else "0"})])
    with pytest.warns(UserWarning, match="W452.*bid"):
        t = prevalence(frame(rows), codebook, unit="turn", model=True, bootstrap=200, seed=2)
    r = _row(t, item="bid")
    assert r["model_share"] == pytest.approx(0.2, rel=1e-6)
    assert r["model_ci_low"] < 0.2 < r["model_ci_high"]
    assert bool(r["few_positives"]) and r["positive_clusters"] == 6
    assert "GEE" in r["model"]
