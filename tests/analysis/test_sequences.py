"""Lag-sequential analysis: published table, hand counts, Markov recovery, permutation test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import ai, corpus_of, frame, turn_rows, user
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotate.analysis import lag_sequential, lag_table, prepare, transitions
from annotate.errors import AnalysisError


def test_sequences_lag_table_published_agresti() -> None:
    # Agresti (2007), Table 2.5: observed counts with printed expected counts and adjusted
    # residuals (Haberman's residual, the statistic GSEQ prints for lag tables)
    t = lag_table([[762, 327, 468], [484, 239, 477]], ["F", "M"], ["D", "I", "R"])
    assert t["adjusted_residual"].round(2).tolist() == [4.50, 0.70, -5.32, -4.50, -0.70, 5.32]
    assert t["expected"].round(1).tolist() == [703.7, 319.6, 533.7, 542.3, 246.4, 411.3]
    assert t.loc[0, "probability"] == pytest.approx(762 / 1557)


def test_sequences_lag_table_hand_sequence() -> None:
    # the sequence A B A B B A A B (one stream), lag 1: transitions AB AB BA BB BA AA AB
    # -> counts [[AA=1, AB=3], [BA=2, BB=1]], N = 7
    t = lag_table([[1, 3], [2, 1]], ["A", "B"], ["A", "B"])
    ab = t[(t["given"] == "A") & (t["target"] == "B")].iloc[0]
    # e = 4 * 4 / 7; z = (3 - e) / sqrt(e (1 - 4/7) (1 - 4/7)); Q = (3*2 - 1*1) / (3*2 + 1*1)
    e = 16 / 7
    assert ab["expected"] == pytest.approx(e)
    assert ab["adjusted_residual"] == pytest.approx((3 - e) / np.sqrt(e * (3 / 7) * (3 / 7)))
    assert ab["yule_q"] == pytest.approx(5 / 7)
    assert ab["probability"] == pytest.approx(3 / 4)


def _stream_labels(streams: list[list[str]]) -> pd.DataFrame:
    rows = []
    for c, stream in enumerate(streams):
        rows += turn_rows(f"c{c:03d}", [ai({"move": s}) for s in stream])
    return frame(rows)


def test_sequences_nominal_code_equals_lag_table(codebook) -> None:
    streams = [["listen", "advise", "listen", "advise", "advise"], ["listen", "listen", "other"]]
    t = lag_sequential(_stream_labels(streams), codebook, given=["move"], target=["move"])
    # hand counts (transitions do not cross conversations):
    # c0: LA AL LA AA ; c1: LL LO  -> LL=1 LA=2 LO=1 AL=1 AA=1
    counts = np.array([[1, 2, 1], [1, 1, 0], [0, 0, 0]])
    names = ["move=listen", "move=advise", "move=other"]
    ref = lag_table(counts, names, names)
    ref = ref[ref["given_n"] > 0]
    got = t.set_index(["given", "target"]).loc[list(zip(ref["given"], ref["target"], strict=True))]
    assert got["count"].tolist() == ref["count"].tolist()
    np.testing.assert_allclose(got["adjusted_residual"], ref["adjusted_residual"])
    np.testing.assert_allclose(got["yule_q"], ref["yule_q"])


def test_sequences_transitions_skip_system_turns_and_respect_roles(codebook) -> None:
    rows = turn_rows("c1", [user({"bid": "1"}), ai({"emp": "1"}), user({"bid": "0"})])
    labels = frame(rows)
    labels.loc[labels["turn_index"] == 2, "turn_index"] = 3  # a system turn sits at index 2
    turns = pd.DataFrame(
        {
            "conversation_id": "c1",
            "turn_index": [0, 1, 2, 3],
            "role": ["user", "assistant", "system", "user"],
        }
    )
    f = prepare(
        labels, codebook, corpus=corpus_of(pd.DataFrame({"conversation_id": ["c1"]}), turns)
    )
    t, u = transitions(f, 1)
    assert f.turns.loc[t, "turn_index"].tolist() == [0, 1]
    assert f.turns.loc[u, "turn_index"].tolist() == [1, 3]  # the system turn is skipped
    t, u = transitions(f, 1, given_role="user", target_role="assistant")
    assert (len(t), len(u)) == (1, 1)
    t, u = transitions(f, 2)
    assert f.turns.loc[u, "turn_index"].tolist() == [3]
    with pytest.raises(AnalysisError, match="E460"):
        transitions(f, 0)


def _simulate(p: np.ndarray, n_conv: int, length: int, rng: np.random.Generator) -> list[list[str]]:
    states = ["listen", "advise", "other"][: len(p)]
    streams = []
    for _ in range(n_conv):
        s = [int(rng.integers(len(p)))]
        for _ in range(length - 1):
            s.append(int(rng.choice(len(p), p=p[s[-1]])))
        streams.append([states[i] for i in s])
    return streams


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(0, 10_000))
def test_sequences_markov_chain_is_recovered(codebook, seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(3), size=3) * 0.85 + 0.05  # keep every transition possible
    streams = _simulate(p, 150, 30, rng)
    t = lag_sequential(_stream_labels(streams), codebook, given=["move"], target=["move"])
    names = ["move=listen", "move=advise", "move=other"]
    est = t.pivot(index="given", columns="target", values="probability").loc[names, names]
    # 4350 transitions, ~1450 per row: the standard error of a probability is <= 0.013
    np.testing.assert_allclose(est.to_numpy(), p, atol=0.06)


def _heterogeneous(dependent: bool, seed: int) -> pd.DataFrame:
    """Bids and empathy share a per-conversation rate; with ``dependent`` empathy follows bids."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(120):
        rate = 0.1 if c % 2 else 0.8
        spec = []
        for _ in range(6):
            bid = rng.random() < rate
            emp = (rng.random() < 0.9) == bid if dependent else rng.random() < rate
            spec += [user({"bid": str(int(bid))}), ai({"emp": str(int(emp))})]
        rows += turn_rows(f"c{c:03d}", spec)
    return frame(rows)


