"""How the agreement report is shown: verdicts by interval, "few cases", the forest plot (asserted
on the figure objects), the text and HTML tables, and the CLI's options."""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.colors import to_hex

import annotate
from annotate.agreement import report as agreement_report
from annotate.agreement._display import (
    COLOURS,
    FEW_CASES,
    render_text,
    required_units,
    verdicts,
)
from annotate.agreement.plot import forest_plot
from annotate.cli import main
from annotate.errors import AgreementError

from .conftest import make_labels

matplotlib.use("Agg")
REPO = Path(__file__).resolve().parents[2]


def test_required_units_reproduces_krippendorffs_table() -> None:
    # Krippendorff (2004, 2019) tabulates Bloch & Kraemer's minimum sample: for a least
    # frequent value of share .25 at p = .05, 139 units for alpha_min = .800, 81 for .667
    assert math.ceil(required_units(0.800, 0.25)) == 139
    assert math.ceil(required_units(0.667, 0.25)) == 81
    # the few-cases floor is N * p as p -> 0, and no prevalence needs fewer rare-value units
    assert FEW_CASES == pytest.approx(15.79, abs=0.01)
    for p in (0.001, 0.01, 0.1, 0.3, 0.5):
        assert required_units(0.667, p) * p >= FEW_CASES - 0.02


def _table(rows: list[dict]) -> pd.DataFrame:
    base = {"unit": "turn", "role": "assistant", "n_units": 100, "reason": None}
    return pd.DataFrame([base | r for r in rows])


def _row(code, alpha, low, high, share_mode=0.5, **kw):
    dist = {"0": share_mode, "1": round(1 - share_mode, 4)}
    return {"code_id": code, "alpha": alpha, "alpha_low": low, "alpha_high": high,
            "distribution": dist} | kw  # fmt: skip


def test_verdict_follows_the_interval_not_the_point_estimate() -> None:
    t = _table(
        [
            _row("a", 0.95, 0.85, 0.99),
            _row("b", 0.90, 0.70, 0.97),  # alpha >= .800 but the interval reaches .70
            _row("c", 0.85, 0.50, 0.95),  # point estimate "reliable", interval not
            _row("d", 0.75, np.nan, np.nan),  # no interval: by alpha itself
            _row("e", np.nan, np.nan, np.nan),
            _row("f", 1.0, 1.0, 1.0, share_mode=0.99),  # 100 units x .01 = 1 informative unit
        ]
    )
    v = verdicts(t).set_index(t["code_id"])
    assert v.loc[["a", "b", "c"], "category"].tolist() == [
        "reliable",
        "tentative",
        "not established",
    ]
    assert v.loc["d", "verdict"] == "tentative (no CI)" and not v.loc["d", "interval"]
    assert v.loc["e", "verdict"] == "undefined"
    assert v.loc["f", "verdict"] == "reliable, few cases"
    assert v["few_cases"].tolist() == [False, False, False, False, False, True]


def _marker(fig, key):
    found = [ln for ln in fig.axes[0].lines if ln.get_gid() == f"alpha:{key}"]
    assert len(found) == 1, key
    return found[0]


def test_forest_plot_colours_markers_by_where_the_interval_lies(figure_checks) -> None:
    t = _table(
        [
            _row("a", 0.95, 0.85, 0.99),
            _row("b", 0.90, 0.70, 0.97),
            _row("c", 0.85, 0.50, 0.95),
            _row("e", np.nan, np.nan, np.nan),
            _row("f", 1.0, 1.0, 1.0, share_mode=0.99),
        ]
    )
    fig = forest_plot(t)
    colour = {k: to_hex(_marker(fig, f"{k}/assistant").get_color()) for k in "abcf"}
    assert colour == {
        "a": COLOURS["reliable"],
        "b": COLOURS["tentative"],
        "c": COLOURS["not established"],  # a red marker although alpha = .85
        "f": COLOURS["reliable"],
    }
    # the interval line has the marker's colour
    ci = next(ln for ln in fig.axes[0].lines if ln.get_gid() == "ci:c/assistant")
    assert to_hex(ci.get_color()) == COLOURS["not established"]
    assert list(ci.get_xdata()) == [0.50, 0.95]
    # few cases: an open marker; the others are filled
    assert to_hex(_marker(fig, "f/assistant").get_markerfacecolor()) == "#ffffff"
    assert to_hex(_marker(fig, "a/assistant").get_markerfacecolor()) == COLOURS["reliable"]
    # the undefined row has no marker but says so
    assert not [ln for ln in fig.axes[0].lines if ln.get_gid() == "alpha:e/assistant"]
    assert "undefined" in [t.get_text() for t in fig.axes[0].texts]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert [x.split(":")[0] for x in legend[:3]] == ["reliable", "tentative", "not established"]
    assert any("few cases" in x for x in legend)
    assert not any("no interval" in x for x in legend)  # every defined row has an interval
    assert figure_checks.texts_outside(fig) == []


