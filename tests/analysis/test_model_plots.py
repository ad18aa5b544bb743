"""Figures of the model-based results: what they draw, from the tables."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from analysis_helpers import ratings_corpus

from annotate.analysis import session_trajectories
from annotate.analysis.model_plots import plot_effects, plot_session_curve

matplotlib.use("Agg")
pytestmark = pytest.mark.filterwarnings("ignore:.*W45[123]")


def test_model_plots_session_curve_shows_users_behind_each_point(codebook) -> None:
    import matplotlib.pyplot as plt

    labels, corpus = ratings_corpus()
    tr = session_trajectories(labels, codebook, corpus=corpus, codes=["emp"], min_users=4,
                              bootstrap=50, seed=1)  # fmt: skip
    fig = plot_session_curve(tr, "emp")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts == [f"n={n}" for n in tr.average["n_users"]]  # one label per point, no more
    assert "session" in ax.get_xlabel()
    plt.close(fig)


def test_model_plots_effects_draw_open_intervals_to_the_edge() -> None:
    import matplotlib.pyplot as plt

    t = pd.DataFrame(
        {"item": ["a", "b"], "model_odds_ratio": [2.0, np.inf],
         "model_ci_low": [1.2, 3.0], "model_ci_high": [3.5, np.inf]}
    )  # fmt: skip
    fig = plot_effects(t)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert [tick.get_text() for tick in ax.get_yticklabels()] == ["a", "b"]
    lo, hi = ax.get_xlim()
    assert lo < 1.2 and hi >= 3.5 * 2  # the open interval reaches the right edge
    plt.close(fig)
