"""Declared families of tests: one correction across calls."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import ai, corpus_of, frame, turn_rows, user

from annotate.analysis import Family, compare_groups, lag_sequential
from annotate.errors import AnalysisError

pytestmark = pytest.mark.filterwarnings("ignore:.*W45[123]")


def _labels(seed: int = 0) -> tuple[pd.DataFrame, object]:
    rng = np.random.default_rng(seed)
    rows, convs = [], []
    for c in range(24):
        spec = []
        for _ in range(5):
            bid = int(rng.random() < 0.4)
            spec += [
                user({"bid": str(bid)}),
                ai(
                    {
                        "emp": str(int(rng.random() < 0.2 + 0.6 * bid)),
                        "ref": str(int(rng.random() < 0.3)),
                    }
                ),
            ]
        rows += turn_rows(f"c{c:02d}", spec)
        convs.append({"conversation_id": f"c{c:02d}", "model": "ab"[c % 2]})
    return frame(rows), corpus_of(pd.DataFrame(convs))


def test_family_adjusts_across_calls_with_holm(codebook) -> None:
    labels, corpus = _labels()
    fam = Family("RQ1", method="holm")
    seq = lag_sequential(labels, codebook, corpus=corpus, given=["bid"], target=["emp", "ref"],
                         given_role="user", target_role="assistant", family=fam)  # fmt: skip
    cmp = compare_groups(labels, codebook, by="model", corpus=corpus, codes=["emp", "ref"],
                         bootstrap=0, family=fam)  # fmt: skip
    table = fam.table()
    assert len(table) == len(seq) + len(cmp) == 4
    p = np.sort(table["p_value"].to_numpy())
    holm = np.maximum.accumulate(np.minimum(1, p * np.array([4, 3, 2, 1])))
    np.testing.assert_allclose(np.sort(table["p_adjusted"].to_numpy()), holm)
    # the family correction is stricter than the correction within one call
    assert (cmp["p_family"].to_numpy() >= cmp["p_adjusted"].to_numpy() - 1e-12).all()
    assert set(table["analysis"]) == {"lag_sequential", "compare_groups"}
    assert table["confirmatory"].all() and (table["n_tests"] == 4).all()


def test_family_rerunning_a_call_replaces_its_tests(codebook) -> None:
    labels, corpus = _labels()
    fam = Family("RQ1", method="bh", confirmatory=False)
    for _ in range(3):  # a notebook cell run three times
        lag_sequential(labels, codebook, corpus=corpus, given=["bid"], target=["emp"],
                       given_role="user", target_role="assistant", family=fam)  # fmt: skip
    assert len(fam) == 1
    assert "exploratory" in repr(fam)


def test_family_declared_size_and_method() -> None:
    fam = Family("RQ2", size=3)
    fam.add("demo", pd.DataFrame({"test_label": ["a", "b"], "p_value": [0.01, 0.02]}))
    with pytest.warns(UserWarning, match=r"W454.*3 tests were declared but 2"):
        fam.table()
    bonf = Family("RQ2b", method="bonferroni")
    bonf.add("demo", pd.DataFrame({"test_label": ["a", "b"], "p_value": [0.01, 0.6]}))
    assert bonf.table()["p_adjusted"].tolist() == [0.02, 1.0]
    with pytest.raises(AnalysisError, match="E464"):
        Family("bad", method="fdr")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Family("ok", size=1).add("x", pd.DataFrame({"test_label": ["a"], "p_value": [0.5]}))
