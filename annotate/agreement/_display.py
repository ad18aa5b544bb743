"""How an agreement report is shown: the verdict per row, "few cases", the text and HTML tables.

The computation lives in :mod:`annotate.agreement._report` and :mod:`._row`; this module only
reads ``AgreementReport.table`` (one row per code, unit and role).

**Verdict.** Krippendorff's (2004, 2019, *Content Analysis* §12.4) thresholds applied to where
the 95 % bootstrap interval lies: its lower bound >= .800 *reliable*, >= .667 *tentative*, else
*not established* (the data cannot rule out alpha < .667). Without an interval (bootstrap = 0,
or every resample undefined) the verdict falls back to alpha itself and says so ("no CI").

**Few cases.** Alpha rests on the values that differ from the code's most common value (for a
binary code: the units marked present). ``informative = n_units x (1 - share of the most
common value)`` counts them in units. Krippendorff (2004, 2019, ch. 12) sizes a reliability
sample with Bloch & Kraemer's (1989, eq. 3.7) formula, for two coders and a least frequent
value of share ``p``::

    N = 2 z^2 ((1 + a)(3 - a) / (4 (1 - a) p (1 - p)) - a)

(``a`` the smallest acceptable alpha, ``z`` the one-sided normal quantile of the significance
level). ``N p`` -- the units of the least frequent value the sample must hold -- is smallest as
``p`` -> 0, where it is ``2 z^2 (1 + a)(3 - a) / (4 (1 - a))`` = 15.8 units for a = .667 and
p = .05. A row with fewer informative units than that cannot show alpha >= .667 whatever the
code's prevalence: it is marked *few cases* (e.g. 1.000 [1.000, 1.000] from one unit three
coders marked present). The mark is a floor, not a sample-size plan: a row above it may still
need more units (``required_units``).
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from annotate.agreement._row import RELIABLE, TENTATIVE

nan = float("nan")

#: one-sided normal quantile of p = .05 (the significance level of Krippendorff's table)
Z_05 = 1.6448536269514722

#: verdicts by the interval, best first, and their colours (plots, HTML)
VERDICTS = ("reliable", "tentative", "not established")
COLOURS = {"reliable": "#2e7d32", "tentative": "#e0a800", "not established": "#c62828"}
BACKGROUNDS = {"reliable": "#d8f0d8", "tentative": "#fff3c4", "not established": "#f8d7d7"}


def required_units(alpha_min: float, p_min: float, *, z: float = Z_05) -> float:
    """Units a two-coder reliability sample needs to show alpha >= ``alpha_min`` at the
    significance of ``z``, when the least frequent value has share ``p_min`` (Bloch & Kraemer
    1989, eq. 3.7, as tabulated by Krippendorff 2004, 2019, ch. 12).

    >>> round(required_units(0.800, 0.25)), round(required_units(0.667, 0.25))
    (139, 81)
    """
    a, p = float(alpha_min), float(p_min)
    return 2 * z * z * ((1 + a) * (3 - a) / (4 * (1 - a) * p * (1 - p)) - a)


#: fewer informative units than this cannot show alpha >= .667 at p = .05 (module docstring)
FEW_CASES = 2 * Z_05**2 * (1 + TENTATIVE) * (3 - TENTATIVE) / (4 * (1 - TENTATIVE))


def informative_units(table: pd.DataFrame) -> pd.Series:
    """Per row: n_units x (1 - share of the most common value); NaN where nothing was coded."""
    shares = [
        max(d.values()) if isinstance(d, dict) and d else np.nan
        for d in table.get("distribution", pd.Series([None] * len(table), index=table.index))
    ]
    return pd.Series(
        table["n_units"].to_numpy(dtype=float) * (1 - np.asarray(shares, dtype=float)),
        index=table.index,
        name="informative_units",
    )


def few_cases(table: pd.DataFrame) -> pd.Series:
    """Per row: True when alpha is defined but rests on fewer than FEW_CASES informative units."""
    defined = table["alpha"].notna().to_numpy()
    info = informative_units(table).to_numpy()
    return pd.Series(defined & (info < FEW_CASES), index=table.index, name="few_cases")


def _point(alpha: float) -> str:
    if alpha >= RELIABLE:
        return "reliable"
    return "tentative" if alpha >= TENTATIVE else "not established"


def verdict_of(alpha: float, low: float) -> tuple[str, bool]:
    """(category, has interval): the category by the interval's lower bound, else by alpha;
    ``"undefined"`` when alpha is NaN.

    >>> verdict_of(0.95, 0.81), verdict_of(0.95, 0.70), verdict_of(0.9, 0.5), verdict_of(0.7, nan)
    (('reliable', True), ('tentative', True), ('not established', True), ('tentative', False))
    """
    if alpha != alpha:
        return "undefined", False
    if low == low:
        return _point(low), True
    return _point(alpha), False


def verdicts(table: pd.DataFrame) -> pd.DataFrame:
    """``category``, ``interval`` (bool), ``few_cases`` and the ``verdict`` text per row."""
    lows = table["alpha_low"] if "alpha_low" in table else pd.Series(nan, index=table.index)
    pairs = [
        verdict_of(float(a), float(lo))
        for a, lo in zip(table["alpha"], lows.astype(float), strict=True)
    ]
    few = few_cases(table)
    out = pd.DataFrame(
        {
            "category": [c for c, _ in pairs],
            "interval": [i for _, i in pairs],
            "few_cases": few.to_numpy(),
        },
        index=table.index,
    )
    text = []
    for cat, has_ci, is_few in out.itertuples(index=False):
        words = cat if has_ci or cat == "undefined" else f"{cat} (no CI)"
        text.append(f"{words}, few cases" if is_few else words)
    out["verdict"] = text
    return out


# -- text -------------------------------------------------------------------------------------

#: the columns of the text table by default (report.table name -> header)
ESSENTIAL = ("code_id", "role", "n_units", "alpha", "ci", "verdict")
#: every column the text table can show, in this order
TEXT_COLUMNS = {
    "code_id": "code",
    "unit": "unit",
    "role": "role",
    "level": "level",
    "n_units": "units",
    "n_coders": "coders",
    "n_pairable": "values",
    "prevalence": "prev",
    "informative_units": "inform.",
    "alpha": "alpha",
    "ci": "95% CI",
    "percent_agreement": "%agree",
    "positive_agreement": "pos.agr",
    "gwet_ac": "AC1/2",
    "brennan_prediger": "BP",
    "fleiss_kappa": "Fleiss",
    "cohen_kappa": "Cohen",
    "flag": "flag",
    "verdict": "verdict",
    # agreement on evidence spans (annotate.agreement.evidence), when the report has them
    "ev_pairs": "ev pairs",
    "ev_f1": "ev F1",
    "ev_jaccard": "ev J",
    "ev_alpha_u": "ev αU",
}
#: shown by default beside the essential columns whenever the report carries them
EVIDENCE_DEFAULT = ("ev_pairs", "ev_f1", "ev_jaccard", "ev_alpha_u")


def _check_columns(columns: Sequence[str]) -> list[str]:
    unknown = [c for c in columns if c not in TEXT_COLUMNS]
    if unknown:
        from annotate.errors import AgreementError, Errors

        raise AgreementError(
            Errors.E404.format(
                option="columns", value=", ".join(unknown), allowed=", ".join(TEXT_COLUMNS)
            )
        )
    return list(columns)


def display_table(
    table: pd.DataFrame, *, columns: Sequence[str] | None = None, full: bool = False
) -> pd.DataFrame:
    """The rows as shown: role "-" for conversation codes, the interval as text, the verdict."""
    t = table.copy()
    t["role"] = t["role"].astype(object).where(t["role"].notna(), "-")
    lo = t["alpha_low"] if "alpha_low" in t else pd.Series(nan, index=t.index)
    hi = t["alpha_high"] if "alpha_high" in t else pd.Series(nan, index=t.index)
    t["ci"] = [f"[{a:.3f}, {b:.3f}]" if a == a else "" for a, b in zip(lo, hi, strict=True)]
    t["verdict"] = verdicts(t)["verdict"]
    t["informative_units"] = informative_units(t).round(1)
    if full:
        chosen = list(TEXT_COLUMNS)
    elif columns:
        chosen = _check_columns(columns)
    else:
        chosen = [*ESSENTIAL, *EVIDENCE_DEFAULT]
    chosen = [c for c in chosen if c in t]
    return t[chosen].rename(columns=TEXT_COLUMNS)


def legend_text() -> str:
    """What the verdict and the few-cases mark mean (printed under the text table)."""
    return (
        f"verdict: the 95% interval's lower bound >= {RELIABLE:.3f} reliable, >= "
        f"{TENTATIVE:.3f} tentative, below: not established (Krippendorff 2019); 'no CI': by "
        f"alpha itself (run with a bootstrap). 'few cases': fewer than {FEW_CASES:.1f} units "
        "carry a value other than the most common one, too few to show alpha >= .667 "
        "(Krippendorff's sample-size rule)."
    )


MORE_TEXT = "more columns: report.to_text(full=True) (CLI: --all-columns)"


def render_text(
    table: pd.DataFrame, *, columns: Sequence[str] | None = None, full: bool = False
) -> str:
    """The plain-text table (the CLI's output and ``print(report)``).

    Parameters
    ----------
    columns : list of str, optional
        Columns to show (names of ``TEXT_COLUMNS``); default: code, role, units, alpha, its
        interval and the verdict.
    full : bool
        Every column (unit, level, coders, values, prevalence, informative units, percent and
        positive agreement, AC1/AC2, Brennan-Prediger, Fleiss, Cohen, the point-estimate flag).
    """
    if table.empty:
        return "(no codes)"
    shown = display_table(table, columns=columns, full=full)
    text = shown.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-")
    notes = [
        f"  {code}/{role if isinstance(role, str) else '-'}: {reason}"
        for code, role, reason in zip(table["code_id"], table["role"], table["reason"], strict=True)
        if isinstance(reason, str) and reason
    ]
    more = [] if full or columns else [MORE_TEXT]
    legend = textwrap.fill(legend_text(), 100)
    return "\n".join([text, legend, *more, *(["undefined:", *notes] if notes else [])])


def render_html(
    table: pd.DataFrame,
    settings: dict[str, Any],
    *,
    columns: Sequence[str] | None = None,
    full: bool = False,
) -> str:
    """The notebook view: the essential columns, verdict cells coloured by category."""
    shown = display_table(table, columns=columns, full=full)
    body = shown.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep="–", border=0)
    for cat, colour in BACKGROUNDS.items():
        for suffix in ("", " (no CI)", ", few cases", " (no CI), few cases"):
            cell = f"<td>{cat}{suffix}</td>"
            body = body.replace(cell, f'<td style="background:{colour}">{cat}{suffix}</td>')
    caption = html.escape(
        f"Agreement, codebook {settings.get('codebook_id')} v{settings.get('codebook_version')}; "
        f"bootstrap {settings.get('bootstrap')} (conversations resampled). " + legend_text()
    )
    more = (
        ""
        if full or columns
        else (
            "<p><small>More columns: <code>report.to_html(full=True)</code>, "
            "<code>report.to_text(full=True)</code>; every number: <code>report.table</code>."
            "</small></p>"
        )
    )
    return f'<div class="annotate-agreement"><p>{caption}</p>{body}{more}</div>'


def wrap_label(text: str, width: int = 28) -> str:
    """Break a long label at underscores or spaces into lines of at most ``width`` chars."""
    if len(text) <= width:
        return text
    lines: list[str] = []
    line = ""
    for piece in _pieces(text):
        if line and len(line) + len(piece) > width:
            lines.append(line)
            line = piece.lstrip()
        else:
            line += piece
    lines.append(line)
    return "\n".join(lines)


def _pieces(text: str) -> list[str]:
    """``a_b c`` -> ["a_", "b", " c"]: break points after underscores and before spaces."""
    out: list[str] = []
    cur = ""
    for ch in text:
        if ch == " " and cur:
            out.append(cur)
            cur = ch
            continue
        cur += ch
        if ch == "_":
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out
