"""CLI commands of the corpus area: ``annotate import`` and ``annotate corpus info|mask``."""

from __future__ import annotations

import textwrap
from typing import Any

import click

from annotate.cli._printer import emit_json, good, info, warn
from annotate.corpus import (
    Corpus,
    load_corpus,
    read_register,
    register_use,
    use_path,
    withdraw,
)
from annotate.errors import CorpusError, Errors
from annotate.importers import FORMATS, IMPORTERS, import_corpus


def _formats_help() -> str:
    """The formats and their options, for ``annotate import --help``."""
    values = {"list": "A,B", "mapping": "FIELD=COLUMN,...", "char": "CHAR", "bool": "true|false"}
    lines = [
        "FORMAT is one of these (case does not matter; a versioned name such as sharegpt.v1 "
        "works too; docs/corpora.md has the details):",
        "",
        "\b",
    ]
    width = max(map(len, FORMATS)) + 2
    indent = " " * (width + 2)
    for fmt, name in sorted(FORMATS.items()):
        importer = IMPORTERS[name]
        lines += textwrap.wrap(
            importer.description,
            78,
            initial_indent=f"  {fmt:<{width}}",
            subsequent_indent=indent,
        )
        lines += [
            f"{indent}-o {key}={'|'.join(spec.choices) or values.get(spec.kind, 'TEXT')}"
            for key, spec in importer.options.items()
        ]
    return "\n".join(lines)


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise CorpusError(Errors.E902.format(option=option, problem=f"'{v}' is not KEY=VALUE"))
        out[key.strip()] = val.strip()
    return out


def corpus_summary(corpus: Corpus) -> dict[str, Any]:
    """What ``annotate corpus info`` shows (also its --json document)."""
    m = corpus.manifest
    return {
        "path": str(corpus.path),
        "name": corpus.name,
        "format": m.get("format"),
        "importer_version": m.get("importer_version"),
        "licence": m.get("licence"),
        "counts": m.get("counts", {}),
        "skipped": m.get("skipped", {}),
        "repaired": m.get("repaired", {}),
        "observed": m.get("observed", {}),
        "masking": m.get("masking"),
        "sources": [
            {k: s.get(k) for k in ("name", "bytes", "sha256")} for s in m.get("sources", [])
        ],
        "tables": sorted(p.name for p in corpus.path.glob("*.parquet")),
        "consent": _consent_counts(corpus),
    }


def _consent_counts(corpus: Corpus) -> dict[str, int]:
    reg = read_register(corpus.path)
    parts = reg["participants"].values()
    return {
        "participants": len(reg["participants"]),
        "withdrawn": sum(1 for p in parts if p.get("withdrawn_at")),
        "projects_and_exports": len(reg["uses"]),
    }


def _print_summary(doc: dict[str, Any]) -> None:
    c = doc["counts"]
    info(f"corpus {doc['name']!r}  ({doc['path']})")
    info(f"  format        {doc['format']}  [{doc['importer_version']}]")
    info(f"  conversations {c.get('conversations')}")
    roles = ", ".join(f"{r} {n}" for r, n in c.get("turns_by_role", {}).items())
    info(f"  turns         {c.get('turns')}  ({roles})")
    info(f"  users         {c.get('users')}   speakers {c.get('speakers')}")
    info(f"  dates         {c.get('first_at') or '-'} .. {c.get('last_at') or '-'}")
    for part in ("skipped", "repaired", "observed"):
        items = ", ".join(f"{k} {v}" for k, v in doc[part].items()) or "none"
        info(f"  {part:<13} {items}")
    masking = doc["masking"]
    info(f"  masking       {'none' if not masking else masking.get('method')}")
    info(f"  licence       {doc['licence']}")
    info(f"  tables        {', '.join(doc['tables'])}")
    consent = doc["consent"]
    if consent["participants"] or consent["projects_and_exports"]:
        info(
            f"  consent       {consent['participants']} participants "
            f"({consent['withdrawn']} withdrawn), used by {consent['projects_and_exports']} "
            "projects/exports (`annotate corpus consent DIR`)"
        )
    for s in doc["sources"]:
        info(f"  source        {s['name']} ({s['bytes']} bytes, sha256 {str(s['sha256'])[:12]}…)")


