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


def _row_ticks(items: list[Any], per_row: float) -> tuple[list[str], float]:
    """Tick labels of a forest plot (wrapped at 40 characters) and the axes height in inches
    that keeps wrapped labels apart: every row as tall as the tallest label needs."""
    ticks = [_wrap(str(i), 40) for i in items]
    lines = max((t.count("\n") + 1 for t in ticks), default=1)
    return ticks, len(ticks) * max(per_row, 0.16 * lines + 0.06)


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
    ticks, height = _row_ticks(items, 0.28)
    fig, ax = plt.subplots(figsize=(7, max(2.5, height + 1)), layout="constrained")
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
    ax.set_yticks(np.arange(len(items)), ticks, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    what = "turns" if unit == "turn" else "conversations"
    ax.set_xlabel(f"share of coded {what} with the code\n(95% CI, bootstrap by conversation)")
    ax.set_title(f"Prevalence per {unit}")
    if groups != [None]:
        ax.legend(title=group, fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return fig


#: colour of cells that cannot hold a value (hatched) and of undefined statistics (plain)
NA_COLOUR, UNDEFINED_COLOUR = "#bdbdbd", "#ececec"
#: role groups of the axes, in this order (others follow alphabetically)
ROLE_ORDER = ("user", "assistant", "system", "tool", "conversation")


def _code_of(item: str) -> str:
    return item.split("=", 1)[0]


def _code_or_none(codebook: Any, item: str) -> Any:
    code_id = _code_of(item)
    return codebook.code(code_id) if code_id in codebook else None


def _group_of(item: str, codebook: Any, unit: str) -> str:
    """The role group of an item: the roles its code applies to, or "conversation"."""
    if codebook is None:
        return ""
    code = _code_or_none(codebook, item)
    if code is None:  # an item the codebook does not know: its own group at the end
        return "other"
    if code.unit == "conversation":
        return "conversation"
    roles = tuple(code.applies_to or ())
    return "/".join(roles) if roles else "any role"


def _group_rank(group: str) -> tuple[int, str]:
    first = group.split("/")[0]
    return (ROLE_ORDER.index(first) if first in ROLE_ORDER else len(ROLE_ORDER), group)


def _ordered(names: list[str], codebook: Any, unit: str) -> tuple[list[str], list[str]]:
    """Items grouped by role (user, assistant, ..., conversation), first-seen order within."""
    groups = {n: _group_of(n, codebook, unit) for n in names}
    order = sorted(names, key=lambda n: _group_rank(groups[n]))  # stable: keeps table order
    return order, [groups[n] for n in order]


def _same_code(names: list[str]) -> np.ndarray:
    """Pairs of items of one code (and each item with itself): never paired."""
    codes = np.array([_code_of(n) for n in names], dtype=object)
    return codes[:, None] == codes[None, :]


def _disjoint_roles(names: list[str], codebook: Any) -> np.ndarray:
    """Pairs of turn items whose codes apply to no common role: never on the same turn."""
    roles = []
    for n in names:
        code = _code_or_none(codebook, n)
        turn = code is not None and code.unit == "turn"
        roles.append(frozenset(code.applies_to or ()) if turn else None)
    k = len(names)
    out = np.zeros((k, k), dtype=bool)
    for i in range(k):
        for j in range(k):
            a, b = roles[i], roles[j]
            out[i, j] = a is not None and b is not None and bool(a) and bool(b) and not (a & b)
    return out


def _abbreviate(names: list[str], groups: list[str]) -> tuple[list[str], list[str]]:
    """Short tick labels and the key that expands them.

    Within each role group the shared prefix of the code ids (``ai_``, ``user_``) is dropped,
    and the code of a ``CODE=VALUE`` item is written by its initials (``primary_move=listen`` ->
    ``pm=listen``) unless two codes share them. Returns the labels and the key lines.
    """
    short = list(names)
    key: list[str] = []
    for group in dict.fromkeys(groups):
        idx = [i for i, g in enumerate(groups) if g == group]
        codes = list(dict.fromkeys(_code_of(names[i]) for i in idx))
        prefix = _common_prefix(codes) if len(codes) > 1 else ""
        notes = [f"{prefix}… omitted"] if prefix else []
        multi = list(dict.fromkeys(_code_of(names[i]) for i in idx if "=" in names[i]))
        # only multi-word stems are abbreviated (primary_move -> pm; move stays move)
        initials = {
            c: "".join(w[0] for w in c[len(prefix) :].split("_") if w)
            for c in multi
            if len([w for w in c[len(prefix) :].split("_") if w]) > 1
        }
        clash = {c for c in initials if list(initials.values()).count(initials[c]) > 1}
        for c in initials:
            if c not in clash:
                notes.append(f"{initials[c]} = {c}")
        if notes:
            key.append((f"{_turns(group)}: " if group else "") + ", ".join(notes))
        for i in idx:
            code, _, value = names[i].partition("=")
            stem = code[len(prefix) :]
            if value:
                stem = stem if code in clash or not initials.get(code) else initials[code]
                short[i] = f"{stem}={value}"
            else:
                short[i] = stem
    return [_wrap(label) for label in short], key


def _common_prefix(codes: list[str]) -> str:
    """The longest prefix ending with "_" shared by every code id (never a whole id)."""
    first = codes[0]
    k = 0
    for j, ch in enumerate(first):
        if ch == "_" and all(c.startswith(first[: j + 1]) and len(c) > j + 1 for c in codes):
            k = j + 1
    return first[:k]


def _wrap(label: str, width: int = 18) -> str:
    from annotate.agreement._display import wrap_label

    return wrap_label(label, width)


def _square(table: pd.DataFrame, rows: str, cols: str, stat: str, symmetric: bool) -> pd.DataFrame:
    m = table.pivot_table(index=rows, columns=cols, values=stat, aggfunc="first", sort=False)
    if symmetric:
        names = list(dict.fromkeys([*table[rows], *table[cols]]))
        m = m.reindex(index=names, columns=names)
        m = m.combine_first(m.T).reindex(index=names, columns=names)
    return m


def _heat(
    m: pd.DataFrame,
    *,
    title: str,
    cbar: str,
    vmax: float,
    xlabel: str,
    ylabel: str,
    na: np.ndarray | None = None,
    na_label: str = "",
    groups: tuple[list[str], list[str]] | None = None,
    key: list[str] | None = None,
    labels: tuple[list[str], list[str]] | None = None,
) -> Any:
    """A diverging heat map of ``m``; ``na`` cells hatched grey (``na_label`` in the legend),
    other missing cells light grey ("undefined"); ``groups`` (row and column group names)
    draws separators and names the groups on the top and right axes; ``key`` expands the
    abbreviated tick ``labels`` under the figure."""
    plt = _plt()
    from matplotlib.patches import Patch

    rows, cols = m.shape
    fig = plt.figure(
        figsize=(max(5.0, 0.3 * cols + 3.5), max(4.0, 0.3 * rows + 2.5)), layout="constrained"
    )
    ax = fig.add_subplot()
    if m.empty:
        ax.text(0.5, 0.5, "no pairs coded together", ha="center", va="center")
        ax.set_axis_off()
        ax.set_title(title)
        return fig
    values = m.to_numpy(dtype=float)
    na = np.zeros(values.shape, dtype=bool) if na is None else na
    undefined = np.isnan(values) & ~na
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad=UNDEFINED_COLOUR)
    shown = np.ma.masked_where(np.isnan(values) | na, values)
    im = ax.imshow(shown, cmap=cmap, vmin=-vmax, vmax=vmax, aspect="auto")
    im.set_gid("values")
    for i, j in zip(*np.nonzero(na), strict=True):
        ax.add_patch(
            plt.Rectangle(
                (j - 0.5, i - 0.5), 1, 1, facecolor=NA_COLOUR, edgecolor="white", hatch="///",
                lw=0, gid=f"na:{m.index[i]}|{m.columns[j]}",
            )
        )  # fmt: skip
    row_labels, col_labels = labels or ([str(i) for i in m.index], [str(c) for c in m.columns])
    ax.set_xticks(range(cols), col_labels, rotation=90, fontsize=7)
    ax.set_yticks(range(rows), row_labels, fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if groups is not None:
        _group_axes(ax, *groups)
    fig.colorbar(im, ax=ax, label=cbar, shrink=0.8)
    handles = []
    if na.any():
        handles.append(Patch(facecolor=NA_COLOUR, edgecolor="white", hatch="///", label=na_label))
    if undefined.any():
        handles.append(Patch(facecolor=UNDEFINED_COLOUR, label="undefined (a code never or "
                             "always present on these units)"))  # fmt: skip
    # the key of the abbreviated labels: text-only legend rows
    handles += [Patch(fill=False, edgecolor="none", label=f"labels, {k}") for k in key or []]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", fontsize=8, frameon=False)
    return fig


def _spans(groups: list[str]) -> list[tuple[str, int, int]]:
    out: list[tuple[str, int, int]] = []
    for k, g in enumerate(groups):
        if out and out[-1][0] == g:
            out[-1] = (g, out[-1][1], k)
        else:
            out.append((g, k, k))
    return out


def _group_axes(ax: Any, row_groups: list[str], col_groups: list[str]) -> None:
    """Separator lines between role groups and the groups' names on the top and right axes."""
    col_spans, row_spans = _spans(col_groups), _spans(row_groups)
    for _, a, _b in col_spans[1:]:
        ax.axvline(a - 0.5, color="black", lw=1.2)
    for _, a, _b in row_spans[1:]:
        ax.axhline(a - 0.5, color="black", lw=1.2)
    if len(col_spans) > 1 or (col_spans and col_spans[0][0]):
        top = ax.secondary_xaxis("top")
        top.set_xticks([(a + b) / 2 for _, a, b in col_spans], [_turns(g) for g, _, _ in col_spans])
        top.tick_params(length=0, labelsize=8)
    if len(row_spans) > 1 or (row_spans and row_spans[0][0]):
        right = ax.secondary_yaxis("right")
        right.set_yticks(
            [(a + b) / 2 for _, a, b in row_spans], [_turns(g) for g, _, _ in row_spans],
            rotation=90, va="center",
        )  # fmt: skip
        right.tick_params(length=0, labelsize=8)


def _turns(group: str) -> str:
    """The name of a role group on the axes: "user turns", "conversation", ..."""
    plain = ("conversation", "other", "", "rows", "columns")
    return group if group in plain else f"{group} turns"


def plot_cooccurrence(table: pd.DataFrame, *, stat: str = "yule_q", codebook: Any = None) -> Any:
    """Heat map of a co-occurrence statistic (Yule's Q by default, -1..1).

    Pairs that cannot co-occur are hatched grey and named in the legend, never coloured: on
    turns, codes of different roles (no turn is coded for both) and the values of one code
    (one value per unit). A pair is such a pair when the table has no row for it (no unit was
    coded for both). Statistics that are undefined (a code never or always present on the
    pair's units) are light grey. With ``codebook`` the axes are grouped by role (user turns,
    assistant turns, conversation codes), with the groups named on the top and right axes,
    and the labels are abbreviated (the key is printed under the figure).
    """
    unit = table["unit"].iloc[0] if len(table) else "turn"
    m = _square(table, "item_a", "item_b", stat, symmetric=True)
    names, groups = _ordered(list(m.index), codebook, unit)
    m = m.reindex(index=names, columns=names)
    present = _square(table.assign(_one=1.0), "item_a", "item_b", "_one", symmetric=True)
    present = present.reindex(index=names, columns=names)
    na = present.isna().to_numpy() | _same_code(names)
    if codebook is not None and unit == "turn":
        na |= _disjoint_roles(names, codebook)
    vmax = (
        1.0
        if stat in {"yule_q", "jaccard"}
        else float(np.nanmax(np.abs(m.to_numpy(float)), initial=1))
    )
    short, key = _abbreviate(names, groups)
    where = "turn" if unit == "turn" else "conversation"
    na_label = (
        f"not applicable: never on the same {where} (codes of different roles, values of one code)"
        if unit == "turn"
        else "not applicable: values of one code (never paired)"
    )
    return _heat(
        m,
        title=f"Co-occurrence within {unit}s",
        cbar=stat.replace("_", " "),
        vmax=vmax,
        xlabel="code",
        ylabel="code",
        na=na,
        na_label=na_label,
        groups=(groups, groups) if codebook is not None else None,
        key=key,
        labels=(short, short),
    )


def plot_sequences(
    table: pd.DataFrame, *, stat: str = "adjusted_residual", codebook: Any = None
) -> Any:
    """Heat map of given x target cells (adjusted residuals by default; |z| > 1.96 ~ p < .05).

    Rows are the given items (turn t), columns the targets (turn t + lag), binary codes first
    and the values of a code together. Labels are short: the shared prefix of the codes
    (``user_``, ``ai_``) is dropped and a ``CODE=VALUE`` item's code is written by its initials;
    the key under the figure gives the full names.
    """
    m = _square(table, "given", "target", stat, symmetric=False)
    rows = sorted(m.index, key=lambda n: "=" in n)  # binary codes first, table order within
    cols = sorted(m.columns, key=lambda n: "=" in n)
    m = m.reindex(index=rows, columns=cols)
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
    row_short, row_key = _abbreviate(rows, ["rows"] * len(rows))
    col_short, col_key = _abbreviate(cols, ["columns"] * len(cols))
    return _heat(
        m,
        title=f"Lag-{lag} transitions{roles}",
        cbar=label,
        vmax=vmax,
        xlabel="target (turn t + lag)",
        ylabel="given (turn t)",
        key=list(dict.fromkeys(row_key + col_key)),
        labels=(row_short, col_short),
    )


def plot_queries(table: pd.DataFrame) -> Any:
    """P(consequent | antecedent) per query next to the consequent's base rate."""
    plt = _plt()
    labels = [
        _wrap(f"{q}: {a} → {c}", 44)
        for q, a, c in zip(table["query"], table["antecedent"], table["consequent"], strict=True)
    ]
    y = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.4 * len(table) + 1)), layout="constrained")
    base = table["target_n"] / table["n"].where(table["n"] > 0)
    ax.scatter(table["probability"], y, label="P(consequent | antecedent)", zorder=3)
    ax.scatter(base, y, marker="|", s=200, color="grey", label="base rate of consequent")
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("transitional probability (share of next turns)")
    ax.set_title("Sequence questions (lag 1)")
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return fig


