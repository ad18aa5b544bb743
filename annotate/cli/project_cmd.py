"""CLI commands of the project area: ``annotate project init|status|add-coders|
add-conversations|add-reliability|enrich-reliability|repair|migrate``."""

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
                "codebooks": p.codebook_history,
                "recoding": _records(st["recoding"]),
                "certified": _records(st["certified"]) if "certified" in st else [],
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
    _status_extras(st)


def _status_extras(st: dict[str, Any]) -> None:
    """Codebook versions, recoding queued by migrations and calibration, when there are any."""
    if len(st.get("codebooks", ())) > 1:
        info("")
        emit_table(st["codebooks"], title="codebook versions (the last is current)")
    if len(st.get("recoding", ())):
        info("")
        emit_table(st["recoding"], title="recoding queued by migrations (units; open ones)")
    if st.get("certified") is not None and len(st["certified"]):
        info("")
        emit_table(st["certified"], title="calibration: certified coders per codebook version")


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


@project_group.command("enrich-reliability")
@click.argument("project_dir", metavar="DIR", type=click.Path(path_type=str))
@click.option("--n", "n", type=int, required=True, help="Conversations to add to the sample.")
@click.option("--codes", required=True, help="The rare codes to enrich for (comma-separated).")
@click.option(
    "--prescore",
    default="cues",
    show_default=True,
    help="cues (the codes' cue phrases), labels:ID (an annotator's labels, e.g. an LLM "
    "coder), a column or meta.KEY (numeric), or a filter such as meta.flagged=true.",
)
@click.option(
    "--share", type=float, default=0.5, show_default=True, help="Share from the flagged stratum."
)
@click.option("--reliability-coders", type=int, default=None, help="Coders per conversation.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def enrich_cmd(
    project_dir: str,
    n: int,
    codes: str,
    prescore: str,
    share: float,
    reliability_coders: int | None,
    as_json: bool,
) -> None:
    """Enrich the reliability sample for rare codes: draw N more conversations, SHARE of them
    among those a pre-score flags, with the inclusion probabilities recorded (analyse with
    `annotate agreement DIR --design`)."""
    p = Project.open(project_dir)
    code_list = [c.strip() for c in codes.split(",") if c.strip()]
    rows = p.enrich_reliability(
        n, codes=code_list, prescore=prescore, share=share, reliability_coders=reliability_coders
    )
    design = p.reliability_design or {}
    if as_json:
        emit_json({"project": str(p.path), "added": _records(rows), "design": design})
        return
    good(f"reliability sample enriched for {', '.join(code_list)} (pre-score: {prescore})")
    import pandas as pd

    strata = pd.DataFrame(design.get("strata") or [])
    if len(strata):
        emit_table(strata.round(4), title="strata (inclusion probability = first-stage fraction "
                   "+ (1 - it) x this draw's fraction)")  # fmt: skip
    info(f"{len(rows)} assignment(s) added (plan version {p.plan['version']})")


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


@project_group.command("migrate")
@click.argument("project_dir", metavar="DIR", type=click.Path(path_type=str))
@click.option(
    "--codebook", required=True, type=click.Path(path_type=str), help="The new version's YAML."
)
@click.option(
    "--map",
    "map_file",
    default=None,
    type=click.Path(path_type=str),
    help="Migration map (YAML): what happened to each changed code. "
    "`annotate codebook diff OLD NEW --map MAP.yaml` proposes one.",
)
@click.option(
    "--modules", default=None, help="Modules of the new version (default: the project's)."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def migrate_cmd(
    project_dir: str, codebook: str, map_file: str | None, modules: str | None, as_json: bool
) -> None:
    """Move the project in DIR to a new codebook version: labels are carried through the map
    as new events (the old ones stay in the history), ambiguous units are queued for recoding.
    Running it again finishes an interrupted migration or carries late old-version labels."""
    p = Project.open(project_dir)
    mods = None if modules is None else [m.strip() for m in modules.split(",") if m.strip()]
    summary = p.migrate(codebook, map_file, modules=mods)
    if as_json:
        emit_json({"project": str(p.path), **summary, "plan": p.plan})
        return
    good(f"migrated {summary['from']} -> {summary['to']} ({summary['id']})")
    info(f"  events written        {summary['events_written']}")
    info(f"  units to recode       {summary['recode_items']} "
         f"({summary['reopened']} conversation(s) reopened)")  # fmt: skip
    info(f"  finished, carried     {summary['carried_finished']} conversation(s)")
    if summary["not_coded"]:
        info(f"  not coded before      {', '.join(summary['not_coded'])}")
    rows = [{"code_id": k, **v} for k, v in sorted(summary["codes"].items())]
    if rows:
        import pandas as pd

        info("")
        emit_table(pd.DataFrame(rows), title="old labels per code")
    info("")
    info(f"open recoding per coder: `annotate project status {p.path}`")


def register(main: click.Group) -> None:
    """Add this area's commands to the main group."""
    main.add_command(project_group)
