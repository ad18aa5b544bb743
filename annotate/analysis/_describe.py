"""``describe``: every analysis of one coder's (or gold) labels, as tables and figures."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from annotate.analysis._cooccurrence import cooccurrence
from annotate.analysis._frame import LabelFrame, prepare
from annotate.analysis._groups import conversation_groups
from annotate.analysis._prevalence import prevalence
from annotate.analysis.compare import compare_groups
from annotate.analysis.queries import sequence_queries
from annotate.analysis.sequences import lag_sequential
from annotate.analysis.trajectories import _position_reps, session_index, session_trajectories
from annotate.errors import AnalysisError

if TYPE_CHECKING:
    from annotate.codebook import Codebook
    from annotate.corpus import Corpus

#: words of item ids followed across sessions when present (disclosure, dependence, human-like)
SESSION_HINTS = ("disclos", "attach", "relian", "depend", "humanlike", "anthropo", "lonel")


@dataclass
class Description:
    """All tables of :func:`describe` (by name), written figures, and notes on what was skipped."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, list[Path]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: the SessionTrends of the session analysis (None when skipped)
    trends: Any = None

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def summary(self) -> dict[str, Any]:
        """A JSON-able overview: rows per table, figures, notes."""
        return {
            "tables": {k: len(v) for k, v in self.tables.items()},
            "figures": {k: [str(p) for p in v] for k, v in self.figures.items()},
            "notes": list(self.notes),
        }


def _context_attribute(frame: LabelFrame) -> str | None:
    for it in frame.conv_items:
        if "context" in it.code_id and it.level == "nominal":
            return it.code_id
    if any("context" in m for m in frame.meta()):
        return "context"
    return None


def _distinct(frame: LabelFrame, by: str) -> list[str]:
    try:
        values = conversation_groups(frame, by)
    except AnalysisError:
        return []
    return sorted({v for v in values.tolist() if v is not None})


def describe(
    labels: pd.DataFrame | LabelFrame,
    corpus: Corpus,
    codebook: Codebook,
    *,
    out: str | Path | None = None,
    plots: bool = True,
    annotator: str | None = None,
    bootstrap: int = 1000,
    permutations: int = 500,
    seed: int = 0,
    queries: Any = None,
    models: bool = False,
) -> Description:
    """Run every analysis and collect the tables (and, with ``out``, CSVs and figures).

    Parameters
    ----------
    labels
        One coder's or gold unit labels (see :func:`annotate.analysis.prevalence`).
    corpus
        The corpus (or None): positions, models, users and sessions come from it.
    codebook
        The codebook of the labels.
    out
        Folder for ``<table>.csv`` and, with ``plots``, ``<figure>.png`` / ``.svg``.
    plots
        Draw figures (written only when ``out`` is given).
    annotator
        Which coder, when the labels hold several.
    bootstrap, permutations, seed
        Replicates of the conversation bootstrap, within-conversation permutations of the
        sequence questions, and the seed of both.
    queries
        The sequence questions (:class:`~annotate.analysis.SequenceQuery`); default
        :data:`~annotate.analysis.DEFAULT_QUERIES`.
    models
        Also fit the model-based estimates of the comparisons and session trends (GEE,
        cumulative-link and mixed models; slower on large corpora). Intervals and tests
        respect the nesting either way (users when known, else conversations).

    Warnings of the analyses (too few clusters W451, too few positives W452, model problems
    W453, skipped queries W450) are collected in ``notes`` rather than raised.

    Returns
    -------
    Description
        ``tables``: prevalence, prevalence_by_role, prevalence_by_<attribute> (model, the
        context code or meta key, when they vary), cooccurrence_turn,
        cooccurrence_conversation, sequences_lag1 (user -> assistant), sequence_queries,
        trajectory, start_vs_end, sessions / session_average / session_slopes /
        session_trend (when users have several sessions), comparison_<attribute> (when it has
        two or more groups); ``figures``; ``notes``.
    """
    frame = prepare(labels, codebook, corpus=corpus, annotator=annotator)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d = _describe(frame, codebook, bootstrap, permutations, seed, queries, models)
    for w in caught:
        text = str(w.message)
        if text.startswith("[W") and text not in d.notes:
            d.notes.append(text)
    if out is not None:
        _write(d, frame, Path(out), plots)
    return d


