"""Planning human coding when an LLM coder labels the corpus: how many conversations humans
must code for a corrected estimate of a given precision, and how many units the reliability
sample needs for a rare code.

**Human sample for a corrected estimate.** With the power-tuned prediction-powered estimate
(:mod:`annotate.analysis.corrected`) of a share ``p`` from ``N`` units labelled by the model and
``n`` of them by humans, and ``ρ`` the correlation of the model's and the humans' labels on a
unit, the variance is (Angelopoulos, Duchi & Zrnic 2023, PPI++, with the labelled units part of
the corpus)

    Var = p(1 − p) [(1 − ρ²) / n + ρ² / N] · deff

where ``deff = 1 + (m − 1) ICC`` is the design effect of coding whole conversations of ``m``
units with intra-conversation correlation ``ICC`` (Kish 1965). For a 95 % interval of total
width ``w`` the humans must code ``n ≥ p(1−p)(1−ρ²) deff / ((w / 2z)² − p(1−p) ρ² deff / N)``
units, i.e. ``n / m`` conversations; without the model (ρ = 0) ``p(1−p) deff / (w / 2z)²``.
``ρ`` comes from the model's measured agreement: the phi coefficient of the confusion matrix
against the humans (from sensitivity and specificity when given). :func:`human_sample_size`
computes this before any human coding; :func:`human_sample_from_estimate` scales the measured
variance of a pilot's corrected estimate (its ``var_human_part`` shrinks as 1 / n, its
``var_corpus_part`` stays), which also accounts for users and uneven conversations.

**Reliability sample for a rare code.** Krippendorff (2004, 2019, ch. 12) sizes a reliability
sample by the smallest alpha to be accepted and the probability ``p`` of the code's least
frequent value, with Bloch & Kraemer's (1989) formula
``N = 2 z² ((1 + a)(3 − a) / (4 (1 − a) p (1 − p)) − a)`` (the one the agreement display uses,
:func:`annotate.agreement._display.required_units`). :func:`reliability_sample_needs` applies it
to every row of an agreement report and says which codes the current sample cannot assess.
(A separate reliability-sample planner for codebooks may exist elsewhere; this one serves LLM
validation.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from annotate.agreement._display import FEW_CASES, informative_units, required_units
from annotate.errors import AnalysisError, Errors


def _bad(option: str, value: Any, problem: str) -> AnalysisError:
    return AnalysisError(Errors.E460.format(option=option, value=value, problem=problem))


def phi_from_accuracy(prevalence: float, sensitivity: float, specificity: float) -> float:
    """The correlation of a binary label and a model's label with this sensitivity and
    specificity at this prevalence (the phi coefficient of the expected 2 × 2 table).

    >>> round(phi_from_accuracy(0.2, 0.85, 0.90), 3)
    0.693
    """
    p, se, sp = float(prevalence), float(sensitivity), float(specificity)
    q = p * se + (1 - p) * (1 - sp)  # the model's prevalence
    if not (0 < p < 1 and 0 < q < 1):
        return float("nan")
    return (p * se - p * q) / math.sqrt(p * (1 - p) * q * (1 - q))


def human_sample_size(
    width: float,
    *,
    prevalence: float,
    correlation: float | None = None,
    sensitivity: float | None = None,
    specificity: float | None = None,
    corpus_units: float = math.inf,
    units_per_conversation: float = 1.0,
    icc: float = 0.0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Conversations humans must code for a corrected share with an interval of ``width``.

    Parameters
    ----------
    width : float
        Total width of the interval wanted (e.g. 0.04 for ± 2 points).
    prevalence : float
        The expected share of the code (a pilot's estimate).
    correlation : float, optional
        The correlation of the model's and the humans' labels (phi for a binary code).
    sensitivity, specificity : float, optional
        Instead of ``correlation``: the model's against the humans (``validity()``: recall of
        the code, and recall of its absence).
    corpus_units : float
        Units the model labels (the corpus); default unlimited.
    units_per_conversation : float
        Coded units per conversation (turns of the code's role; 1 for conversation codes).
    icc : float
        Intra-conversation correlation of the code (0: units independent).
    level : float
        Confidence level.

    Returns
    -------
    dict
        ``conversations`` (corrected), ``conversations_human_only``, ``units`` and
        ``units_human_only``, ``correlation``, ``design_effect``, ``ratio`` (human-only /
        corrected) and ``note`` (why it is impossible, when the corpus is too small).
    """
    p = float(prevalence)
    if not 0 < p < 1:
        raise _bad("prevalence", prevalence, "use a share between 0 and 1")
    if not 0 < width < 1:
        raise _bad("width", width, "use the total interval width, between 0 and 1")
    if correlation is None:
        if sensitivity is None or specificity is None:
            raise _bad("correlation", None, "give correlation=, or sensitivity= and specificity=")
        rho = phi_from_accuracy(p, sensitivity, specificity)
    else:
        rho = float(correlation)
    if not -1 <= rho <= 1 or rho != rho:
        raise _bad("correlation", rho, "use a correlation between -1 and 1")
    m = float(units_per_conversation)
    if m < 1 or not 0 <= icc <= 1:
        raise _bad("units_per_conversation/icc", (m, icc), "use m >= 1 and 0 <= icc <= 1")
    deff = 1 + (m - 1) * icc
    z = float(ndtri(0.5 + level / 2))
    target = (width / (2 * z)) ** 2
    var = p * (1 - p) * deff
    room = target - var * rho**2 / corpus_units
    human_only = var / target
    out: dict[str, Any] = {
        "width": width,
        "level": level,
        "prevalence": p,
        "correlation": rho,
        "design_effect": deff,
        "units_human_only": math.ceil(human_only),
        "conversations_human_only": math.ceil(human_only / m),
        "note": None,
    }
    if room <= 0:
        out |= {"units": math.inf, "conversations": math.inf, "ratio": float("nan")}
        out["note"] = "the model's part of the variance alone exceeds the target: a larger corpus"
        return out
    units = var * (1 - rho**2) / room
    out |= {
        "units": math.ceil(units),
        "conversations": math.ceil(units / m),
        "ratio": human_only / units if units > 0 else math.inf,
    }
    return out


