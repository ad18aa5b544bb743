"""Reliability by role: per-code alpha against the krippendorff package (GPL, a test oracle
only), the pooled alpha by hand, and users resampled."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import ai, corpus_of, frame, turn_rows, user

from annotate.analysis import compare_reliability
from annotate.errors import AnalysisError

pytestmark = pytest.mark.filterwarnings("ignore:.*W45[12]")


def _coded(seed: int = 0, n_conv: int = 24, error_user: float = 0.05, error_ai: float = 0.25):
    """Two coders code `bid` (user turns) and `emp`, `ref` (assistant turns) of 24
    conversations of 12 users; coder b flips a value with the given error rates."""
    rng = np.random.default_rng(seed)
    rows_a, rows_b, convs = [], [], []
    truth: dict[str, list[tuple[int, int]]] = {"bid": [], "emp": [], "ref": []}
    for c in range(n_conv):
        spec_a, spec_b = [], []
        for _ in range(4):
            bid, emp, ref = (int(rng.random() < p) for p in (0.4, 0.5, 0.3))
            fb = int(rng.random() < error_user)
            fe, fr = (int(rng.random() < error_ai) for _ in range(2))
            spec_a += [user({"bid": str(bid)}), ai({"emp": str(emp), "ref": str(ref)})]
            spec_b += [user({"bid": str(bid ^ fb)}),
                       ai({"emp": str(emp ^ fe), "ref": str(ref ^ fr)})]  # fmt: skip
            truth["bid"].append((bid, bid ^ fb))
            truth["emp"].append((emp, emp ^ fe))
            truth["ref"].append((ref, ref ^ fr))
        rows_a += turn_rows(f"c{c:02d}", spec_a, annotator="a")
        rows_b += turn_rows(f"c{c:02d}", spec_b, annotator="b")
        convs.append({"conversation_id": f"c{c:02d}", "user_id": f"u{c // 2:02d}"})
    return frame(rows_a + rows_b), corpus_of(pd.DataFrame(convs)), truth


def test_reliability_per_code_alpha_matches_krippendorff_package(codebook) -> None:
    kd = pytest.importorskip("krippendorff")
    labels, corpus, truth = _coded()
    t = compare_reliability(labels, codebook, corpus=corpus, codes=["bid", "emp", "ref"],
                            bootstrap=200, seed=1)  # fmt: skip
    codes = t[t["level"] == "code"].set_index("code_id")
    for code, pairs in truth.items():
        data = np.array(pairs, dtype=float).T  # coders x units
        expected = kd.alpha(reliability_data=data, level_of_measurement="nominal")
        assert codes.loc[code, "alpha"] == pytest.approx(expected, abs=1e-9)
        assert codes.loc[code, "role"] == ("user" if code == "bid" else "assistant")
        assert codes.loc[code, "ci_low"] <= codes.loc[code, "alpha"] <= codes.loc[code, "ci_high"]


def _pooled(pairs_by_code: list[list[tuple[int, int]]]) -> float:
    """1 − Σ (n − 1) D_o / Σ D_e over codes, from the coincidences of two coders."""
    num = den = 0.0
    for pairs in pairs_by_code:
        o = np.zeros((2, 2))
        for a, b in pairs:
            o[a, b] += 1
            o[b, a] += 1
        n_c, n = o.sum(axis=1), o.sum()
        num += (n - 1) * (n - np.trace(o))
        den += n**2 - (n_c**2).sum()
    return 1 - num / den


def test_reliability_pooled_alpha_per_role_and_the_difference(codebook) -> None:
    labels, corpus, truth = _coded()
    t = compare_reliability(labels, codebook, corpus=corpus, codes=["bid", "emp", "ref"],
                            bootstrap=400, seed=2)  # fmt: skip
    roles = t[t["level"] == "role"].set_index("role")
    assert roles.loc["user", "alpha"] == pytest.approx(_pooled([truth["bid"]]))
    assert roles.loc["assistant", "alpha"] == pytest.approx(_pooled([truth["emp"], truth["ref"]]))
    diff = t[t["level"] == "difference"].iloc[0]
    assert diff["alpha"] == pytest.approx(
        roles.loc["user", "alpha"] - roles.loc["assistant", "alpha"]
    )
    # planted: coder b errs on 5 % of user codes and 25 % of assistant codes
    assert diff["ci_low"] > 0 and diff["p_value"] < 0.05
    assert diff["resampled"].startswith("users (two-stage") and diff["n_clusters"] == 12


def test_reliability_needs_two_coders(codebook) -> None:
    labels, corpus, _ = _coded()
    with pytest.raises(AnalysisError, match="E462"):
        compare_reliability(labels[labels["annotator_id"] == "a"], codebook, corpus=corpus)
    with pytest.raises(AnalysisError, match="E460"):
        compare_reliability(labels, codebook, corpus=corpus, by="model")
