"""Co-occurrence within turns and conversations: hand-counted 2x2 tables and the tests."""

from __future__ import annotations

import pandas as pd
import pytest
from analysis_helpers import ai, conv_rows, frame, turn_rows

from annotate.analysis import cooccurrence
from annotate.errors import AnalysisError

pytestmark = pytest.mark.filterwarnings("ignore:.*W45[12]")


@pytest.fixture
def labels() -> pd.DataFrame:
    # assistant turns (emp, ref): (1,1) (1,0) (0,1) (0,0) (1,1) (0,0)
    pairs = [("1", "1"), ("1", "0"), ("0", "1"), ("0", "0"), ("1", "1"), ("0", "0")]
    rows = turn_rows("c1", [ai({"emp": e, "ref": r}) for e, r in pairs[:3]])
    rows += turn_rows("c2", [ai({"emp": e, "ref": r}) for e, r in pairs[3:]])
    rows += conv_rows("c1", {"ctx": "support"}) + conv_rows("c2", {"ctx": "task"})
    return frame(rows)


def test_cooccurrence_within_turns_by_hand(labels, codebook) -> None:
    t = cooccurrence(labels, codebook, codes=["emp", "ref"])
    row = t.iloc[0]
    # a = 2, b = 1, c = 1, d = 2 (n = 6)
    assert (row["n"], row["n_a"], row["n_b"], row["n_ab"]) == (6, 3, 3, 2)
    assert row["jaccard"] == pytest.approx(2 / 4)
    assert row["yule_q"] == pytest.approx((4 - 1) / (4 + 1))
    assert row["odds_ratio"] == pytest.approx(4.0)
    assert row["expected_ab"] == pytest.approx(1.5)
    assert row["test"] == "fisher"  # expected counts below 5
    stats = pytest.importorskip("scipy.stats")
    assert row["p_independent"] == pytest.approx(stats.fisher_exact([[2, 1], [1, 2]])[1])


def test_cooccurrence_cluster_robust_score_test_by_hand(labels, codebook) -> None:
    from scipy import stats

    t = cooccurrence(labels, codebook, codes=["emp", "ref"])
    row = t.iloc[0]
    # x = emp, y = ref over the six turns; clusters c1 (turns 1-3), c2 (turns 4-6)
    x = [1, 1, 0, 0, 1, 0]
    y = [1, 0, 1, 0, 1, 0]
    xm, ym = sum(x) / 6, sum(y) / 6
    u = [(a - xm) * (b - ym) for a, b in zip(x, y, strict=True)]
    score = sum(u)
    var = (sum(u[:3]) ** 2 + sum(u[3:]) ** 2) * 2 / (2 - 1)
    z = score / var**0.5
    assert row["z_cluster"] == pytest.approx(z)
    assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(z), 1))
    assert (row["clusters"], row["n_clusters"]) == ("conversations", 2)


def test_cooccurrence_within_conversations_any(labels, codebook) -> None:
    t = cooccurrence(labels, codebook, unit="conversation")
    row = t[(t["item_a"] == "emp") & (t["item_b"] == "ctx=support")].iloc[0]
    # both conversations have emp; only c1 is support
    assert (row["n"], row["n_a"], row["n_b"], row["n_ab"]) == (2, 2, 1, 1)
    # values of one nominal code are never paired with each other
    assert not ((t["code_a"] == "ctx") & (t["code_b"] == "ctx")).any()


def test_cooccurrence_corrections(labels, codebook) -> None:
    bh = cooccurrence(labels, codebook, unit="conversation", correction="bh")
    holm = cooccurrence(labels, codebook, unit="conversation", correction="holm")
    ok = bh["p_value"].notna()
    assert (holm.loc[ok, "p_adjusted"] >= bh.loc[ok, "p_adjusted"] - 1e-12).all()
    assert (bh.loc[ok, "p_adjusted"] >= bh.loc[ok, "p_value"] - 1e-12).all()
    with pytest.raises(AnalysisError, match="E460"):
        cooccurrence(labels, codebook, correction="bonferroni")


def test_cooccurrence_chi2_on_large_tables(codebook) -> None:
    rows = []
    for k in range(200):
        e = "1" if k % 2 else "0"
        r = "1" if (k % 4 in (1, 2)) else "0"
        rows += turn_rows(f"c{k:03d}", [ai({"emp": e, "ref": r})])
    t = cooccurrence(frame(rows), codebook, codes=["emp", "ref"])
    row = t.iloc[0]
    assert row["test"] == "chi2"
    assert row["n_ab"] == 50 and row["yule_q"] == pytest.approx(0.0)
    assert row["p_independent"] == pytest.approx(1.0)
    assert row["z_cluster"] == pytest.approx(0.0)
