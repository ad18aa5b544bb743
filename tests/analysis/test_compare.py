"""Group comparisons: effect sizes by hand, stratified bootstrap, group errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import ai, corpus_of, frame, turn_rows

from annotate.analysis import compare_groups
from annotate.errors import AnalysisError


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
    t = compare_groups(labels, codebook, by="model", corpus=corpus, bootstrap=200, seed=0)
    row = t[t["item"] == "emp"].iloc[0]
    assert (row["share_1"], row["share_2"]) == (pytest.approx(0.6), pytest.approx(0.2))
    assert row["risk_difference"] == pytest.approx(0.4)
    assert row["odds_ratio"] == pytest.approx((0.6 / 0.4) / (0.2 / 0.8))
    assert row["cohen_h"] == pytest.approx(2 * np.arcsin(0.6**0.5) - 2 * np.arcsin(0.2**0.5))
    # every conversation of a group has the same share: the stratified bootstrap is exact
    assert row["rd_ci_low"] == pytest.approx(0.4) and row["rd_ci_high"] == pytest.approx(0.4)


def test_compare_group_order_and_errors(data, codebook) -> None:
    labels, corpus = data
    t = compare_groups(
        labels, codebook, by="model", groups=("m2", "m1"), corpus=corpus, bootstrap=0
    )
    assert t.iloc[0]["risk_difference"] == pytest.approx(-0.4)
    with pytest.raises(AnalysisError, match=r"E459.*m1, m2"):
        compare_groups(labels, codebook, by="model", groups=("m1", "m3"), corpus=corpus)