def test_sequences_permutation_controls_conversation_base_rates(codebook) -> None:
    # independent within conversations, but both codes are frequent in the same
    # conversations: the pooled z is large, the within-conversation permutation is not
    t = lag_sequential(
        _heterogeneous(False, 5),
        codebook,
        given=["bid"],
        target=["emp"],
        given_role="user",
        target_role="assistant",
        permutations=400,
        seed=1,
    )
    row = t.iloc[0]
    assert row["adjusted_residual"] > 5
    assert row["p_permutation"] > 0.05


def test_sequences_permutation_detects_real_contingency(codebook) -> None:
    t = lag_sequential(
        _heterogeneous(True, 6),
        codebook,
        given=["bid"],
        target=["emp"],
        given_role="user",
        target_role="assistant",
        permutations=400,
        seed=2,
    )
    row = t.iloc[0]
    assert row["p_permutation"] < 0.01
    assert row["yule_q"] > 0.9


def test_sequences_permutation_is_seeded(codebook) -> None:
    labels = _heterogeneous(True, 7)
    kw = dict(given=["bid"], target=["emp"], given_role="user", target_role="assistant")
    a = lag_sequential(labels, codebook, permutations=50, seed=3, **kw)
    b = lag_sequential(labels, codebook, permutations=50, seed=3, **kw)
    pd.testing.assert_frame_equal(a, b)


def _gappy() -> pd.DataFrame:
    """Turns 0 (user), 2 (user), 3 (assistant) labelled; turn 1 (assistant) nobody coded."""
    rows = turn_rows("c1", [user({"bid": "1"}), ai({"emp": "1"}), user({"bid": "1"}),
                            ai({"emp": "1"})])  # fmt: skip
    labels = frame(rows)
    return labels[labels["turn_index"] != 1].reset_index(drop=True)


@pytest.mark.parametrize("with_corpus", [False, True], ids=["no corpus", "corpus"])
def test_sequences_lag_one_never_jumps_over_an_unlabelled_turn(codebook, with_corpus) -> None:
    """The bug of issue 18: without a corpus turns were numbered among the labelled ones, so
    turn 0 -> turn 2 counted as lag 1. Positions come from turn_index either way."""
    turns = pd.DataFrame(
        {"conversation_id": "c1", "turn_index": [0, 1, 2, 3],
         "role": ["user", "assistant", "user", "assistant"]}
    )  # fmt: skip
    corpus = corpus_of(pd.DataFrame({"conversation_id": ["c1"]}), turns) if with_corpus else None
    f = prepare(_gappy(), codebook, corpus=corpus)
    t, u = transitions(f, 1)
    assert f.turns.loc[t, "turn_index"].tolist() == [2]
    assert f.turns.loc[u, "turn_index"].tolist() == [3]
    t, u = transitions(f, 2)
    assert (f.turns.loc[t, "turn_index"].tolist(), f.turns.loc[u, "turn_index"].tolist()) == (
        [0],
        [2],
    )
    tab = lag_sequential(_gappy(), codebook, corpus=corpus, given=["bid"], target=["bid"], lag=2)
    assert tab.iloc[0]["n"] == 1  # turn 0 -> turn 2 is lag 2, with or without the corpus
    assert tab.iloc[0]["count"] == 1