def _describe(
    frame: LabelFrame,
    codebook: Codebook,
    bootstrap: int,
    permutations: int,
    seed: int,
    queries: Any,
    models: bool,
) -> Description:
    d = Description()
    t = d.tables
    kw: dict[str, Any] = {"bootstrap": bootstrap, "seed": seed}
    t["prevalence"] = prevalence(frame, codebook, **kw)
    t["prevalence_by_role"] = prevalence(frame, codebook, by="role", **kw)
    attributes = [a for a in ("model", _context_attribute(frame)) if a]
    for attr in attributes:
        if len(_distinct(frame, attr)) >= 2:
            t[f"prevalence_by_{attr}"] = prevalence(frame, codebook, by=attr, **kw)
        if len(_distinct(frame, attr)) >= 2:
            t[f"comparison_{attr}"] = compare_groups(frame, codebook, by=attr, model=models, **kw)
    t["cooccurrence_turn"] = cooccurrence(frame, codebook, unit="turn")
    t["cooccurrence_conversation"] = cooccurrence(frame, codebook, unit="conversation")
    t["sequences_lag1"] = lag_sequential(
        frame, codebook, given_role="user", target_role="assistant"
    )
    t["sequence_queries"] = sequence_queries(
        frame,
        codebook,
        queries=queries,
        permutations=permutations,
        seed=seed,
        bootstrap=bootstrap,
    )
    t["trajectory"], t["start_vs_end"] = _position_reps(frame, None, 5, True, bootstrap, 0.95, seed)
    _sessions(frame, codebook, d, bootstrap, seed, models)
    return d


def _sessions(
    frame: LabelFrame, codebook: Codebook, d: Description, bootstrap: int, seed: int, models: bool
) -> None:
    if frame.corpus is None:
        d.notes.append("sessions: skipped (no corpus given)")
        return
    try:
        index = session_index(frame.corpus.conversations)
    except AnalysisError as exc:
        d.notes.append(f"sessions: skipped ({exc})")
        return
    if index.empty or index["session"].max() < 2:
        d.notes.append("sessions: skipped (no user has two or more conversations)")
        return
    trends = session_trajectories(
        frame,
        codebook,
        corpus=frame.corpus,
        bootstrap=bootstrap,
        seed=seed,
        min_sessions=2,
        model=models,
    )
    d.tables["sessions"] = trends.sessions
    d.tables["session_average"] = trends.average
    d.tables["session_slopes"] = trends.slopes
    d.tables["session_trend"] = trends.trend
    d.trends = trends


def _top_items(prev: pd.DataFrame, k: int) -> list[str]:
    p = prev[(prev["unit"] == "turn") & (prev["code_level"] == "binary")]
    return p.sort_values("share", ascending=False)["item"].head(k).tolist()


def _write(d: Description, frame: LabelFrame, out: Path, plots: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    trends = d.trends
    for name, table in d.tables.items():
        table.to_csv(out / f"{name}.csv", index=False)
    if not plots:
        return
    from annotate.analysis import plots as pl

    t = d.tables
    cb = frame.codebook
    figs: dict[str, Any] = {
        "prevalence_turn": pl.plot_prevalence(t["prevalence"], unit="turn"),
        "prevalence_conversation": pl.plot_prevalence(t["prevalence"], unit="conversation"),
        "prevalence_by_role": pl.plot_prevalence(t["prevalence_by_role"], group="role"),
        "cooccurrence_turn": pl.plot_cooccurrence(t["cooccurrence_turn"], codebook=cb),
        "cooccurrence_conversation": pl.plot_cooccurrence(
            t["cooccurrence_conversation"], codebook=cb
        ),
        "sequences_lag1": pl.plot_sequences(t["sequences_lag1"]),
        "trajectory": pl.plot_trajectory(t["trajectory"], items=_top_items(t["prevalence"], 6)),
    }
    if len(t["sequence_queries"]):
        figs["sequence_queries"] = pl.plot_queries(t["sequence_queries"])
    for name in [n for n in t if n.startswith("comparison_")]:
        figs[name] = pl.plot_comparison(t[name])
    if trends is not None:
        items = list(dict.fromkeys(trends.trend["item"]))
        chosen = [i for i in items if any(h in i for h in SESSION_HINTS)][:4] or items[:2]
        for item in chosen:
            figs[f"sessions_{item.replace('=', '_')}"] = pl.plot_sessions(trends, item)
    import matplotlib.pyplot as plt

    for name, fig in figs.items():
        d.figures[name] = pl.save_figure(fig, out / name)
        plt.close(fig)
