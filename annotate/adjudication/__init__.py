"""Adjudication: from coders' labels to gold labels, every decision an auditable event.

Gold rules and :func:`gold_labels` live in :mod:`annotate.adjudication.gold`; the adjudication
session (queue of disagreements, decisions) in :mod:`annotate.adjudication.session`.
"""

from __future__ import annotations

from annotate.adjudication.gold import (
    GOLD_ID,
    RULES,
    TIES,
    gold_labels,
    gold_summary,
    people_labels,
    resolve_gold,
)
from annotate.adjudication.session import KINDS, Adjudication, Item, disagreements

__all__ = [
    "GOLD_ID", "KINDS", "RULES", "TIES", "Adjudication", "Item", "disagreements",
    "gold_labels", "gold_summary", "people_labels", "resolve_gold",
]  # fmt: skip