@click.command(
    "import",
    help="Import SRC files of FORMAT into a new corpus folder (atomically).\n\n"
    + _formats_help()
    + "\n\nA role label annotate does not know is skipped and named in a warning; map it "
    "with --role LABEL=ROLE (ROLE: user, assistant, system or tool).",
)
@click.argument(
    "format",
    type=click.Choice(sorted([*FORMATS, *IMPORTERS]), case_sensitive=False),
    metavar="FORMAT",
)
@click.argument("src", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option(
    "--out", required=True, type=click.Path(path_type=str), help="Corpus folder to write."
)
@click.option("--name", help="Corpus name (default: the folder name).")
@click.option("--licence", "--license", "licence", help="The source's licence, for the manifest.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    metavar="LABEL=ROLE",
    help="Map a source role label to user, assistant, system or tool (repeatable).",
)
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN", help="csv: column map.")
@click.option("--paths", help="oasst: best|all; convokit: thread|best|all (tree policy).")
@click.option("--variant", help="hh-rlhf: chosen|rejected|both.")
@click.option("--deleted", help="oasst: skip|keep deleted messages.")
@click.option(
    "--option", "-o", "extra", multiple=True, metavar="KEY=VALUE", help="Any format option."
)
@click.option("--overwrite", is_flag=True, help="Replace an existing corpus folder.")
@click.option(
    "--user-id",
    help="Data donation: the participant id every imported conversation gets (recorded in "
    "the corpus's consent register).",
)
@click.option(
    "--append",
    is_flag=True,
    help="Add to the corpus at --out (rewritten whole, atomically) instead of a new one.",
)
@click.option("--consent-scope", help="With --user-id: what the participant consented to.")
@click.option("--consent-date", help="With --user-id: when consent was given (ISO date).")
@click.option(
    "--pseudonymise",
    "--pseudonymize",
    "pseudonymise",
    metavar="KEYFILE",
    help="Replace names, emails, phones and @handles by keyed placeholders ([PERSON_3]); "
    "KEYFILE (outside the corpus) is created when missing.",
)
@click.option(
    "--person",
    "names",
    multiple=True,
    metavar="NAME",
    help="With --pseudonymise: a person name to replace (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def import_cmd(
    format: str,
    src: tuple[str, ...],
    out: str,
    name: str | None,
    licence: str | None,
    roles: tuple[str, ...],
    mapping: tuple[str, ...],
    paths: str | None,
    variant: str | None,
    deleted: str | None,
    extra: tuple[str, ...],
    overwrite: bool,
    user_id: str | None,
    append: bool,
    consent_scope: str | None,
    consent_date: str | None,
    pseudonymise: str | None,
    names: tuple[str, ...],
    as_json: bool,
) -> None:
    options: dict[str, Any] = dict(_pairs(extra, "--option"))
    if mapping:
        options["mapping"] = _pairs(mapping, "--map")
    for key, value in (("paths", paths), ("variant", variant), ("deleted", deleted)):
        if value is not None:
            options[key] = value
    corpus = import_corpus(
        list(src),
        format,
        out=out,
        name=name,
        licence=licence,
        roles=_pairs(roles, "--role"),
        overwrite=overwrite,
        user_id=user_id,
        append=append,
        consent_scope=consent_scope,
        consent_date=consent_date,
        pseudonymise=pseudonymise,
        names=names,
        **options,
    )
    doc = corpus_summary(corpus)
    if as_json:
        emit_json(doc)
        return
    c = doc["counts"]
    verb = "the corpus now holds" if append else "imported"
    good(f"{verb} {c['conversations']} conversations, {c['turns']} turns in {corpus.path}")
    _print_summary(doc)


@click.group("corpus")
def corpus_group() -> None:
    """Inspect, mask, or withdraw a participant from a corpus folder."""


@corpus_group.command("info")
@click.argument("corpus_dir", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def info_cmd(corpus_dir: str, as_json: bool) -> None:
    """Counts of conversations, turns by role, users, dates, and what was skipped and why."""
    doc = corpus_summary(load_corpus(corpus_dir))
    if as_json:
        emit_json(doc)
    else:
        _print_summary(doc)


@corpus_group.command("mask")
@click.argument("corpus_dir", type=click.Path(path_type=str))
@click.option("--out", required=True, type=click.Path(path_type=str), help="Masked corpus folder.")
@click.option("--names/--no-names", default=None, help="Mask person names (needs spaCy NER).")
@click.option("--overwrite", is_flag=True, help="Replace an existing folder.")
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: this process; ray: Ray Data's map_batches over the row groups (scale extra).",
)
@click.option(
    "--address", help="ray: the cluster (auto, HOST:PORT or ray://HOST:10001); default: local."
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def mask_cmd(
    corpus_dir: str,
    out: str,
    names: bool | None,
    overwrite: bool,
    engine: str,
    address: str | None,
    no_progress: bool,
    as_json: bool,
) -> None:
    """Write a masked copy of a corpus (emails, URLs, phones, handles, IPs; names with NER)."""
    from annotate.nlp import mask_corpus  # spaCy loads only for this command

    masked = mask_corpus(
        load_corpus(corpus_dir),
        out,
        names=names,
        overwrite=overwrite,
        engine=engine,
        address=address,
        progress=False if (no_progress or as_json) else None,
    )
    doc = corpus_summary(masked)
    if as_json:
        emit_json(doc)
        return
    m = doc["masking"]
    counts = ", ".join(f"{k} {v}" for k, v in m["counts"].items())
    good(f"masked {m['turns_changed']} turns into {masked.path} ({counts})")


@corpus_group.command("withdraw")
@click.argument("corpus_dir", type=click.Path(path_type=str))
@click.option("--user-id", required=True, help="The participant who withdraws.")
@click.option(
    "--project",
    "projects",
    multiple=True,
    type=click.Path(path_type=str),
    help="A project using the corpus that is not in its register (repeatable).",
)
@click.option(
    "--export",
    "exports",
    multiple=True,
    type=click.Path(path_type=str),
    help="An earlier export that is not in the register (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def withdraw_cmd(
    corpus_dir: str,
    user_id: str,
    projects: tuple[str, ...],
    exports: tuple[str, ...],
    as_json: bool,
) -> None:
    """Remove a participant: conversations, user row, labels in every project, export rows.

    Projects and exports registered in the corpus's consent register (every project created
    and export written since registration existed) are cleaned without being named; name
    others with --project/--export. The withdrawal is recorded (who, when, how many rows; no
    content). Run it again after an interruption: it finishes what is left.
    """
    from annotate.store import withdraw_conversations  # the store's own withdrawal

    record = withdraw(
        corpus_dir,
        user_id,
        projects=projects,
        exports=exports,
        purge_labels=withdraw_conversations,
    )
    doc = {k: v for k, v in record.items() if k != "conversation_id_hashes"}
    if as_json:
        emit_json(doc)
        return
    good(
        f"withdrew {user_id}: {doc['conversations']} conversations, {doc['turns']} turns, "
        f"{doc['users_rows']} user-table rows"
    )
    for path, n in doc["label_events"].items():
        info(f"  labels removed  {n:>6}  {path}")
    for path, n in doc["export_rows"].items():
        info(f"  export rows     {n:>6}  {path}")
    for path in doc["not_reached"]:
        warn(f"  not reached (moved, deleted or not a project): {path}")


@corpus_group.command("consent")
@click.argument("corpus_dir", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def consent_cmd(corpus_dir: str, as_json: bool) -> None:
    """The consent register: participants, donations, withdrawals, registered projects."""
    corpus = load_corpus(corpus_dir)
    reg = read_register(corpus.path)
    if as_json:
        emit_json(reg)
        return
    parts = reg["participants"]
    info(f"consent register of {corpus.path}: {len(parts)} participants")
    for uid, p in sorted(parts.items()):
        status = f"withdrawn {p['withdrawn_at']}" if p.get("withdrawn_at") else "active"
        info(f"  {uid:<16} {len(p.get('donations', []))} donation(s)  {status}  ({p.get('scope')})")
    for w in reg["withdrawals"]:
        done = w.get("completed_at") or "NOT FINISHED: run withdraw again"
        info(f"  withdrawal of {w['user_id']} requested {w['requested_at']}, completed {done}")
    for use in reg["uses"]:
        info(f"  used by {use['kind']:<8} {use_path(corpus.path, use)}")


@corpus_group.command("register")
@click.argument("corpus_dir", type=click.Path(path_type=str))
@click.option("--project", "projects", multiple=True, type=click.Path(path_type=str))
@click.option("--export", "exports", multiple=True, type=click.Path(path_type=str))
def register_cmd(corpus_dir: str, projects: tuple[str, ...], exports: tuple[str, ...]) -> None:
    """Record projects or exports made before registration existed, for later withdrawals."""
    corpus = load_corpus(corpus_dir)
    for kind, paths in (("project", projects), ("export", exports)):
        for p in paths:
            if not register_use(corpus.path, p, kind=kind):
                raise CorpusError(
                    Errors.E114.format(path=corpus.path, problem="its consent.json is not writable")
                )
            good(f"registered {kind} {p}")


def register(main: click.Group) -> None:
    """Add this area's commands to the main group."""
    main.add_command(import_cmd)
    main.add_command(corpus_group)
