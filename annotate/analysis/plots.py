"""Paper-ready figures of the analysis tables (matplotlib is imported only when plotting).

Every function takes the DataFrame an analysis returned and returns a matplotlib Figure with
labelled axes, units and the intervals of the table; :func:`save_figure` writes PNG and SVG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _plt() -> Any:
    import matplotlib.pyplot as plt  # the caller's backend is respected (tests use Agg)

    return plt


def save_figure(fig: Any, stem: str | Path, *, dpi: int = 200) -> list[Path]:
    """Write ``stem.png`` and ``stem.svg``; returns the two paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    fig.savefig(paths[0], dpi=dpi, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    return paths


def _errbars(share: pd.Series, lo: pd.Series, hi: pd.Series) -> np.ndarray:
    s, low, high = (np.asarray(v, dtype=float) for v in (share, lo, hi))
    return np.vstack([np.clip(s - low, 0, None), np.clip(high - s, 0, None)])


def plot_prevalence(table: pd.DataFrame, *, unit: str = "turn", group: str | None = None) -> Any:
    """Dot plot of shares with their intervals, one row per item (dodged by ``group``)."""
    plt = _plt()
    t = table[table["unit"] == unit]
    groups = (
        [None] if group is None or group not in t else sorted(t[group].dropna().unique(), key=str)
    )
    items = list(dict.fromkeys(t["item"]))
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.28 * len(items) + 1)))
    step = 0.8 / max(len(groups), 1)
    for k, g in enumerate(groups):
        sub = t if g is None else t[t[group] == g]
        sub = sub.drop_duplicates("item").set_index("item").reindex(items)
        y = np.arange(len(items)) + (k - (len(groups) - 1) / 2) * step
        ax.errorbar(
            sub["share"],
            y,
            xerr=_errbars(sub["share"], sub["ci_low"], sub["ci_high"]),
            fmt="o",
            ms=4,
            capsize=2,
            label=None if g is None else str(g),
        )
    ax.set_yticks(np.arange(len(items)), items)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    what = "turns" if unit == "turn" else "conversations"
    ax.set_xlabel(f"share of coded {what} with the code (95% CI, bootstrap by conversation)")
    ax.set_title(f"Prevalence per {unit}")
    if groups != [None]:
        ax.legend(title=group, fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def _square(table: pd.DataFrame, rows: str, cols: str, stat: str, symmetric: bool) -> pd.DataFrame:
    m = table.pivot_table(index=rows, columns=cols, values=stat, aggfunc="first")
    if symmetric:
        names = list(dict.fromkeys([*table[rows], *table[cols]]))
        m = m.reindex(index=names, columns=names)
        m = m.combine_first(m.T)
    return m


def _heat(m: pd.DataFrame, *, title: str, cbar: str, vmax: float, xlabel: str, ylabel: str) -> Any:
    plt = _plt()
    size = max(4, 0.35 * max(m.shape) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    if m.empty:
        ax.text(0.5, 0.5, "no pairs coded together", ha="center", va="center")
        ax.set_axis_off()
        ax.set_title(title)
        return fig
    im = ax.imshow(m.to_numpy(dtype=float), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    ax.set_xticks(range(m.shape[1]), [str(c) for c in m.columns], rotation=90, fontsize=7)
    ax.set_yticks(range(m.shape[0]), [str(i) for i in m.index], fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label=cbar, shrink=0.8)
    fig.tight_layout()
    return fig


def plot_cooccurrence(table: pd.DataFrame, *, stat: str = "yule_q") -> Any:
    """Heat map of a co-occurrence statistic (Yule's Q by default, -1..1)."""
    m = _square(table, "item_a", "item_b", stat, symmetric=True)
    unit = table["unit"].iloc[0] if len(table) else "turn"
    vmax = (
        1.0
        if stat in {"yule_q", "jaccard"}
        else float(np.nanmax(np.abs(m.to_numpy(float)), initial=1))
    )
    return _heat(
        m,
        title=f"Co-occurrence within {unit}s",
        cbar=stat.replace("_", " "),
        vmax=vmax,
        xlabel="code",
        ylabel="code",
    )


def plot_sequences(table: pd.DataFrame, *, stat: str = "adjusted_residual") -> Any:
    """Heat map of given x target cells (adjusted residuals by default; |z| > 1.96 ~ p < .05)."""
    m = _square(table, "given", "target", stat, symmetric=False)
    lag = int(table["lag"].iloc[0]) if len(table) else 1
    vmax = (
        1.0
        if stat == "yule_q"
        else max(3.0, float(np.nanmax(np.abs(m.to_numpy(float)), initial=3)))
    )
    roles = ""
    if len(table) and table["given_role"].iloc[0]:
        roles = f" ({table['given_role'].iloc[0]} → {table['target_role'].iloc[0]})"
    label = "adjusted residual z" if stat == "adjusted_residual" else stat.replace("_", " ")
    return _heat(
        m,
        title=f"Lag-{lag} transitions{roles}",
        cbar=label,
        vmax=vmax,
        xlabel="target (turn t + lag)",
        ylabel="given (turn t)",
    )


def plot_queries(table: pd.DataFrame) -> Any:
    """P(consequent | antecedent) per query next to the consequent's base rate."""
    plt = _plt()
    labels = [
        f"{q}: {a} → {c}"
        for q, a, c in zip(table["query"], table["antecedent"], table["consequent"], strict=True)
    ]
    y = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.4 * len(table) + 1)))
    base = table["target_n"] / table["n"].where(table["n"] > 0)
    ax.scatter(table["probability"], y, label="P(consequent | antecedent)", zorder=3)
    ax.scatter(base, y, marker="|", s=200, color="grey", label="base rate of consequent")
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("transitional probability (share of next turns)")
    ax.set_title("Sequence questions (lag 1)")
    ax.legend(fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_trajectory(table: pd.DataFrame, *, items: list[str] | None = None) -> Any:
    """Share by normalised position bin with interval bands, one line per item (and role)."""
    plt = _plt()
    t = table if items is None else table[table["item"].isin(items)]
    fig, ax = plt.subplots(figsize=(7, 4))
    for (role, item), g in t.groupby(["role", "item"], sort=False, dropna=False):
        g = g.sort_values("bin")
        name = item if role is None or pd.isna(role) else f"{item} ({role})"
        ax.plot(g["bin"], g["share"], marker="o", label=name)
        ax.fill_between(g["bin"], g["ci_low"], g["ci_high"], alpha=0.15)
    if len(t):
        ticks = t.drop_duplicates("bin").sort_values("bin")
        ax.set_xticks(ticks["bin"], ticks["position"])
    ax.set_xlabel("position in the conversation (share of its turns)")
    ax.set_ylabel("share of coded turns with the code")
    ax.set_ylim(0, 1)
    ax.set_title("Codes by position within conversations (95% CI)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def plot_sessions(trends: Any, item: str) -> Any:
    """Each user's trajectory (thin) and the average across users with its interval."""
    plt = _plt()
    s = trends.sessions[trends.sessions["item"] == item]
    a = trends.average[trends.average["item"] == item].sort_values("session")
    fig, ax = plt.subplots(figsize=(7, 4))
    for _, g in s.groupby("user_id"):
        ax.plot(g["session"], g["share"], color="grey", alpha=0.35, lw=0.8)
    ax.plot(a["session"], a["mean"], color="C0", lw=2, marker="o", label="mean across users")
    ax.fill_between(a["session"], a["ci_low"], a["ci_high"], color="C0", alpha=0.2, label="95% CI")
    tr = trends.trend[trends.trend["item"] == item]
    if len(tr):
        r = tr.iloc[0]
        ax.set_title(
            f"{item}: mean slope {r['mean_slope']:+.3f}/session "
            f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}], {r['n_users']} users"
        )
    else:
        ax.set_title(item)
    ax.set_xlabel("session (conversation number of the user, by start time)")
    ax.set_ylabel("share of coded turns with the code")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_comparison(table: pd.DataFrame) -> Any:
    """Forest plot of risk differences (group 1 - group 2) with bootstrap intervals."""
    plt = _plt()
    y = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.3 * len(table) + 1)))
    rd = table["risk_difference"]
    err = None
    if "rd_ci_low" in table:
        err = np.vstack(
            [np.clip(rd - table["rd_ci_low"], 0, None), np.clip(table["rd_ci_high"] - rd, 0, None)]
        )
    ax.errorbar(rd, y, xerr=err, fmt="o", ms=4, capsize=2)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, table["item"], fontsize=8)
    ax.invert_yaxis()
    if len(table):
        r = table.iloc[0]
        ax.set_xlabel(
            f"risk difference: {r['group_1']} − {r['group_2']} (share of {r['unit']}s, 95% CI)"
        )
        ax.set_title(f"Comparison by {r['by']}")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