def plot_trajectory(table: pd.DataFrame, *, items: list[str] | None = None) -> Any:
    """Share by normalised position bin with interval bands, one line per item (and role)."""
    plt = _plt()
    t = table if items is None else table[table["item"].isin(items)]
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
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
    fig.legend(loc="outside right upper", fontsize=7, frameon=False)
    return fig


def plot_sessions(trends: Any, item: str) -> Any:
    """Each user's trajectory (thin) and the average across users with its interval."""
    plt = _plt()
    s = trends.sessions[trends.sessions["item"] == item]
    a = trends.average[trends.average["item"] == item].sort_values("session")
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for _, g in s.groupby("user_id"):
        ax.plot(g["session"], g["share"], color="grey", alpha=0.35, lw=0.8)
    ax.plot(a["session"], a["mean"], color="C0", lw=2, marker="o", label="mean across users")
    ax.fill_between(a["session"], a["ci_low"], a["ci_high"], color="C0", alpha=0.2, label="95% CI")
    tr = trends.trend[trends.trend["item"] == item]
    if len(tr):
        r = tr.iloc[0]
        ax.set_title(
            _wrap(
                f"{item}: mean slope {r['mean_slope']:+.3f}/session "
                f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}], {r['n_users']} users",
                64,
            )
        )
    else:
        ax.set_title(item)
    ax.set_xlabel("session (conversation number of the user, by start time)")
    ax.set_ylabel("share of coded turns with the code")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    return fig


def plot_comparison(table: pd.DataFrame) -> Any:
    """Forest plot of risk differences (group 1 - group 2) with bootstrap intervals."""
    plt = _plt()
    y = np.arange(len(table))
    ticks, height = _row_ticks(list(table["item"]), 0.3)
    fig, ax = plt.subplots(figsize=(7, max(2.5, height + 1)), layout="constrained")
    rd = table["risk_difference"]
    err = None
    if "rd_ci_low" in table:
        err = np.vstack(
            [np.clip(rd - table["rd_ci_low"], 0, None), np.clip(table["rd_ci_high"] - rd, 0, None)]
        )
    ax.errorbar(rd, y, xerr=err, fmt="o", ms=4, capsize=2)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, ticks, fontsize=8)
    ax.invert_yaxis()
    if len(table):
        r = table.iloc[0]
        ax.set_xlabel(
            f"risk difference: {r['group_1']} − {r['group_2']}\n(share of {r['unit']}s, 95% CI)"
        )
        ax.set_title(f"Comparison by {r['by']}")
    ax.grid(axis="x", alpha=0.3)
    return fig
