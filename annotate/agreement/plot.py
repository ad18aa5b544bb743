"""Forest plot of alpha per report row (matplotlib, imported lazily)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from annotate.agreement._row import RELIABLE, TENTATIVE


def forest_plot(table: pd.DataFrame, *, title: str | None = None, width: float = 7.0) -> Any:
    """Alpha (dot) and its bootstrap interval (line) per row; lines at .667 and .800.

    Parameters
    ----------
    table : DataFrame
        ``AgreementReport.table`` (columns code_id, role, alpha, alpha_low, alpha_high, flag).
    title : str, optional
    width : float
        Figure width in inches; the height grows with the number of rows.

    Returns
    -------
    matplotlib.figure.Figure
        Save with ``fig.savefig("alpha.png")`` or ``.svg``. Undefined rows are listed as
        "undefined" at the left edge.
    """
    # through pyplot, so that a notebook's inline backend knows how to show the figure; closed at
    # once, so it is shown exactly once (as the returned value), never again at the cell's end
    import matplotlib.pyplot as plt

    n = len(table)
    fig = plt.figure(figsize=(width, max(2.0, 0.32 * n + 1.2)), layout="constrained")
    plt.close(fig)
    ax = fig.add_subplot()
    labels = [
        f"{c} ({r})" if isinstance(r, str) else str(c)
        for c, r in zip(table["code_id"], table["role"], strict=True)
    ]
    y = np.arange(n)[::-1]
    colours = {"reliable": "#2e7d32", "tentative": "#f9a825", "unreliable": "#c62828"}
    alpha = table["alpha"].to_numpy(dtype=float)
    lo = table["alpha_low"].to_numpy(dtype=float)
    hi = table["alpha_high"].to_numpy(dtype=float)
    left = np.nanmin(np.r_[lo, alpha, 0.0]) if n else 0.0
    left = min(0.0, float(np.floor(left * 10) / 10))
    for yi, a, lo_i, hi_i, f in zip(y, alpha, lo, hi, table["flag"], strict=True):
        if a != a:
            ax.text(left + 0.01, yi, "undefined", va="center", fontsize=8, color="grey")
            continue
        if lo_i == lo_i:
            ax.plot([lo_i, hi_i], [yi, yi], color=colours.get(f, "black"), lw=2)
        ax.plot([a], [yi], "o", color=colours.get(f, "black"))
    ax.axvline(TENTATIVE, color="grey", ls="--", lw=1)
    ax.axvline(RELIABLE, color="grey", ls="-", lw=1)
    ax.set_yticks(y, labels)
    ax.set_xlim(left, 1.02)
    ax.set_xlabel("Krippendorff's alpha (95% bootstrap interval)")
    ax.set_title(title or "Agreement per code (lines at .667 and .800)")
    return fig
