"""Group comparisons: effect sizes by hand, several groups, ordinal scores, models, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import ai, conv_rows, corpus_of, frame, turn_rows

from annotate.analysis import compare_groups
from annotate.errors import AnalysisError

pytestmark = pytest.mark.filterwarnings("ignore:.*W45[12]")


@pytest.fixture
def data() -> tuple[pd.DataFrame, object]:
    # model m1: 4 conversations x 5 turns, emp on 3 of 5 turns; m2: emp on 1 of 5
    rows, models = [], []
    for c in range(8):
        k = 3 if c < 4 else 1
        rows += turn_rows(f"c{c}", [ai({"emp": "1" if j < k else "0"}) for j in range(5)])
        models.append("m1" if c < 4 else "m2")
    convs = pd.DataFrame({"conversation_id": [f"c{c}" for c in range(8)], "model": models})
    return frame(rows), corpus_of(convs)


def test_compare_effect_sizes_by_hand(data, codebook) -> None:
    labels, corpus = data
    t = compare_groups(
        labels, codebook, by="model", corpus=corpus, bootstrap=200, seed=0, model=False
    )
    row = t[t["item"] == "emp"].iloc[0]
    # reference = the first group (m1); each row compares group_1 with it
    assert (row["group_1"], row["group_2"]) == ("m2", "m1")
    assert (row["share_1"], row["share_2"]) == (pytest.approx(0.2), pytest.approx(0.6))
    assert row["risk_difference"] == pytest.approx(-0.4)
    assert row["odds_ratio"] == pytest.approx((0.2 / 0.8) / (0.6 / 0.4))
    assert row["cohen_h"] == pytest.approx(2 * np.arcsin(0.2**0.5) - 2 * np.arcsin(0.6**0.5))
    # every conversation of a group has the same share: every replicate gives the same value
    assert row["rd_ci_low"] == pytest.approx(-0.4) and row["rd_ci_high"] == pytest.approx(-0.4)
    assert row["resampled"] == "conversations" and row["n_clusters_1"] == 4


def test_compare_group_order_and_errors(data, codebook) -> None:
    labels, corpus = data
    t = compare_groups(
        labels, codebook, by="model", groups=("m2", "m1"), corpus=corpus, bootstrap=0, model=False
    )
    assert (t.iloc[0]["group_1"], t.iloc[0]["group_2"]) == ("m1", "m2")
    assert t.iloc[0]["risk_difference"] == pytest.approx(0.4)
    with pytest.raises(AnalysisError, match=r"E459.*m1, m2"):
        compare_groups(labels, codebook, by="model", groups=("m1", "m3"), corpus=corpus)
    with pytest.raises(AnalysisError, match=r"E459"):
        compare_groups(labels, codebook, by="model", groups=("m1",), corpus=corpus)
    with pytest.raises(AnalysisError, match=r"E460.*reference"):
        compare_groups(labels, codebook, by="model", reference="m9", corpus=corpus, bootstrap=0)


def _three_groups(n_per: int = 30, seed: int = 0) -> tuple[pd.DataFrame, object, dict]:
    """One conversation (one turn, conversation level) per unit; personas a/b/c with known
    shares of emp and known counts of the warm rating."""
    rng = np.random.default_rng(seed)
    rows, convs = [], []
    shares = {"a": 0.2, "b": 0.5, "c": 0.8}
    truth: dict[str, list[int]] = {}
    for g, p in shares.items():
        ys = (rng.random(n_per) < p).astype(int)
        truth[g] = ys.tolist()
        for k, y in enumerate(ys):
            cid = f"{g}{k:02d}"
            rows += turn_rows(cid, [ai({"emp": str(y)})])
            rows += conv_rows(cid, {"warm": str(1 + (k + "abc".index(g)) % 3)})
            convs.append({"conversation_id": cid, "meta": f'{{"persona": "{g}"}}'})
    return frame(rows), corpus_of(pd.DataFrame(convs)), truth


def test_compare_three_groups_saturated_model_equals_sample_odds_ratios(codebook) -> None:
    labels, corpus, truth = _three_groups()
    t = compare_groups(
        labels, codebook, by="persona", corpus=corpus, codes=["emp"], bootstrap=0, seed=1
    )
    assert sorted(t["group_1"]) == ["b", "c"] and set(t["group_2"]) == {"a"}
    # one unit per conversation, one conversation per cluster: the GEE is the logistic
    # regression of emp on the persona indicators, saturated, so its odds ratios are the
    # sample odds ratios (a d) / (b c) of each 2x2 table against the reference
    a = np.array(truth["a"])
    for g in ("b", "c"):
        x = np.array(truth[g])
        sample_or = (x.mean() / (1 - x.mean())) / (a.mean() / (1 - a.mean()))
        row = t[t["group_1"] == g].iloc[0]
        assert row["model_odds_ratio"] == pytest.approx(sample_or, rel=1e-5)
        assert row["odds_ratio"] == pytest.approx(sample_or)
        # Woolf's standard error of the log odds ratio is the model-based one; the
        # bias-reduced sandwich is never smaller
        woolf = np.sqrt(1 / x.sum() + 1 / (1 - x).sum() + 1 / a.sum() + 1 / (1 - a).sum())
        half = (np.log(row["model_ci_high"]) - np.log(row["model_ci_low"])) / 2
        assert half >= 1.96 * woolf * 0.98
    assert t["p_overall"].nunique() == 1 and t["p_overall"].iloc[0] < 0.01
    assert "GEE" in t["model"].iloc[0] and "persona" in t["formula"].iloc[0]
    assert (t["model_n"] == 90).all() and (t["model_n_clusters"] == 90).all()
    assert t["correction"].iloc[0] == "holm"


def test_compare_ordinal_code_as_scores_with_cumulative_link_model(codebook) -> None:
    labels, corpus, _ = _three_groups()
    t = compare_groups(
        labels, codebook, by="persona", corpus=corpus, codes=["warm"], unit="conversation",
        bootstrap=300, seed=2,
    )  # fmt: skip
    assert set(t["item"]) == {"warm"}  # one row per group, not one per rating value
    for g in ("b", "c"):
        row = t[t["group_1"] == g].iloc[0]
        assert row["code_level"] == "ordinal"
        assert row["mean_difference"] == pytest.approx(row["mean_1"] - row["mean_2"])
        assert row["md_ci_low"] <= row["mean_difference"] <= row["md_ci_high"]
        assert "cumulative-link" in row["model"] and row["model_family"].startswith("ordinal")
    # ratings cycle 1, 2, 3 with a different start per persona: a starts at 1, b at 2, c at 3
    # -> mean ratings 2.0 (30 = 10 of each) in every group
    assert t["mean_difference"].abs().max() == pytest.approx(0.0, abs=1e-9)


def test_compare_missing_values_make_a_group(codebook) -> None:
    labels, corpus, _ = _three_groups()
    convs = corpus.conversations.copy()
    convs.loc[convs["conversation_id"].str.startswith("c"), "meta"] = "{}"
    corpus = corpus_of(convs)
    t = compare_groups(labels, codebook, by="persona", corpus=corpus, codes=["emp"], bootstrap=0)
    assert set(t["group_1"]) == {"b"}
    t = compare_groups(
        labels, codebook, by="persona", corpus=corpus, codes=["emp"], bootstrap=0, missing="none"
    )
    assert set(t["group_1"]) == {"b", "none"}


def test_compare_users_are_resampled_together(codebook) -> None:
    # two users; every conversation of a user has the same share, users differ: with users as
    # clusters the interval of a group's share reflects two users, not eight conversations
    rows, convs = [], []
    for c in range(8):
        u = c % 2
        k = 1 if u == 0 else 4
        rows += turn_rows(f"c{c}", [ai({"emp": "1" if j < k else "0"}) for j in range(5)])
        convs.append({"conversation_id": f"c{c}", "user_id": f"u{u}", "model": f"m{c // 4}"})
    corpus = corpus_of(pd.DataFrame(convs))
    with pytest.warns(UserWarning, match="W451"):
        t = compare_groups(
            frame(rows), codebook, by="model", corpus=corpus, bootstrap=400, seed=3, model=False
        )
    row = t.iloc[0]
    assert row["resampled"].startswith("users (two-stage")
    assert row["n_clusters"] == 2
    assert row["rd_ci_low"] < -0.1 and row["rd_ci_high"] > 0.1  # users differ a lot
    by_conv = compare_groups(
        frame(rows), codebook, by="model", corpus=corpus, bootstrap=400, seed=3, model=False,
        nesting="conversations",
    )  # fmt: skip
    assert by_conv.iloc[0]["resampled"] == "conversations"
