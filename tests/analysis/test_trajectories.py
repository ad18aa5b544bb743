"""Trajectories: position bins by hand, start vs end, session slopes by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import ai, corpus_of, frame, ratings_corpus, turn_rows, user

from annotate.analysis import position_trajectory, session_trajectories, start_vs_end
from annotate.errors import AnalysisError

pytestmark = pytest.mark.filterwarnings("ignore:.*W45[123]")


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
    tr = session_trajectories(
        labels, codebook, corpus=corpus, codes=["bid"], bootstrap=200, seed=0, min_users=1
    )
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


def test_trajectories_ordinal_conversation_codes_are_followed(codebook) -> None:
    """Issue 18: session_trajectories(codes=[an ordinal conversation code]) failed with E461."""
    labels, corpus = ratings_corpus()
    tr = session_trajectories(labels, codebook, corpus=corpus, codes=["warm"], bootstrap=100,
                              seed=1)  # fmt: skip
    s = tr.sessions
    assert set(s["item"]) == {"warm"} and set(s["code_level"]) == {"ordinal"}
    u0 = s[s["user_id"] == "u0"].sort_values("session")
    assert u0["value"].tolist() == [1, 1, 2, 2, 3]  # the rating as its score
    row = tr.trend.iloc[0]
    assert row["mean_slope"] > 0 and row["mixed_slope"] > 0
    assert "cumulative-link" in row["model"] and row["pa_estimate"] > 1
    assert row["pa_scale"] == "proportional odds ratio per session"
    assert set(tr.models["which"]) == {"mixed", "population-averaged"}


def test_trajectories_average_curve_stops_where_too_few_users_remain(codebook) -> None:
    labels, corpus = ratings_corpus()
    tr = session_trajectories(labels, codebook, corpus=corpus, codes=["emp"], min_users=4,
                              bootstrap=50, seed=2)  # fmt: skip
    avg = tr.average.set_index("session")
    # 8 users: sessions 1-3 all of them, session 4 the 6 users with 4+ (u % 3 != 2), session 5
    # the 3 users with u % 3 == 0 -> fewer than 4: the curve stops after session 4
    assert avg["n_users"].tolist() == [8, 8, 8, 6]
    assert avg.loc[3, "mean"] == pytest.approx(1.0) and avg.loc[1, "mean"] == pytest.approx(0)
    assert (tr.curve["n_users"] >= 4).all()


def test_trajectories_days_and_splines(codebook) -> None:
    labels, corpus = ratings_corpus()
    tr = session_trajectories(labels, codebook, corpus=corpus, codes=["emp"], time="days",
                              shape="spline", bootstrap=0)  # fmt: skip
    assert tr.settings["time"] == "days" and len(tr.settings["knots"]) == 3
    s = tr.sessions
    assert s.groupby("user_id")["days"].min().eq(0).all()
    assert (s[s["session"] == 2]["days"] == 3).all()
    row = tr.trend.iloc[0]
    assert np.isnan(row["mixed_slope"])  # a spline has no single slope ...
    assert 0 <= row["mixed_p"] <= 1  # ... but a joint test of its terms
    assert {"time", "time'1"} <= set(tr.models["term"])
    pw = session_trajectories(labels, codebook, corpus=corpus, codes=["emp"], shape="piecewise",
                              knots=[2], bootstrap=0)  # fmt: skip
    assert "(time-2)+" in set(pw.models["term"])
    with pytest.raises(AnalysisError, match="E460"):
        session_trajectories(labels, codebook, corpus=corpus, time="weeks")


def test_trajectories_start_vs_end_model(codebook) -> None:
    rows = []
    rng = np.random.default_rng(0)
    for c in range(30):
        rows += turn_rows(f"c{c}", [ai({"emp": str(int(rng.random() < 0.1 + 0.8 * k / 9))})
                                    for k in range(10)])  # fmt: skip
    t = start_vs_end(frame(rows), codebook, bootstrap=200, seed=1, model=True)
    row = t.iloc[0]
    assert row["difference"] > 0.4 and row["ci_low"] > 0
    assert row["model_odds_ratio"] > 5 and row["model_ci_low"] > 1
    assert row["formula"] == "emp ~ position" and row["resampled"] == "conversations"
