"""CLI commands of the project area: ``annotate project init|status|add-coders|
add-conversations|add-reliability|repair``."""

from __future__ import annotations

from typing import Any

import click

from annotate.cli._printer import emit_json, emit_table, good, info
from annotate.project import Project

MODULES_HELP = (
    "Optional codebook modules to code with: 'default' (those marked default: true), 'all', "
    "'none' (core codes only) or a comma-separated list, e.g. trust,companionship."
)
WHERE_HELP = (
    "Filter of the sampling frame (repeatable): language=en, language=en,de, model!=gpt-3.5, "
    "source=..., user_id=..., meta.KEY=VALUE, min_turns=4, max_turns=40, "
    "started_after=2024-01-01, started_before=2024-07-01."
)


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
        "modules": p.modules,
        "plan": p.plan,
        "conversations": int(a["conversation_id"].nunique()),
        "reliability_sample": int(a.loc[a["is_reliability"], "conversation_id"].nunique()),
        "coders": {str(k): {kk: int(vv) for kk, vv in v.items()} for k, v in per.iterrows()},
    }


def _records(frame: Any) -> list[dict[str, Any]]:
    """Rows as dicts, missing values (NaT, NA) as None."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def _sampling_line(s: dict[str, Any] | None) -> str:
    if not s:
        return "the whole corpus"
    parts = [f"{s['sample_size']} of {s['corpus_size']} conversations"]
    if s.get("where"):
        parts.append(f"frame {s['frame_size']} ({'; '.join(s['where'])})")
    if s.get("stratify"):
        parts.append(f"stratified by {s['stratify']} ({len(s['strata'])} strata)")
    parts.append(f"seed {s['seed']}, {len(s['draws'])} draw(s)")
    if s.get("added_outside_design"):
        parts.append(f"{s['added_outside_design']} added by id outside the sample")
    return ", ".join(parts)


def _report_rows(p: Project, rows: Any, what: str, as_json: bool) -> None:
    per = rows.groupby("annotator_id").size().to_dict() if len(rows) else {}
    if as_json:
        emit_json(
            {
                "project": str(p.path),
                "added": _records(rows),
                "per_coder": {str(k): int(v) for k, v in per.items()},
                "plan": p.plan,
            }
        )
        return
    good(f"{what}: {len(rows)} assignment(s) added (plan version {p.plan['version']})")
    for coder, n in per.items():
        info(f"  {coder:<12}{n} added")


@click.group("project")
def project_group() -> None:
    """Create a coding project, change its plan and follow its progress."""


@project_group.command("init")
@click.argument("project_dir", metavar="DIR", type=click.Path(path_type=str))
@click.option("--corpus", required=True, type=click.Path(path_type=str), help="Corpus folder.")
@click.option("--codebook", required=True, type=click.Path(path_type=str), help="Codebook YAML.")
@click.option("--coders", required=True, help="Coder ids, comma-separated (e.g. alice,bob).")
@click.option("--modules", default="default", show_default=True, help=MODULES_HELP)
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
@click.option(
    "--sample", type=int, default=None, help="Code a seeded random sample of N conversations."
)
@click.option(
    "--stratify",
    default=None,
    help="Stratify the sample by source, model, language, user_id or meta.KEY.",
)
@click.option("--where", "where", multiple=True, help=WHERE_HELP)
@click.option("--seed", default=0, show_default=True, help="Seed of the sample and the plan.")
@click.option("--blind/--no-blind", default=True, show_default=True, help="Blind coder sessions.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def init_cmd(
    project_dir: str,
    corpus: str,
    codebook: str,
    coders: str,
    modules: str,
    per_item: int,
    reliability: float,
    reliability_coders: int | None,
    sample: int | None,
    stratify: str | None,
    where: tuple[str, ...],
    seed: int,
    blind: bool,
    as_json: bool,
) -> None:
    """Create a project in DIR: corpus (or a sample of it), frozen codebook copy with the
    chosen modules, coders and assignment plan."""
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
        modules=modules,
        sample=sample,
        stratify=stratify,
        where=list(where) or None,
    )
    doc = _init_summary(p)
    if as_json:
        emit_json(doc)
        return
    good(f"project created in {doc['path']}")
    info(f"  corpus      {doc['corpus']}")
    info(f"  coding      {doc['conversations']} conversations: {_sampling_line(p.sampling)}")
    info(f"  codebook    {doc['codebook']['id']} {doc['codebook']['version']} (frozen copy)")
    info(f"  modules     {', '.join(p.modules) or 'none (core codes only)'}")
    info(f"  reliability {doc['reliability_sample']} conversations, blind={p.blind}")
    for coder, c in doc["coders"].items():
        info(f"  {coder:<12}{c['assigned']} assigned ({c['reliability']} reliability)")


@project_group.command("status")
@click.argument("project_dir", metavar="DIR", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def status_cmd(project_dir: str, as_json: bool) -> None:
    """Progress per coder (done / assigned, time, last activity) and per code; the modules,
    the plan and the sample."""
    p = Project.open(project_dir)
    st = p.status()
    if as_json:
        emit_json(
            {
                "project": str(p.path),
                "codebook": {"id": p.codebook.id, "version": str(p.codebook.version)},
                "modules": p.modules,
                "plan": p.plan,
                "sampling": p.sampling,
                "coders": _records(st["coders"]),
                "codes": _records(st["codes"]),
            }
        )
        return
    info(f"codebook {p.codebook.id} {p.codebook.version}; modules: "
         f"{', '.join(p.modules) or 'none (core codes only)'}")  # fmt: skip
    plan = p.plan
    k = plan["reliability_coders"]
    rel = "every coder" if k is None else f"{k} coders"
    info(
        f"plan version {plan['version']}: {plan['per_item']} coder(s) per conversation, "
        f"reliability sample {plan['reliability']:.0%} coded by {rel}, seed {plan['seed']}, "
        f"blind={plan['blind']}"
    )
    info(f"sample: {_sampling_line(p.sampling)}")
    info("")
    emit_table(st["coders"], title=f"coders of {p.path}")
    info("")
    emit_table(st["codes"], title="codes (units coded; units coded by two or more coders)")


@project_group.command("add-coders")
@click.argument("project_dir", metavar="DIR", type=click.Path(path_type=str))
@click.argument("coders", metavar="IDS")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def add_coders_cmd(project_dir: str, coders: str, as_json: bool) -> None:
    """Add coders (IDS comma-separated); existing assignments never change."""
    p = Project.open(project_dir)
    rows = p.add_coders(coders)
    _report_rows(p, rows, f"added coder(s) {coders}", as_json)


@project_group.command("add-conversations")
@click.argument("project_dir", metavar="DIR", type=click.Path(path_type=str))
@click.option("--sample", type=int, default=None, help="Draw N more from the sampling frame.")
@click.option("--ids", default=None, help="These conversation ids (comma-separated).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def add_conversations_cmd(
    project_dir: str, sample: int | None, ids: str | None, as_json: bool
) -> None:
    """Assign more conversations: N more of the sample (--sample N), named ones (--ids), or
    (a project coding its whole corpus) those new in the corpus."""
    p = Project.open(project_dir)
    id_list = [c.strip() for c in ids.split(",") if c.strip()] if ids is not None else None
    rows = p.add_conversations(id_list, sample=sample)
    _report_rows(p, rows, "added conversations", as_json)


@project_group.command("add-reliability")
@click.argument("project_dir", metavar="DIR", type=click.Path(path_type=str))
@click.option("--fraction", type=float, required=True, help="Reliability share to reach, e.g. 0.1.")
@click.option(
    "--reliability-coders",
    type=int,
    default=None,
    help="Coders per reliability conversation (default all; only for a first sample).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def add_reliability_cmd(
    project_dir: str, fraction: float, reliability_coders: int | None, as_json: bool
) -> None:
    """Grow the reliability sample to FRACTION of the project's conversations (so agreement
    can be measured); queue positions never change."""
    p = Project.open(project_dir)
    rows = p.add_reliability(fraction, reliability_coders=reliability_coders)
    _report_rows(p, rows, f"reliability sample grown to {fraction:.0%}", as_json)


@project_group.command("set")
@click.argument("project_dir", metavar="DIR", type=click.Path(path_type=str))
@click.option(
    "--suggestions",
    type=click.Choice(["off", "after", "before"]),
    default=None,
    help="Show an LLM coder's labels to the coders: off; after (once a coder saved their own "
    "label); before (hints; never before on the reliability sample).",
)
@click.option("--suggest-from", "suggest_from", default=None, help="The LLM coder shown.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def set_cmd(
    project_dir: str, suggestions: str | None, suggest_from: str | None, as_json: bool
) -> None:
    """Change a project setting (a new settings version); without options, show them."""
    from annotate.project._settings import settings_history

    p = Project.open(project_dir)
    if suggestions is not None:
        current = p.suggestions
        coder = suggest_from if suggest_from is not None else current.get("coder")
        p.set_suggestions(suggestions, coder)
    elif suggest_from is not None:
        p.set_suggestions(p.suggestions["mode"], suggest_from)
    now = p.suggestions
    if as_json:
        emit_json({"project": str(p.path), "suggestions": now, "history": settings_history(p.path)})
        return
    line = f"suggestions {now['mode']}" + (f" from {now['coder']}" if now["coder"] else "")
    changed = suggestions is not None or suggest_from is not None
    (good if changed else info)(f"{line} (settings version {now['version']})")
    if now["mode"] == "before":
        info("  on the reliability sample they are shown only after a coder's own label")


@project_group.command("repair")
@click.argument("project_dir", metavar="DIR", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def repair_cmd(project_dir: str, as_json: bool) -> None:
    """Repair a plan that an older annotate changed from two places at once (W320)."""
    p = Project.open(project_dir)
    done = p.repair_plan()
    if as_json:
        emit_json({"project": str(p.path), **done, "plan": p.plan})
        return
    if not (done["coders_added"] or done["reliability_rows_added"] or done["duplicates_removed"]):
        good("the plan is consistent; nothing to repair")
        return
    good(
        f"repaired: coders added to the list {done['coders_added'] or 'none'}, "
        f"{done['reliability_rows_added']} reliability assignment(s) restored, "
        f"{done['duplicates_removed']} duplicate(s) removed (plan version {p.plan['version']})"
    )


def register(main: click.Group) -> None:
    """Add this area's commands to the main group."""
    main.add_command(project_group)
