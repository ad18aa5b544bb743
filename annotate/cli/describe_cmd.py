"""CLI: ``annotate describe DIR`` (a thin wrapper over :func:`annotate.analysis.describe`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from annotate.cli._printer import emit_json, emit_table, info, warn

if TYPE_CHECKING:
    import pandas as pd

    from annotate.project import Project


def _labels(project: Project, annotator: str | None, gold: bool, rule: str) -> pd.DataFrame:
    """Gold labels (--gold), one coder's (--annotator) or, by default, the only coder's."""
    if gold:
        from annotate.adjudication import gold_labels

        return gold_labels(project, rule=rule)
    if annotator is not None:
        return (
            project.unit_labels([annotator])
            if annotator in project.coders
            else (
                project.unit_labels()  # unknown coder: analysis raises E451 listing the coders
            )
        )
    return project.unit_labels()  # several coders: analysis raises E450 listing them


@click.command("describe")
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--plots",
    "plots_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write every table (CSV) and figure (PNG and SVG) to this folder.",
)
@click.option("--annotator", default=None, help="Analyse this coder's labels.")
@click.option("--gold", is_flag=True, help="Analyse gold labels (adjudicated, else --rule).")
@click.option(
    "--rule",
    type=click.Choice(["majority", "unanimous", "plurality"]),
    default="majority",
    show_default=True,
    help="Gold rule for units not adjudicated (with --gold).",
)
@click.option(
    "--bootstrap",
    type=click.IntRange(0),
    default=1000,
    show_default=True,
    help="Bootstrap replicates (resampling conversations) of the intervals.",
)
@click.option(
    "--permutations",
    type=click.IntRange(0),
    default=500,
    show_default=True,
    help="Within-conversation permutations of the sequence questions.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of both.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (all tables).")
def describe_cli(
    project_dir, plots_dir, annotator, gold, rule, bootstrap, permutations, seed, as_json
):
    """Relationship-pattern analyses of PROJECT_DIR: prevalence, co-occurrence, sequences,
    trajectories, sessions and group comparisons."""
    from annotate.analysis import describe
    from annotate.project import Project

    if gold and annotator:
        raise click.UsageError("choose --gold or --annotator, not both")
    project = Project.open(project_dir)
    labels = _labels(project, annotator, gold, rule)
    d = describe(
        labels,
        project.corpus,
        project.codebook,
        out=plots_dir,
        plots=plots_dir is not None,
        annotator=None if gold else annotator,
        bootstrap=bootstrap,
        permutations=permutations,
        seed=seed,
    )
    if as_json:
        doc = d.summary()
        doc["labels"] = "gold" if gold else (annotator or "the only coder")
        doc["tables"] = {k: v.to_dict(orient="records") for k, v in d.tables.items()}
        emit_json(doc)
        return
    prev = d.tables["prevalence"]
    top = prev[prev["unit"] == "turn"].sort_values("share", ascending=False).head(15)
    emit_table(
        top[["item", "n", "count", "share", "ci_low", "ci_high"]].round(3),
        title="Most prevalent codes (share of coded turns, 95% CI by conversation)",
    )
    q = d.tables["sequence_queries"]
    if len(q):
        cols = [
            "query",
            "antecedent",
            "consequent",
            "count",
            "probability",
            "adjusted_residual",
            "p_permutation",
        ]
        emit_table(q[[c for c in cols if c in q]].round(3), title="Sequence questions (lag 1)")
    info("tables: " + ", ".join(f"{k} ({len(v)})" for k, v in d.tables.items()))
    if plots_dir is not None:
        info(f"wrote tables and {len(d.figures)} figures to {plots_dir}")
    for note in d.notes:
        warn(f"note: {note}")


def register(main: click.Group) -> None:
    """Add this area's commands to the main group."""
    main.add_command(describe_cli)