def test_forest_plot_without_intervals_says_it_colours_by_alpha() -> None:
    fig = forest_plot(_table([_row("d", 0.75, np.nan, np.nan)]))
    m = _marker(fig, "d/assistant")
    assert m.get_marker() == "s" and to_hex(m.get_color()) == COLOURS["tentative"]
    assert any("no interval" in t.get_text() for t in fig.legends[0].get_texts())
    assert fig.axes[0].get_xlabel() == "Krippendorff's alpha"


def test_three_positives_give_one_point_zero_marked_as_few_cases(toy_codebook) -> None:
    # 60 turns, three coders; one turn marked present by all three, the rest absent by all
    m = np.full((60, 3), "0", dtype=object)
    m[7] = "1"
    report = agreement_report(
        make_labels({"ai_pressure": m}), toy_codebook, codes=["ai_pressure"], bootstrap=200, seed=1
    )
    row = report.table.iloc[0]
    assert (row["alpha"], row["alpha_low"], row["alpha_high"]) == (1.0, 1.0, 1.0)
    line = next(x for x in report.to_text().splitlines() if x.lstrip().startswith("ai_pressure"))
    assert "1.000" in line and "[1.000, 1.000]" in line and line.endswith("reliable, few cases")
    fig = report.plot()
    marker = _marker(fig, "ai_pressure/assistant")
    assert to_hex(marker.get_markerfacecolor()) == "#ffffff"


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    from annotate.demo import demo_project

    project = demo_project(tmp_path_factory.mktemp("demo"))
    return agreement_report(project.unit_labels(), project.codebook, bootstrap=100, seed=1)


def test_forest_plot_of_the_demo_keeps_every_label_inside(demo_report, figure_checks) -> None:
    fig = demo_report.plot()
    assert figure_checks.texts_outside(fig) == []
    assert figure_checks.overlapping_ticks(fig, "y") == []
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert len(labels) == len(demo_report.table)
    assert max(len(line) for lab in labels for line in lab.split("\n")) <= 36


def test_text_table_shows_the_essential_columns_by_default(demo_report) -> None:
    text = demo_report.to_text()
    header = text.splitlines()[0].split()
    assert header == ["code", "role", "units", "alpha", "95%", "CI", "verdict"]
    assert max(len(line) for line in text.splitlines()) <= 100  # fits a notebook cell
    assert "nan" not in text  # only real reasons are listed under "undefined:"
    assert "ai_competence_thwart/assistant: alpha: no variation" in text
    assert "--all-columns" in text
    full = demo_report.to_text(full=True).splitlines()[0].split()
    for col in ("unit", "level", "coders", "values", "AC1/2", "BP", "Fleiss", "Cohen", "flag"):
        assert col in full
    few = demo_report.to_text(columns=["code_id", "alpha", "verdict"]).splitlines()[0].split()
    assert few == ["code", "alpha", "verdict"]
    with pytest.raises(AgreementError, match="E404"):
        demo_report.to_text(columns=["code_id", "kappa_of_doom"])


def test_html_table_has_the_same_columns_and_coloured_verdicts(demo_report) -> None:
    html = demo_report._repr_html_()
    heads = re.findall(r"<th>(.*?)</th>", html)
    assert heads == ["code", "role", "units", "alpha", "95% CI", "verdict"]
    assert 'style="background:#d8f0d8">reliable</td>' in html
    assert "report.to_html(full=True)" in html
    assert "AC1/2" in demo_report.to_html(full=True)


def test_text_table_of_an_empty_report() -> None:
    assert render_text(pd.DataFrame()) == "(no codes)"


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory) -> Path:
    from annotate.demo import demo_project

    return demo_project(tmp_path_factory.mktemp("cli")).path


def test_cli_all_columns_and_the_plot_inside_its_figure(
    project_dir, tmp_path, monkeypatch, figure_checks
) -> None:
    brief = CliRunner().invoke(main, ["agreement", str(project_dir)])
    assert brief.exit_code == 0, brief.output
    assert "AC1/2" not in brief.output and "verdict" in brief.output
    full = CliRunner().invoke(main, ["agreement", str(project_dir), "--all-columns"])
    assert full.exit_code == 0, full.output
    assert "AC1/2" in full.output and "Fleiss" in full.output
    drawn = []
    original = annotate.agreement.AgreementReport.plot

    def keep(self, **kw):
        fig = original(self, **kw)
        drawn.append(fig)
        return fig

    monkeypatch.setattr(annotate.agreement.AgreementReport, "plot", keep)
    out = tmp_path / "alpha.png"
    args = ["agreement", str(project_dir), "--bootstrap", "50", "--plot", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 10_000 and len(drawn) == 1
    assert figure_checks.texts_outside(drawn[0]) == []
