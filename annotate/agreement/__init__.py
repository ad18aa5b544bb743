"""Inter-rater agreement: pure coefficient cores and the whole-codebook report.

Cores (numpy, shapes in their docstrings): :func:`alpha` (Krippendorff; nominal, ordinal,
interval, ratio, label sets), :func:`cohen_kappa`, :func:`scott_pi`, :func:`fleiss_kappa`,
:func:`conger_kappa`, :func:`gwet_ac` (AC1/AC2), :func:`brennan_prediger`,
:func:`percent_agreement`, :func:`specific_agreement`. The report: :func:`report`
(``annotate.agreement.report(unit_labels, codebook)``) → :class:`AgreementReport`. Enriched
reliability samples and sample planning: :func:`design_report`, :func:`plan_sample`
(:mod:`annotate.agreement.design`).
"""

from __future__ import annotations

from annotate.agreement._alpha import AlphaParts, alpha, alpha_from_counts
from annotate.agreement._report import AgreementReport, report
from annotate.agreement.design import design_report, plan_design, plan_sample, simulate_alpha
from annotate.agreement.gwet import (
    Chance,
    brennan_prediger,
    gwet_ac,
    percent_agreement,
    specific_agreement,
)
from annotate.agreement.kappa import cohen_kappa, conger_kappa, fleiss_kappa, scott_pi

__all__ = [
    "AgreementReport",
    "AlphaParts",
    "Chance",
    "alpha",
    "alpha_from_counts",
    "brennan_prediger",
    "cohen_kappa",
    "conger_kappa",
    "design_report",
    "fleiss_kappa",
    "gwet_ac",
    "percent_agreement",
    "plan_design",
    "plan_sample",
    "report",
    "scott_pi",
    "simulate_alpha",
    "specific_agreement",
]
