"""CLI: ``annotate describe DIR`` (a thin wrapper over :func:`annotate.analysis.describe`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from annotate.cli._printer import emit_json, emit_table, info, warn
from annotate.errors import AnnotateError, Errors

QUERY_KEYS = ("name", "antecedent", "consequent", "question", "given_role", "target_role", "lag")
QUERIES_HELP = (
    "YAML or JSON file of sequence questions, replacing the default ones: a list (or "
    "'queries:' holding a list) of {name, antecedent: [CODE or CODE=VALUE, ...], consequent: "
    "[...], question, given_role (default user), target_role (default assistant), lag (1)}."
)


class QueriesFileError(AnnotateError, ValueError):
    """A --queries file could not be read."""


def load_queries(path: Path) -> list[Any]:
    """The sequence questions of a YAML/JSON file (E902 naming the entry, its line and field)."""
    from annotate.codebook.yamlio import YamlSyntaxError, read_yaml

    def bad(problem: str) -> QueriesFileError:
        return QueriesFileError(Errors.E902.format(option=f"--queries {path}", problem=problem))

    try:
        doc, lines, _ = read_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise bad(f"cannot read the file ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise bad(f"not UTF-8 text ({exc.reason})") from exc
    except YamlSyntaxError as exc:
        raise bad(f"not valid YAML or JSON ({exc.problem}, line {exc.line})") from exc
    nested = isinstance(doc, dict) and "queries" in doc
    if nested:
        doc = doc["queries"]
    if not isinstance(doc, list) or not doc:
        raise bad("expected a non-empty list of queries (or 'queries:' holding one)")
    out = []
    for k, entry in enumerate(doc, start=1):
        line = lines.get(("queries", k - 1) if nested else (k - 1,))
        where = f"query {k}" + (f" (line {line})" if line else "")
        out.append(_query(entry, k, lambda problem, w=where: bad(f"{w}: {problem}")))
    return out


def _query(entry: Any, k: int, bad: Any) -> Any:
    """One SequenceQuery from a mapping of the queries file."""
    from annotate.analysis import SequenceQuery

    if not isinstance(entry, dict):
        raise bad("not a mapping with name, antecedent and consequent")
    unknown = sorted(set(map(str, entry)) - set(QUERY_KEYS))
    if unknown:
        raise bad(f"unknown field(s) {unknown}; fields: {', '.join(QUERY_KEYS)}")
    items = {}
    for field in ("antecedent", "consequent"):
        value = entry.get(field)
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise bad(f"{field} must be a code id or a list of them (CODE or CODE=VALUE)")
        items[field] = tuple(value)
    lag = entry.get("lag", 1)
    if isinstance(lag, bool) or not isinstance(lag, int) or lag < 1:
        raise bad("lag must be a whole number of turns, 1 or more")
    roles = {}
    for field, default in (("given_role", "user"), ("target_role", "assistant")):
        roles[field] = entry.get(field, default)
        if roles[field] not in (None, "user", "assistant", "system", "tool"):
            raise bad(f"{field} must be user, assistant, system, tool or null")
    return SequenceQuery(
        str(entry.get("name", f"query_{k}")),
        items["antecedent"],
        items["consequent"],
        str(entry.get("question") or ""),
        roles["given_role"],
        roles["target_role"],
        lag,
    )


if TYPE_CHECKING:
    import pandas as pd

    from annotate.project import Project


def _labels(
    project: Project, annotator: str | None, gold: bool, rule: str, engine: str = "memory"
) -> pd.DataFrame:
    """Gold labels (--gold), one coder's (--annotator) or, by default, the only coder's.

    With ``engine="duckdb"`` DuckDB computes the unit labels over the store's files (memory
    holds the coder's rows only; see :mod:`annotate.project._scale`)."""
    if gold:
        from annotate.adjudication import gold_labels

        return gold_labels(project, rule=rule)
    if annotator is not None:
        return (
            project.unit_labels([annotator], engine=engine)
            if annotator in project.coders
            else (
                project.unit_labels(engine=engine)  # unknown coder: E451 lists the coders
            )
        )
    return project.unit_labels(engine=engine)  # several coders: E450 lists them


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
@click.option(
    "--queries",
    "queries_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=QUERIES_HELP,
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (all tables).")
@click.option(
    "--engine",
    type=click.Choice(["auto", "memory", "duckdb"]),
    default="auto",
    show_default=True,
    help="How the unit labels are read: memory (pandas), duckdb (DuckDB over the store's "
    "files, bounded memory; the scale extra) or auto (duckdb from 5 million label events).",
)
def describe_cli(
    project_dir,
    plots_dir,
    annotator,
    gold,
    rule,
    bootstrap,
    permutations,
    seed,
    queries_file,
    as_json,
    engine,
):
    """Relationship-pattern analyses of PROJECT_DIR: prevalence, co-occurrence, sequences,
    trajectories, sessions and group comparisons."""
    from annotate.analysis import describe
    from annotate.project import Project

    if gold and annotator:
        raise click.UsageError("choose --gold or --annotator, not both")
    queries = load_queries(queries_file) if queries_file is not None else None
    project = Project.open(project_dir)
    from annotate.project._scale import pick_engine

    labels = _labels(project, annotator, gold, rule, pick_engine(project, engine))
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
        queries=queries,
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