def human_sample_from_estimate(
    estimate: pd.DataFrame, width: float, *, level: float = 0.95
) -> pd.DataFrame:
    """Human-coded conversations needed for each row of a pilot's corrected estimate.

    The corrected variance of :func:`annotate.analysis.corrected_prevalence` splits into the
    part that shrinks as 1 / (human-coded conversations) and the part that depends on the corpus
    alone; the conversations needed for a total interval ``width`` are
    ``n_now × var_human_part / ((width / 2z)² − var_corpus_part)``.

    Returns
    -------
    DataFrame
        The estimate's key columns, ``n_human_conversations``, ``width_now``,
        ``conversations_needed``, ``additional`` (to code beyond the pilot) and ``note``.
    """
    need = {"n_human_conversations", "var_human_part", "var_corpus_part", "corrected_ci_low"}
    missing = need - set(estimate.columns)
    if missing:
        raise _bad("estimate", sorted(missing), "pass the result of corrected_prevalence()")
    z = float(ndtri(0.5 + level / 2))
    target = (width / (2 * z)) ** 2
    keys = [
        c
        for c in estimate.columns
        if c in ("unit", "code_id", "value", "item") or c not in _RESULT_COLUMNS
    ]
    out = estimate[keys].copy()
    n = estimate["n_human_conversations"].to_numpy(dtype=float)
    vh = estimate["var_human_part"].to_numpy(dtype=float)
    vc = estimate["var_corpus_part"].to_numpy(dtype=float)
    out["n_human_conversations"] = n.astype(int)
    out["width_now"] = (estimate["corrected_ci_high"] - estimate["corrected_ci_low"]).to_numpy()
    room = target - vc
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = np.where(room > 0, np.ceil(n * vh / room), np.inf)
    needed = np.where(np.isfinite(vh) & (n >= 2), needed, np.nan)
    out["conversations_needed"] = needed
    out["additional"] = np.maximum(needed - n, 0)
    out["note"] = [
        "the corpus part alone is wider: label a larger corpus"
        if r <= 0
        else ("no variance estimate (fewer than two human-coded conversations)" if k != k else None)
        for r, k in zip(room, needed, strict=True)
    ]
    return out


_RESULT_COLUMNS = {
    "unit", "code_id", "value", "item", "code_level", "n_conversations", "n_units",
    "n_human_conversations", "n_clusters", "n_human_clusters", "naive_share", "naive_ci_low",
    "naive_ci_high", "human_share", "human_ci_low", "human_ci_high", "corrected_share",
    "corrected_ci_low", "corrected_ci_high", "corrected_se", "lambda", "llm_bias",
    "variance_ratio", "var_human_part", "var_corpus_part", "resampled", "note",
}  # fmt: skip


def reliability_sample_needs(
    table: pd.DataFrame, *, alpha_min: float = 0.667, significance: float = 0.05
) -> pd.DataFrame:
    """Units a reliability sample needs per code, and which codes the current one cannot assess.

    Parameters
    ----------
    table : DataFrame
        An agreement report's table (``annotate.agreement.report(...).table``, or the ``human``
        rows of a raters report): its ``n_units`` and ``distribution`` per row.
    alpha_min : float
        The smallest alpha to be shown (.667 for tentative conclusions, .800 to rely on).
    significance : float
        The chance of accepting a code whose alpha is below ``alpha_min`` (Krippendorff's
        table uses .05).

    Returns
    -------
    DataFrame
        Per row: ``code_id``, ``unit``, ``role``, ``n_units``, ``least_value`` and ``p_min``
        (the least frequent observed value and its share), ``required_units`` (Bloch & Kraemer
        1989 / Krippendorff 2004), ``informative_units`` and ``few_cases`` (the display's floor
        of 15.8 informative units), ``can_assess`` (``n_units >= required_units``),
        ``units_short`` and ``reason``.
    """
    if not 0 < alpha_min < 1 or not 0 < significance < 0.5:
        raise _bad("alpha_min/significance", (alpha_min, significance), "use 0-1 and 0-0.5")
    z = float(ndtri(1 - significance))
    rows = []
    info = informative_units(table)
    for (_, r), inform in zip(table.iterrows(), info, strict=True):
        dist = r.get("distribution")
        dist = dist if isinstance(dist, dict) else {}
        n = int(r.get("n_units") or 0)
        if len(dist) >= 2:
            least = min(dist, key=lambda k: (dist[k], str(k)))
            p_min = float(dist[least])
            need = required_units(alpha_min, p_min, z=z)
            reason = None if n >= need else f"{math.ceil(need) - n} more units"
        else:
            least, p_min, need = (next(iter(dist)) if dist else None), 0.0, math.inf
            reason = "one value only: alpha cannot be assessed until other values occur"
        rows.append(
            {
                "code_id": r["code_id"],
                "unit": r.get("unit"),
                "role": r.get("role"),
                "n_units": n,
                "least_value": least,
                "p_min": p_min,
                "required_units": math.ceil(need) if math.isfinite(need) else math.inf,
                "informative_units": inform,
                "few_cases": bool(inform == inform and inform < FEW_CASES),
                "can_assess": bool(n >= need),
                "units_short": max(0, math.ceil(need) - n) if math.isfinite(need) else math.inf,
                "reason": reason,
            }
        )
    return pd.DataFrame(rows)
