"""CLI commands of the codebook area: ``annotate codebook validate|render|diff|export-qdc|
import-qdc|schema`` (registered on the main group by annotate.cli); ``diff --map`` proposes a
migration map."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import click

from annotate.cli._printer import emit_json, fail, good, info, warn
from annotate.codebook import Codebook, codebook_from_data, load_codebook
from annotate.codebook.diff import diff_codebooks
from annotate.codebook.lint import lint_codebook
from annotate.codebook.propose import map_yaml, propose_map
from annotate.codebook.refi import read_qdc_data, write_qdc
from annotate.codebook.render import write_manual
from annotate.codebook.schema import json_schema_text
from annotate.codebook.yamlio import dump_yaml
from annotate.errors import CodebookError, Errors

MODULES_HELP = (
    "Modules to load: 'default' (core + modules marked default: true, as load_codebook does), "
    "'all', 'none' (core only) or a comma-separated list of module ids."
)


def _modules(value: str) -> Any:
    if value == "all":
        return "all"
    if value == "default":
        return None
    if value in ("none", ""):
        return []
    return [m.strip() for m in value.split(",") if m.strip()]


def _out_path(out: str, *, force: bool = True) -> Path:
    path = Path(out)
    if not path.parent.exists():
        raise CodebookError(Errors.E901.format(path=path.parent, hint=f"mkdir -p {path.parent}"))
    if path.exists() and not force:
        raise CodebookError(
            Errors.E902.format(
                option="--out", problem=f"'{path}' exists; pass --force to replace it"
            )
        )
    return path


def codebook_summary(codebook: Codebook) -> dict[str, Any]:
    """What ``annotate codebook validate`` shows (also its --json document)."""
    roles: Counter[str] = Counter(r for c in codebook.codes for r in c.applies_to)
    per_module: Counter[str] = Counter(c.module or "(core)" for c in codebook.codes)
    return {
        "valid": True,
        "path": str(codebook.path) if codebook.path else None,
        "id": codebook.id,
        "version": str(codebook.version),
        "title": codebook.title,
        "hash": codebook.hash,
        "n_codes": len(codebook.codes),
        "by_unit": dict(Counter(c.unit for c in codebook.codes)),
        "by_level": dict(Counter(c.level for c in codebook.codes)),
        "by_role": {r: roles[r] for r in ("user", "assistant", "system", "tool") if roles[r]},
        "by_module": dict(per_module),
        "groups": {g.id: g.kind for g in codebook.groups},
        "modules": {m.id: {"default": m.default} for m in codebook.modules},
        "active_modules": list(codebook.active_modules),
    }


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"


@click.group("codebook")
def codebook_group() -> None:
    """Validate, render, compare and exchange codebooks (YAML)."""


@codebook_group.command("validate")
@click.argument("file", type=click.Path(path_type=str))
@click.option("--modules", default="default", show_default=True, help=MODULES_HELP)
@click.option("--strict", is_flag=True, help="Exit 1 on content notes too (thin guidance).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def validate_cmd(file: str, modules: str, strict: bool, as_json: bool) -> None:
    """Check a codebook file; list every problem (exit 1) or summarise it (exit 0).

    Content notes (a code without exclusion criteria, fewer than two examples, a mention of a
    code id that does not exist, …) are checked on all modules and printed; --strict fails on
    them.
    """
    try:
        codebook = load_codebook(file, modules=_modules(modules))
    except CodebookError as err:
        if as_json:
            emit_json(
                {
                    "valid": False,
                    "path": file,
                    "error": str(err).splitlines()[0],
                    "problems": err.failure_cases or [],
                }
            )
            sys.exit(1)
        fail(str(err))
    notes = lint_codebook(load_codebook(file, modules="all"))
    doc = {**codebook_summary(codebook), "notes": [str(n) for n in notes]}
    if as_json:
        emit_json(doc)
    else:
        _print_summary(file, doc)
    if strict and notes:
        fail(f"{len(notes)} content note(s) in {file} (--strict); see the notes above")


def _print_summary(file: str, doc: dict[str, Any]) -> None:
    good(f"{file}: valid codebook")
    info(f"  id        {doc['id']}")
    info(f"  version   {doc['version']}")
    info(f"  sha256    {doc['hash']}")
    info(f"  codes     {doc['n_codes']}")
    info(f"  by unit   {_counts(doc['by_unit'])}")
    info(f"  by level  {_counts(doc['by_level'])}")
    info(f"  by role   {_counts(doc['by_role'])}")
    loaded = ", ".join(doc["active_modules"]) or "core only"
    declared = ", ".join(doc["modules"]) or "none"
    info(f"  per module {_counts(doc['by_module'])}")
    info(f"  modules   loaded: {loaded}; declared: {declared}")
    if doc["notes"]:
        warn(f"  {len(doc['notes'])} content note(s):")
        for note in doc["notes"]:
            warn(f"    {note}")


@codebook_group.command("render")
@click.argument("file", type=click.Path(path_type=str))
@click.option("--out", required=True, help="Manual to write: .html (printable) or .md.")
@click.option("--modules", default="default", show_default=True, help=MODULES_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def render_cmd(file: str, out: str, modules: str, as_json: bool) -> None:
    """Write the printable coding manual of a codebook."""
    codebook = load_codebook(file, modules=_modules(modules))
    path = write_manual(codebook, _out_path(out))
    if as_json:
        emit_json({"out": str(path), "n_codes": len(codebook.codes), "hash": codebook.hash})
    else:
        good(f"wrote {path} ({len(codebook.codes)} codes)")


@codebook_group.command("diff")
@click.argument("old", type=click.Path(path_type=str))
@click.argument("new", type=click.Path(path_type=str))
@click.option("--check", is_flag=True, help="Exit 1 when NEW's version number is too low.")
@click.option(
    "--map",
    "map_out",
    default=None,
    help="Write a proposed migration map (YAML) for `annotate project migrate` here.",
)
@click.option("--force", is_flag=True, help="Replace --map if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def diff_cmd(
    old: str, new: str, check: bool, map_out: str | None, force: bool, as_json: bool
) -> None:
    """What changed from OLD to NEW, the version bump that needs, and (--map) a proposed
    migration map of the labels."""
    old_cb, new_cb = load_codebook(old, modules="all"), load_codebook(new, modules="all")
    d = diff_codebooks(old_cb, new_cb)
    doc = d.to_dict()
    if map_out is not None:
        proposal, why = propose_map(old_cb, new_cb)
        path = _out_path(map_out, force=force)
        path.write_text(map_yaml(proposal, why, d), encoding="utf-8")
        doc["map"] = {"out": str(path), **proposal.to_dict()}
        if not as_json:
            good(f"proposed migration map written to {path}: check every entry marked CHECK")
    if as_json:
        emit_json(doc)
    else:
        info(f"{d.old_id} {d.old_version} -> {d.new_id} {d.new_version}")
        if d.old_id != d.new_id:
            warn(f"  note: the codebook ids differ ({d.old_id} vs {d.new_id})")
        info(f"  added                {', '.join(d.added) or '-'}")
        info(f"  removed              {', '.join(d.removed) or '-'}")
        info(f"  renamed              {', '.join(f'{a} -> {b}' for a, b in d.renamed) or '-'}")
        info(f"  definitions changed  {', '.join(d.definitions_changed) or '-'}")
        info(f"  values changed       {', '.join(d.values_changed) or '-'}")
        for c in d.changes:
            info(f"    [{c.bump}] {c.kind} {c.target}: {c.detail}")
        info(f"  required bump        {d.required_bump} (at least {d.minimum_version})")
        if d.version_ok:
            good(f"  version {d.new_version} is enough")
        else:
            warn(f"  version {d.new_version} is too low: use at least {d.minimum_version}")
    if check and not d.version_ok:
        fail(
            f"NEW version {d.new_version} is below the required {d.minimum_version} "
            f"({d.required_bump} change); raise `version:` in {new}",
            as_json=False,
        )


@codebook_group.command("export-qdc")
@click.argument("file", type=click.Path(path_type=str))
@click.option("--out", required=True, help="REFI-QDA codebook file to write (.qdc).")
@click.option("--modules", default="all", show_default=True, help=MODULES_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def export_qdc_cmd(file: str, out: str, modules: str, as_json: bool) -> None:
    """Export a codebook as REFI-QDA XML for ATLAS.ti, NVivo, MAXQDA, QualCoder."""
    codebook = load_codebook(file, modules=_modules(modules))
    path = write_qdc(codebook, _out_path(out))
    if as_json:
        emit_json({"out": str(path), "n_codes": len(codebook.codes), "hash": codebook.hash})
    else:
        good(f"wrote {path} ({len(codebook.codes)} codes, REFI-QDA codebook 1.0)")


@codebook_group.command("import-qdc")
@click.argument("file", type=click.Path(path_type=str))
@click.option("--out", required=True, help="Codebook YAML to write.")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def import_qdc_cmd(file: str, out: str, force: bool, as_json: bool) -> None:
    """Import a REFI-QDA codebook (.qdc) as codebook YAML (validated before writing)."""
    data, active = read_qdc_data(file)
    codebook = codebook_from_data(data, source=file, modules="all" if active is None else active)
    path = _out_path(out, force=force)
    header = f"Imported from {Path(file).name} by `annotate codebook import-qdc`."
    path.write_text(dump_yaml(data, header=header), encoding="utf-8")
    if as_json:
        emit_json({"out": str(path), "n_codes": len(codebook.codes), "hash": codebook.hash})
    else:
        good(
            f"wrote {path} ({len(codebook.codes)} codes); check it with "
            f"`annotate codebook validate {path}`"
        )


@codebook_group.command("schema")
@click.option("--out", help="Write the JSON Schema here instead of printing it.")
def schema_cmd(out: str | None) -> None:
    """Print (or write) the JSON Schema of the codebook format, for editors."""
    text = json_schema_text()
    if out:
        _out_path(out).write_text(text, encoding="utf-8")
        good(f"wrote {out}")
    else:
        click.echo(text, nl=False)


def register(main: click.Group) -> None:
    """Add this area's commands to the main group."""
    main.add_command(codebook_group)
