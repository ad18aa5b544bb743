"""CLI: ``annotate export DIR --out OUT`` (a thin wrapper over :func:`annotate.export.write`)."""

from __future__ import annotations

from pathlib import Path

import click

from annotate.cli._printer import emit_json, good


@click.command("export")
@click.argument("project_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Export folder.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv", "jsonl"]),
    default="parquet",
    show_default=True,
    help="File format of the tables.",
)
@click.option(
    "--labels",
    type=click.Choice(["gold", "majority", "all"]),
    default="gold",
    show_default=True,
    help="Which labels: gold, the coders' majority, or every coder's.",
)
@click.option(
    "--rule",
    type=click.Choice(["majority", "unanimous", "plurality"]),
    default="majority",
    show_default=True,
    help="Gold rule for units not adjudicated.",
)
@click.option("--redact", is_flag=True, help="Mask personal data in the exported text.")
@click.option(
    "--bootstrap",
    type=click.IntRange(0),
    default=1000,
    show_default=True,
    help="Bootstrap resamples of the agreement intervals in the data card.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap.")
@click.option("--overwrite", is_flag=True, help="Replace an existing export folder.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def export_cli(project_dir, out, fmt, labels, rule, redact, bootstrap, seed, overwrite, as_json):
    """Export the labelled dataset of PROJECT_DIR with a data card (README.md)."""
    from annotate.export import write as write_export
    from annotate.project import Project

    project = Project.open(project_dir)
    path = write_export(
        project,
        out,
        format=fmt,
        labels=labels,
        rule=rule,
        redact=redact,
        bootstrap=bootstrap,
        seed=seed,
        overwrite=overwrite,
    )
    files = sorted(p.name for p in path.iterdir())
    if as_json:
        emit_json({"out": str(path), "files": files, "labels": labels, "format": fmt})
    else:
        good(f"exported {len(files)} files to {path} (data card: {path / 'README.md'})")


def register(main: click.Group) -> None:
    """Add this area's commands to the main group."""
    main.add_command(export_cli)
