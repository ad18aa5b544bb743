"""Forest plot of alpha per report row (matplotlib, imported lazily).

Each row is coloured by its verdict (:mod:`annotate.agreement._display`): where its 95 %
interval lies -- lower bound >= .800 reliable, >= .667 tentative, else not established; rows
without an interval by alpha itself, drawn as squares. A row resting on few cases has an open
marker. The legend below the axes says all of this.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from annotate.agreement._display import COLOURS, FEW_CASES, VERDICTS, verdicts, wrap_label
from annotate.agreement._row import RELIABLE, TENTATIVE

#: legend labels of the verdicts (the same words as the text table)
LEGEND = {
    "reliable": f"reliable: interval above {RELIABLE:.3f}",
    "tentative": f"tentative: interval above {TENTATIVE:.3f}",
    "not established": f"not established: interval reaches below {TENTATIVE:.3f}",
}


def row_labels(table: pd.DataFrame) -> list[str]:
    """``code (role)`` per row (conversation codes: the code alone), wrapped when long."""
    return [
        wrap_label(f"{c} ({r})" if isinstance(r, str) else str(c), 36)
        for c, r in zip(table["code_id"], table["role"], strict=True)
    ]


def forest_plot(table: pd.DataFrame, *, title: str | None = None, width: float = 7.5) -> Any:
    """Alpha (marker) and its bootstrap interval (line) per row; lines at .667 and .800.

    Parameters
    ----------
    table : DataFrame
        ``AgreementReport.table`` (columns code_id, role, alpha, alpha_low, alpha_high,
        n_units, distribution).
    title : str, optional
    width : float
        Figure width in inches; the height grows with the number of rows.

    Returns
    -------
    matplotlib.figure.Figure
        Save with ``fig.savefig("alpha.png")`` or ``.svg``. Each row's marker has the gid
        ``"alpha:<code_id>/<role>"`` (its interval line ``"ci:..."``); undefined rows are
        written "undefined" at the left edge.
    """
    # through pyplot, so that a notebook's inline backend knows how to show the figure; closed at
    # once, so it is shown exactly once (as the returned value), never again at the cell's end
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    n = len(table)
    fig = plt.figure(figsize=(width, max(3.0, 0.3 * n + 2.2)), layout="constrained")
    plt.close(fig)
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    v = verdicts(table)
    alpha = table["alpha"].to_numpy(dtype=float)
    nan = np.full(n, np.nan)
    lo = table["alpha_low"].to_numpy(dtype=float) if "alpha_low" in table else nan
    hi = table["alpha_high"].to_numpy(dtype=float) if "alpha_high" in table else nan
    left = np.nanmin(np.r_[lo, alpha, 0.0]) if n else 0.0
    left = min(0.0, float(np.floor(left * 10) / 10))
    for k, (yi, a, lo_i, hi_i) in enumerate(zip(y, alpha, lo, hi, strict=True)):
        cat, has_ci, few = v["category"].iloc[k], v["interval"].iloc[k], v["few_cases"].iloc[k]
        role = table["role"].iloc[k]
        key = f"{table['code_id'].iloc[k]}/{role if isinstance(role, str) else '-'}"
        if cat == "undefined":
            ax.text(left + 0.01, yi, "undefined", va="center", fontsize=8, color="grey")
            continue
        colour = COLOURS[cat]
        if has_ci:
            ax.plot([lo_i, hi_i], [yi, yi], color=colour, lw=2, gid=f"ci:{key}")
        ax.plot(
            [a], [yi], "o" if has_ci else "s", color=colour, ms=7, mew=1.8,
            mfc="white" if few else colour, gid=f"alpha:{key}", zorder=3,
        )  # fmt: skip
    ax.axvline(TENTATIVE, color="grey", ls="--", lw=1)
    ax.axvline(RELIABLE, color="grey", ls="-", lw=1)
    ax.set_yticks(y, row_labels(table), fontsize=8)
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlim(left, 1.04)
    any_ci = bool(v["interval"].any())
    ax.set_xlabel(
        "Krippendorff's alpha (95% bootstrap interval)" if any_ci else "Krippendorff's alpha"
    )
    ax.set_title(title or "Agreement per code (lines at .667 and .800)")
    handles = [
        Line2D([], [], color=COLOURS[c], marker="o", lw=2, label=LEGEND[c]) for c in VERDICTS
    ]
    if (~v["interval"] & (v["category"] != "undefined")).any():
        handles.append(
            Line2D([], [], color="grey", marker="s", ls="", label="no interval: by alpha itself")
        )
    few_label = f"open marker: few cases (< {FEW_CASES:.1f} units differ from the mode)"
    handles.append(
        Line2D([], [], color="grey", marker="o", mfc="white", mew=1.8, ls="", label=few_label)
    )
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    return fig
