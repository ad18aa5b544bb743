"""The analysis figures, asserted on the figure objects: which heat-map cells are masked as not
applicable, the legend entries, the role groups of the axes, short lag labels, and that every
label lies inside its figure after drawing (also for the figures `annotate describe --plots`
writes)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from analysis_helpers import ai, conv_rows, frame, turn_rows, user
from click.testing import CliRunner

from annotate.analysis import cooccurrence, lag_sequential, plots
from annotate.cli import main

matplotlib.use("Agg")


def _b(flag: bool) -> str:
    return "1" if flag else "0"


@pytest.fixture
def labels() -> pd.DataFrame:
    rows = []
    for k in range(12):
        spec = [
            user({"bid": str(k % 2), "push": _b(k % 3 == 0), "feel": '["sad"]'}),
            ai({"emp": str(k % 2), "ref": _b(k % 4 == 1), "move": "listen"}),
            user({"bid": "0", "push": _b(k % 5 == 0), "feel": '["glad"]'}),
            ai({"emp": "0", "ref": "1" if k % 3 == 0 else "0", "move": ("advise", "other")[k % 2]}),
        ]
        rows += turn_rows(f"c{k:02d}", spec)
        rows += conv_rows(f"c{k:02d}", {"ctx": ("task", "support")[k % 2], "warm": "2"})
    return frame(rows)


def _image(fig):
    ax = fig.axes[0]
    return next(im for im in ax.images if im.get_gid() == "values"), ax


def _na_cells(ax) -> set[tuple[str, str]]:
    return {
        tuple(p.get_gid()[3:].split("|"))
        for p in ax.patches
        if (p.get_gid() or "").startswith("na:")
    }


def test_cooccurrence_heatmap_masks_pairs_that_cannot_co_occur(
    labels, codebook, figure_checks
) -> None:
    table = cooccurrence(labels, codebook, unit="turn")
    fig = plots.plot_cooccurrence(table, codebook=codebook)
    im, ax = _image(fig)
    names = [t.get_text() for t in ax.get_yticklabels()]
    # grouped by role: the user's items first, then the assistant's
    groups = ["user" if n.split("=")[0] in ("bid", "push", "feel") else "assistant" for n in names]
    first_ai = groups.index("assistant")
    assert set(groups[:first_ai]) == {"user"} and set(groups[first_ai:]) == {"assistant"}
    top = [c for c in ax.child_axes if c.get_xticklabels()]
    assert [t.get_text() for t in top[0].get_xticklabels()] == ["user turns", "assistant turns"]
    # every user x assistant cell is masked (hatched, never a colour), and so is every pair of
    # values of one code and the diagonal; the rest are values
    arr = im.get_array()
    k = len(names)
    user_idx = range(first_ai)
    ai_idx = range(first_ai, k)
    for i in user_idx:
        for j in ai_idx:
            assert arr.mask[i, j] and arr.mask[j, i]
    na = _na_cells(ax)
    cross = {(a, b) for a in names[:first_ai] for b in names[first_ai:]}
    assert cross <= na and {(b, a) for a, b in cross} <= na
    assert ("move=listen", "move=advise") in na and ("emp", "emp") in na
    assert ("bid", "push") not in na and not arr.mask[names.index("bid"), names.index("push")]
    # not one cross-role cell is shown as Yule's Q = -1
    shown = np.ma.filled(arr, np.nan)
    assert not (shown[np.ix_(list(user_idx), list(ai_idx))] == -1).any()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[0].startswith("not applicable: never on the same turn")
    assert figure_checks.texts_outside(fig) == []
    assert figure_checks.overlapping_ticks(fig, "x") == []


def test_cooccurrence_heatmap_masks_a_cross_role_row_with_q_minus_one(labels, codebook) -> None:
    # a table that does hold a user x assistant pair (say, from another tool) with Q = -1
    table = cooccurrence(labels, codebook, unit="turn")
    fake = table.iloc[[0]].assign(item_a="bid", item_b="emp", code_a="bid", code_b="emp")
    fake["yule_q"] = -1.0
    fig = plots.plot_cooccurrence(pd.concat([table, fake]), codebook=codebook)
    im, ax = _image(fig)
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert im.get_array().mask[names.index("bid"), names.index("emp")]
    assert ("bid", "emp") in _na_cells(ax)


def test_cooccurrence_heatmap_undefined_cells_are_grey_and_named(labels, codebook) -> None:
    # within conversations every pair can co-occur; "warm" is always 2, so Q with warm=2 is
    # undefined: a light grey cell with its own legend entry, not a colour
    table = cooccurrence(labels, codebook, unit="conversation")
    assert table.loc[table["item_b"] == "warm=2", "yule_q"].isna().any()
    fig = plots.plot_cooccurrence(table, codebook=codebook)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(x.startswith("undefined") for x in legend)
    assert any(x.startswith("not applicable: values of one code") for x in legend)
    im, ax = _image(fig)
    names = [t.get_text() for t in ax.get_yticklabels()]
    i, j = names.index("emp"), names.index("warm=2")
    assert im.get_array().mask[i, j] and ("emp", "warm=2") not in _na_cells(ax)
    top = next(c for c in ax.child_axes if c.get_xticklabels())
    assert [t.get_text() for t in top.get_xticklabels()] == [
        "user turns",
        "assistant turns",
        "conversation",
    ]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from annotate.demo import demo_project

    return demo_project(tmp_path_factory.mktemp("demo"))


def test_lag_heatmap_labels_are_short_with_the_full_names_in_the_legend(
    demo, figure_checks
) -> None:
    labels = demo.unit_labels(["alice"])
    seq = lag_sequential(labels, demo.codebook, given_role="user", target_role="assistant")
    fig = plots.plot_sequences(seq)
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_xticklabels() + ax.get_yticklabels()]
    longest = max(len(line) for t in ticks for line in t.split("\n"))
    assert longest <= 18, ticks
    assert "pm=disclose" in ticks and "agency" in ticks  # user_primary_move=disclose, user_agency
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "pm = user_primary_move" in legend and "pm = ai_primary_move" in legend
    assert "user_… omitted" in legend and "ai_… omitted" in legend
    assert figure_checks.texts_outside(fig) == []
    assert figure_checks.overlapping_ticks(fig, "y") == []
    assert figure_checks.overlapping_ticks(fig, "x") == []


def test_describe_plots_keep_labels_inside_and_group_roles(demo, figure_checks, monkeypatch):
    """What `annotate describe --plots` draws on the demo: each figure, before it is saved."""
    seen = {}
    original = plots.save_figure

    def check(fig, stem, **kw):
        name = Path(stem).name
        seen[name] = (figure_checks.texts_outside(fig), figure_checks.overlapping_ticks(fig))
        if name == "cooccurrence_turn":
            top = fig.axes[0].child_axes[0]
            seen["groups"] = [t.get_text() for t in top.get_xticklabels()]
        return original(fig, stem, **kw)

    monkeypatch.setattr(plots, "save_figure", check)
    out = demo.path.parent / "figs"
    args = ["describe", str(demo.path), "--gold", "--plots", str(out)]
    result = CliRunner().invoke(main, [*args, "--bootstrap", "20", "--permutations", "5"])
    assert result.exit_code == 0, result.output
    assert seen.pop("groups") == ["user turns", "assistant turns"]
    assert len(seen) >= 10
    assert {k: v for k, v in seen.items() if v != ([], [])} == {}
    assert (out / "cooccurrence_turn.png").stat().st_size > 10_000
