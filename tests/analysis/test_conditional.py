"""sequence_model: rows and lags by hand, covariates, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import ai, corpus_of, frame, turn_rows, user

from annotate.analysis import compare_groups, sequence_model
from annotate.errors import AnalysisError

pytestmark = pytest.mark.filterwarnings("ignore:.*W45[123]")


def _dialogue(n_conv: int = 30, seed: int = 0) -> tuple[pd.DataFrame, object]:
    rng = np.random.default_rng(seed)
    rows, convs = [], []
    for c in range(n_conv):
        spec = [user({"bid": str(int(rng.random() < 0.3))})]
        for _ in range(4):
            emp = int(rng.random() < 0.5)
            bid = int(rng.random() < (0.7 if emp else 0.2))
            spec += [ai({"emp": str(emp)}), user({"bid": str(bid)})]
        spec.append(ai({"emp": str(int(rng.random() < 0.5))}))
        rows += turn_rows(f"c{c:02d}", spec)
        convs.append({"conversation_id": f"c{c:02d}", "user_id": f"u{c // 3}",
                      "meta": f'{{"persona": "{"ab"[c % 2]}"}}'})  # fmt: skip
    return frame(rows), corpus_of(pd.DataFrame(convs))


def test_conditional_rows_are_the_target_turns_with_all_predictors(codebook) -> None:
    labels, corpus = _dialogue()
    out = sequence_model(labels, codebook, corpus=corpus, target="bid", given={"emp": 1},
                         history=2, target_role="user")  # fmt: skip
    # each conversation has 10 turns (5 user turns at 0, 2, .., 8); user turns from index 2 on
    # have an assistant turn before them and a user turn two back: 4 per conversation
    assert out["n"].iloc[0] == 30 * 4
    assert list(out["term"]) == ["emp[T-1]", "bid[T-2]"]
    assert list(out["role"]) == ["given", "own history"]
    assert out["clusters"].iloc[0] == "users" and out["model_n_clusters"].iloc[0] == 10
    assert out["formula"].iloc[0] == "bid[T] ~ emp[T-1] + bid[T-2]"
    row = out.iloc[0]
    assert row["odds_ratio"] > 1 and row["p_target_present"] > row["p_target_absent"]
    # covariates enter the formula and the design
    adj = sequence_model(labels, codebook, corpus=corpus, target="bid", given=["emp"],
                         target_role="user", covariates=["persona", "position"])  # fmt: skip
    assert (
        "C(persona, reference=" in adj["formula"].iloc[0] and "position" in adj["formula"].iloc[0]
    )


def test_conditional_bad_input(codebook) -> None:
    labels, corpus = _dialogue(6)
    with pytest.raises(AnalysisError, match="E457"):
        sequence_model(labels, codebook, corpus=corpus, target="nope", given=["emp"])
    with pytest.raises(AnalysisError, match="E460"):
        sequence_model(labels, codebook, corpus=corpus, target="bid", given={"emp": 0})
    with pytest.raises(AnalysisError, match="E460"):
        sequence_model(labels, codebook, corpus=corpus, target="bid", given=["emp"], history=0)
    with pytest.raises(AnalysisError, match="E462"):
        sequence_model(labels, codebook, corpus=corpus, target="bid", given={"emp": 40})
    with pytest.raises(AnalysisError, match="E463"):
        compare_groups(labels, codebook, corpus=corpus, by="persona", codes=["emp"],
                       covariates=["loneliness"], bootstrap=0)  # fmt: skip


def test_conditional_user_table_covariate(codebook) -> None:
    labels, corpus = _dialogue()
    users = pd.DataFrame({"user_id": [f"u{k}" for k in range(10)], "lonely": np.arange(10.0)})
    t = compare_groups(labels, codebook, corpus=corpus, by="persona", codes=["emp"],
                       covariates=["lonely"], users=users, bootstrap=0)  # fmt: skip
    assert t["formula"].iloc[0] == "emp ~ C(persona, reference='a') + lonely"
    assert t["model_n"].iloc[0] == (labels["code_id"] == "emp").sum()
    with pytest.raises(AnalysisError, match="E460"):
        compare_groups(labels, codebook, corpus=corpus, by="persona", codes=["emp"],
                       covariates=["lonely"], users=users.rename(columns={"user_id": "who"}),
                       bootstrap=0)  # fmt: skip
