"""Figures of the model-based results (matplotlib is imported only when a figure is drawn).

:func:`plot_session_curve` draws a session trajectory with the number of users behind each
point (the curve stops where too few remain, as the tables do); :func:`plot_effects` is a
forest plot of odds ratios (or any estimate) with their intervals. Both return a matplotlib
Figure; :func:`annotate.analysis.plots.save_figure` writes PNG and SVG.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def _plt() -> Any:
    import matplotlib.pyplot as plt  # the caller's backend is respected (tests use Agg)

    return plt


def plot_session_curve(trends: Any, item: str) -> Any:
    """Average across users by session (points, with how many users stand behind each) and
    the mixed model's fitted curve with its interval band."""
    plt = _plt()
    avg = trends.average[trends.average["item"] == item].sort_values("time")
    curve = trends.curve[trends.curve["item"] == item] if len(trends.curve) else pd.DataFrame()
    time = trends.settings.get("time", "session")
    fig, ax = plt.subplots(figsize=(7, 4))
    if len(avg):
        x = avg["time"].to_numpy(float) - (1 if time == "session" else 0)
        lo = np.clip(avg["mean"] - avg["ci_low"], 0, None)
        hi = np.clip(avg["ci_high"] - avg["mean"], 0, None)
        ax.errorbar(x, avg["mean"], yerr=[lo, hi], fmt="o", color="C0", capsize=2,
                    label="mean across users (95% CI)")  # fmt: skip
        for xi, yi, n in zip(x, avg["ci_high"], avg["n_users"], strict=True):
            ax.annotate(f"n={n}", (xi, yi), textcoords="offset points", xytext=(0, 4),
                        ha="center", fontsize=7, color="C0")  # fmt: skip
    if len(curve):
        ax.plot(curve["time"], curve["fitted"], color="C1", label="mixed model (fixed effects)")
        ax.fill_between(curve["time"], curve["ci_low"], curve["ci_high"], color="C1", alpha=0.2)
    unit = "session (0 = first)" if time == "session" else "days since the user's first session"
    ax.set_xlabel(unit)
    ax.set_ylabel("session value (share of turns, or rating)")
    tr = trends.trend[trends.trend["item"] == item]
    title = item
    if len(tr) and "p_value" in tr:
        r = tr.iloc[0]
        title += f" — trend p = {r['p_value']:.3g} ({r.get('model_family', '')})"
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_effects(
    table: pd.DataFrame,
    *,
    estimate: str = "model_odds_ratio",
    low: str = "model_ci_low",
    high: str = "model_ci_high",
    label: str | list[str] = "item",
    log: bool = True,
    title: str = "",
) -> Any:
    """Forest plot: one row per table row, the estimate with its interval; a reference line at
    1 (log scale, odds ratios) or 0. Infinite bounds are drawn to the edge with an arrow."""
    plt = _plt()
    t = table.reset_index(drop=True)
    labels = (
        t[label].astype(str)
        if isinstance(label, str)
        else t[label].astype(str).agg(" · ".join, axis=1)
    )
    est = t[estimate].to_numpy(float)
    lo, hi = t[low].to_numpy(float), t[high].to_numpy(float)
    finite = np.concatenate([v[np.isfinite(v) & (v > 0 if log else True)] for v in (est, lo, hi)])
    span = (finite.min(), finite.max()) if len(finite) else (0.1, 10.0)
    if log:
        edge_lo, edge_hi = span[0] / 2, span[1] * 2
    else:
        pad = (span[1] - span[0]) * 0.1 + 1e-9
        edge_lo, edge_hi = span[0] - pad, span[1] + pad
    y = np.arange(len(t))
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.35 * len(t) + 1)))
    for k in range(len(t)):
        a = lo[k] if np.isfinite(lo[k]) and (lo[k] > 0 or not log) else edge_lo
        b = hi[k] if np.isfinite(hi[k]) else edge_hi
        ax.plot([a, b], [y[k], y[k]], color="C0")
        if np.isfinite(est[k]) and (est[k] > 0 or not log):
            ax.plot(est[k], y[k], "o", color="C0")
        if not np.isfinite(hi[k]):
            ax.annotate("", (edge_hi, y[k]), (b * 0.8 if log else b - 1e-9, y[k]),
                        arrowprops={"arrowstyle": "->", "color": "C0"})  # fmt: skip
    ax.axvline(1.0 if log else 0.0, color="grey", lw=0.8)
    if log:
        ax.set_xscale("log")
    ax.set_xlim(edge_lo, edge_hi)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(estimate.replace("_", " ") + " (95% CI)")
    ax.set_title(title, fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
