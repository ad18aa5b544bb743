"""Relationship-pattern analyses of coded dialogue (DESIGN.md §5; README "Analyses").

Every analysis takes one coder's (or gold) unit labels, the codebook and optionally the corpus,
and returns tidy DataFrames; each has a plot function in :mod:`annotate.analysis.plots`
(matplotlib is imported only when a figure is drawn).
"""

from __future__ import annotations

from annotate.analysis._cooccurrence import cooccurrence
from annotate.analysis._describe import Description, describe
from annotate.analysis._family import Family
from annotate.analysis._frame import Item, LabelFrame, prepare
from annotate.analysis._multiverse import MultiverseReport, multiverse
from annotate.analysis._prevalence import prevalence
from annotate.analysis.compare import compare_groups
from annotate.analysis.conditional import sequence_model
from annotate.analysis.corrected import (
    corrected_compare_groups,
    corrected_prevalence,
    sample_probabilities,
)
from annotate.analysis.queries import DEFAULT_QUERIES, SequenceQuery, sequence_queries
from annotate.analysis.reliability import compare_reliability
from annotate.analysis.sequences import lag_sequential, lag_table, transitions
from annotate.analysis.trajectories import (
    SessionTrends,
    position_trajectory,
    session_index,
    session_trajectories,
    start_vs_end,
)

__all__ = [
    "DEFAULT_QUERIES",
    "Description",
    "Family",
    "Item",
    "LabelFrame",
    "MultiverseReport",
    "SequenceQuery",
    "SessionTrends",
    "compare_groups",
    "compare_reliability",
    "cooccurrence",
    "corrected_compare_groups",
    "corrected_prevalence",
    "describe",
    "lag_sequential",
    "lag_table",
    "multiverse",
    "position_trajectory",
    "prepare",
    "prevalence",
    "sample_probabilities",
    "sequence_model",
    "sequence_queries",
    "session_index",
    "session_trajectories",
    "start_vs_end",
    "transitions",
]
