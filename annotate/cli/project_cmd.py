"""CLI commands of the project area: ``annotate project init`` and ``annotate project status``."""

from __future__ import annotations

from typing import Any

import click

from annotate.cli._printer import emit_json, emit_table, good, info
from annotate.project import Project


def _init_summary(p: Project) -> dict[str, Any]:
    """What ``annotate project init`` reports (also its --json document)."""
    a = p.assignments
    per = a.groupby("annotator_id").agg(
        assigned=("conversation_id", "size"), reliability=("is_reliability", "sum")
    )
    return {
        "path": str(p.path),
        "corpus": str(p.corpus_path),
        "codebook": {"id": p.codebook.id, "version": str(p.codebook.version)},
        "plan": p.plan,
        "conversations": int(a["conversation_id"].nunique()),
        "reliability_sample": int(a.loc[a["is_reliability"], "conversation_id"].nunique()),
        "coders": {str(k): {kk: int(vv) for kk, vv in v.items()} for k, v in per.iterrows()},
    }


def _records(frame: Any) -> list[dict[str, Any]]:
    """Rows as dicts, missing values (NaT, NA) as None."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


@click.group("project")
def project_group() -> None:
    """Create a coding project and follow its progress."""


@project_group.command("init")
@click.argument("project_dir", metavar="DIR", type=click.Path(path_type=str))
@click.option("--corpus", required=True, type=click.Path(path_type=str), help="Corpus folder.")
@click.option("--codebook", required=True, type=click.Path(path_type=str), help="Codebook YAML.")
@click.option("--coders", required=True, help="Coder ids, comma-separated (e.g. alice,bob).")
@click.option("--per-item", default=1, show_default=True, help="Coders per conversation.")
@click.option(
    "--reliability", default=0.0, show_default=True, help="Fraction in the reliability sample."
)
@click.option(
    "--reliability-coders",
    type=int,
    default=None,
    help="Coders per reliability item (default all).",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the assignment draws.")
@click.option("--blind/--no-blind", default=True, show_default=True, help="Blind coder sessions.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def init_cmd(
    project_dir: str,
    corpus: str,
    codebook: str,
    coders: str,
    per_item: int,
    reliability: float,
    reliability_coders: int | None,
    seed: int,
    blind: bool,
    as_json: bool,
) -> None:
    """Create a project in DIR: corpus, frozen codebook copy, coders and assignment plan."""
    p = Project.create(
        project_dir,
        corpus=corpus,
        codebook=codebook,
        coders=coders,
        per_item=per_item,
        reliability=reliability,
        reliability_coders=reliability_coders,
        seed=seed,
        blind=blind,
    )
    doc = _init_summary(p)
    if as_json:
        emit_json(doc)
        return
    good(f"project created in {doc['path']}")
    info(f"  corpus      {doc['corpus']} ({doc['conversations']} conversations)")
    info(f"  codebook    {doc['codebook']['id']} {doc['codebook']['version']} (frozen copy)")
    info(f"  reliability {doc['reliability_sample']} conversations, blind={p.blind}")
    for coder, c in doc["coders"].items():
        info(f"  {coder:<12}{c['assigned']} assigned ({c['reliability']} reliability)")


@project_group.command("status")
@click.argument("project_dir", metavar="DIR", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def status_cmd(project_dir: str, as_json: bool) -> None:
    """Progress per coder (done / assigned, time, last activity) and per code."""
    p = Project.open(project_dir)
    st = p.status()
    if as_json:
        emit_json(
            {
                "project": str(p.path),
                "coders": _records(st["coders"]),
                "codes": _records(st["codes"]),
            }
        )
        return
    emit_table(st["coders"], title=f"coders of {p.path}")
    info("")
    emit_table(st["codes"], title="codes (units coded; units coded by two or more coders)")


def register(main: click.Group) -> None:
    """Add this area's commands to the main group."""
    main.add_command(project_group)
