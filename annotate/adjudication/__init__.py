"""Adjudication: from coders' labels to gold labels, every decision an auditable event."""

from __future__ import annotations

from typing import Any

import pandas as pd

from annotate.adjudication.gold import GOLD_ID, RULES, TIES, gold_summary, resolve_gold
from annotate.adjudication.session import KINDS, Adjudication, Item, disagreements

__all__ = [
    "GOLD_ID", "KINDS", "RULES", "TIES", "Adjudication", "Item", "disagreements",
    "gold_labels", "gold_summary", "resolve_gold",
]  # fmt: skip


#: names served lazily from a higher layer, as strings (the package root's pattern): the
#: widget needs anywidget and lives in annotate.widgets; this layer never imports it itself
def gold_labels(project: Any, *, rule: str = "majority", tie: str = "none") -> pd.DataFrame:
    """The project's gold labels: adjudicated where adjudicated, otherwise ``rule``.

    Returns the unit-labels shape with ``annotator_id = "gold"`` and the columns ``source``
    (how each value was obtained), ``n_coders`` and ``n_agree``.
    """
    codebook = project.codebook
    absent = {c.id: c.absent_value for c in codebook.codes if c.level == "binary"}
    return resolve_gold(project.unit_labels(), rule=rule, tie=tie, absent_values=absent)
