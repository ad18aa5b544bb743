"""Trajectories: position bins by hand, start vs end, session slopes by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import ai, corpus_of, frame, turn_rows, user

from annotate.analysis import position_trajectory, session_trajectories, start_vs_end
from annotate.errors import AnalysisError


def _ten_turns() -> pd.DataFrame:
    # two conversations of 10 assistant turns; emp only in the last two turns of each
    rows = []
    for c in ("c1", "c2"):
        rows += turn_rows(c, [ai({"emp": "1" if k >= 8 else "0"}) for k in range(10)])
    return frame(rows)


def test_trajectories_quintile_bins_by_hand(codebook) -> None:
    t = position_trajectory(_ten_turns(), codebook, bootstrap=0)
    # positions k/9, bin floor(5k/9) (k=9 capped): 5k/9 = 0, .56 | 1.1, 1.7 | 2.2, 2.8 |
    # 3.3, 3.9 | 4.4, 5 -> two turns per bin and conversation, four per bin
    emp = t[t["item"] == "emp"].set_index("bin")
    assert emp["n"].tolist() == [4, 4, 4, 4, 4]
    assert emp["share"].tolist() == [0, 0, 0, 0, 1]
    assert emp.loc[1, "position"] == "0–20%"


def test_trajectories_start_vs_end(codebook) -> None:
    t = start_vs_end(_ten_turns(), codebook, bootstrap=200, seed=0)
    row = t[t["item"] == "emp"].iloc[0]
    assert (row["share_start"], row["share_end"], row["difference"]) == (0, 1, 1)
    assert row["ci_low"] == pytest.approx(1) and row["ci_high"] == pytest.approx(1)


def _sessions_corpus() -> tuple[pd.DataFrame, object]:
    # user u1: 3 sessions with bid on 0/2, 1/2, 2/2 user turns -> slope 0.5
    # user u2: 3 sessions with 2/2, 2/2, 1/2 -> slope -0.25; user u3: one session (no slope)
    shares = {"a1": 0, "a2": 1, "a3": 2, "b1": 2, "b2": 2, "b3": 1, "c1": 1}
    rows = []
    for conv, k in shares.items():
        rows += turn_rows(conv, [user({"bid": "1" if j < k else "0"}) for j in range(2)])
    start = pd.Timestamp("2025-01-01", tz="UTC")
    convs = pd.DataFrame(
        {
            "conversation_id": list(shares),
            "user_id": ["u1", "u1", "u1", "u2", "u2", "u2", "u3"],
            # u1's sessions are listed out of time order on purpose
            "started_at": [start + pd.Timedelta(days=d) for d in (1, 2, 3, 3, 1, 2, 1)],
        }
    )
    return frame(rows), corpus_of(convs)


def test_trajectories_session_slopes_by_hand(codebook) -> None:
    labels, corpus = _sessions_corpus()
    tr = session_trajectories(labels, codebook, corpus=corpus, codes=["bid"], bootstrap=200, seed=0)
    u2 = tr.sessions[tr.sessions["user_id"] == "u2"].sort_values("session")
    # u2 by time: b2 (day 1), b3 (day 2), b1 (day 3) -> shares 1, 0.5, 1
    assert u2["conversation_id"].tolist() == ["b2", "b3", "b1"]
    slopes = tr.slopes.set_index("user_id")["slope"]
    assert slopes["u1"] == pytest.approx(0.5)
    assert slopes["u2"] == pytest.approx(0.0)
    assert "u3" not in slopes.index
    trend = tr.trend.iloc[0]
    assert trend["mean_slope"] == pytest.approx(0.25) and trend["n_users"] == 2
    assert trend["ci_low"] <= 0.25 <= trend["ci_high"]
    avg = tr.average.set_index("session")
    assert avg.loc[1, "mean"] == pytest.approx(np.mean([0.0, 1.0, 0.5]))
    assert avg.loc[1, "n_users"] == 3


def test_trajectories_sessions_need_users(codebook) -> None:
    labels, _ = _sessions_corpus()
    with pytest.raises(AnalysisError, match="E458"):
        session_trajectories(
            labels, codebook, corpus=corpus_of(pd.DataFrame({"conversation_id": ["a1"]}))
        )
