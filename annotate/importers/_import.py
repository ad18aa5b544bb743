"""annotate.importers: raw dialogue files -> a corpus folder (docs/internals.md).

``IMPORTERS`` maps versioned names (``"sharegpt.v1"``) to importers; ``FORMATS`` maps the CLI
format names (``sharegpt``) to the current version. :func:`import_corpus` runs one.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from annotate import __version__
from annotate.corpus import Corpus, load_corpus, read_register, read_tables, users_table
from annotate.corpus._build import import_pool
from annotate.corpus._consent import now_iso
from annotate.corpus._donate import append_to
from annotate.durable import recover_folder
from annotate.errors import CorpusError, Errors, Warnings
from annotate.importers._base import Context, Importer, Option, RoleMap, coerce_option
from annotate.importers._chat import OPENAI, SHAREGPT
from annotate.importers._companion import PIPPA, SILLYTAVERN
from annotate.importers._convokit import CONVOKIT
from annotate.importers._csv import CSV
from annotate.importers._exports import CHATGPT_EXPORT, CLAUDE_EXPORT
from annotate.importers._hf import ARENA, HF_CHAT
from annotate.importers._hh import HH_RLHF
from annotate.importers._mathdial import MATHDIAL
from annotate.importers._oasst import OASST
from annotate.importers._prism import PRISM
from annotate.importers._pseudo import Pseudonymiser
from annotate.types import FilePath

IMPORTERS: dict[str, Importer] = {
    i.name: i
    for i in (
        OPENAI,
        SHAREGPT,
        HH_RLHF,
        OASST,
        CONVOKIT,
        CSV,
        MATHDIAL,
        HF_CHAT,
        ARENA,
        PRISM,
        CHATGPT_EXPORT,
        CLAUDE_EXPORT,
        PIPPA,
        SILLYTAVERN,
    )
}
#: CLI format name -> registered (versioned) name
FORMATS: dict[str, str] = {i.format: i.name for i in IMPORTERS.values()}

DEFAULT_LICENCE = "not stated: record the source's licence with licence=... (CLI --licence)"

__all__ = ["FORMATS", "IMPORTERS", "Importer", "Option", "get_importer", "import_corpus"]


def get_importer(format: str) -> Importer:
    """The importer for a CLI format name (``sharegpt``) or a versioned name (``sharegpt.v1``)."""
    key = format.strip().lower() if isinstance(format, str) else format
    name = FORMATS.get(key, key)
    if name not in IMPORTERS:
        available = (
            ", ".join(sorted(FORMATS)) + " (or versioned: " + ", ".join(sorted(IMPORTERS)) + ")"
        )
        raise CorpusError(Errors.E102.format(format=format, available=available))
    return IMPORTERS[name]


_GLOB = re.compile(r"[*?\[]")
#: the files of a folder of shards that are read (hidden files, READMEs, checksums are not)
SHARD_SUFFIXES = (".parquet", ".jsonl", ".json", ".gz", ".ndjson", ".csv", ".tsv", ".zip")


def _sources(source: FilePath | Sequence[FilePath], importer: Importer) -> list[Path]:
    """The files to read: each source as given, a glob's matches, a folder's data files."""
    items = [source] if isinstance(source, str | os.PathLike) else list(source)
    if not items:
        raise CorpusError(Errors.E101.format(path="(none)", hint="give at least one source file"))
    paths: list[Path] = []
    want_dir = importer.expects == "folder"
    for item in items:
        p = Path(item)
        if not p.exists() and _GLOB.search(str(item)):
            found = sorted(Path(x) for x in glob.glob(str(item), recursive=True))
            found = [f for f in found if f.is_dir() == want_dir]
            if not found:
                raise CorpusError(
                    Errors.E101.format(path=p, hint="the pattern matched no file; quote it")
                )
            paths += found
            continue
        if not p.exists():
            raise CorpusError(Errors.E101.format(path=p, hint=f"resolved to {p.resolve()}"))
        if p.is_dir() and not want_dir:
            shards = shard_files(p)
            if not shards:
                raise CorpusError(
                    Errors.E116.format(
                        path=p,
                        kind="folder without data files",
                        format=importer.format,
                        expected="a file, several files, a glob, or a folder of "
                        + "/".join(SHARD_SUFFIXES)
                        + " files",
                    )
                )
            paths += shards
            continue
        if p.is_dir() != want_dir:
            raise CorpusError(
                Errors.E116.format(
                    path=p,
                    kind="folder" if p.is_dir() else "file",
                    format=importer.format,
                    expected="a corpus folder" if want_dir else "a file (or several files)",
                )
            )
        paths.append(p)
    return list(dict.fromkeys(paths))  # a file given twice is read once


def shard_files(folder: Path) -> list[Path]:
    """The data files under ``folder`` (recursively, sorted; hidden files and folders left out)."""
    out = []
    for f in sorted(folder.rglob("*")):
        rel = f.relative_to(folder).parts
        if any(part.startswith(".") for part in rel) or not f.is_file():
            continue
        if f.name.lower().endswith(SHARD_SUFFIXES):
            out.append(f)
    return out


def _describe(path: Path) -> list[dict[str, Any]]:
    files = sorted(f for f in path.iterdir() if f.is_file()) if path.is_dir() else [path]
    out = []
    for f in files:
        with open(f, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        # the file's name, never its absolute path: a manifest travels with the corpus and
        # must not publish the importing machine's folder layout
        out.append({"name": f.name, "bytes": f.stat().st_size, "sha256": digest})
    return out


def import_corpus(
    source: FilePath | Sequence[FilePath],
    format: str,
    *,
    out: FilePath,
    name: str | None = None,
    licence: str | None = None,
    roles: Mapping[str, str] | None = None,
    overwrite: bool = False,
    user_id: str | None = None,
    append: bool = False,
    consent_scope: str | None = None,
    consent_date: str | None = None,
    pseudonymise: FilePath | None = None,
    names: Sequence[str] = (),
    **options: Any,
) -> Corpus:
    """Import raw dialogue files into a new corpus folder (or add them to one).

    Parameters
    ----------
    source
        A file, several files, a glob (``"data/train-*.parquet"``) or a folder of shards (its
        ``.parquet``/``.jsonl``/``.json``/``.gz`` files, sorted); a folder for ``convokit``.
    format
        A CLI format name (``openai``, ``sharegpt``, ``hh-rlhf``, ``oasst``, ``convokit``,
        ``csv``, ``mathdial``, ``hf-chat``, ``arena``, ``prism``, ``chatgpt-export``,
        ``claude-export``, ``pippa``, ``sillytavern``; any case) or a versioned importer name.
    out
        The corpus folder to write (atomically: a failed import leaves nothing behind).
    name
        The corpus name in the manifest (default: the folder name).
    licence
        The source's licence, recorded in the manifest.
    roles
        Extra role labels, ``{"label": "user" | "assistant" | "system" | "tool"}``.
    overwrite
        Replace an existing ``out`` folder (its consent register is kept).
    user_id
        A participant id (data donation): every imported conversation gets it as ``user_id``,
        and the donation is recorded in the corpus's consent register.
    append
        Add the conversations to the corpus at ``out`` (created when missing): the corpus is
        rewritten whole in a temp folder and swapped in, so it is replaced whole or not at all.
        Ids that clash with the corpus's get ``~2`` (``repaired.duplicate_conversation_id``).
    consent_scope, consent_date
        What the participant consented to, and when (ISO date); recorded with ``user_id``.
    pseudonymise
        A key file kept outside the corpus (created with a new random key when missing):
        person names (``names``), emails, phone numbers and @handles in texts and meta become
        consistent placeholders (``[PERSON_3]``, ``[EMAIL_1]``, ...), the same for the same
        value and key across imports. See :mod:`annotate.importers._pseudo`.
    names
        Person names to replace when pseudonymising (e.g. the participant's and their
        contacts'); names not listed are not found (no name recogniser runs at import).
    **options
        Format options (see ``IMPORTERS[name].options`` and docs/corpora.md).

    Returns
    -------
    Corpus
        The corpus just written.

    Raises
    ------
    CorpusError
        For a bad source, format, option, or when nothing could be imported; E118 when
        ``user_id`` withdrew from this corpus before. Per-record problems are skipped, counted
        in ``manifest.json`` and reported in one warning (W101).
    """
    importer = get_importer(format)
    opts = {k: spec.default for k, spec in importer.options.items()}
    for key, value in options.items():
        opts[key] = coerce_option(importer, key, value)
    paths = _sources(source, importer)
    out = Path(out)
    user_id = _participant(user_id)
    base = _existing(out) if append else None
    register = read_register(out) if (base is not None or overwrite) and out.is_dir() else None
    entry = (register or {}).get("participants", {}).get(user_id or "")
    if entry and entry.get("withdrawn_at"):
        raise CorpusError(Errors.E118.format(user_id=user_id, when=entry["withdrawn_at"]))
    ctx = Context(importer, opts, RoleMap(roles))
    ctx.user_id = user_id
    if pseudonymise is not None:
        ctx.pseudo = Pseudonymiser.open(pseudonymise, names=names, corpus=out)
    if base is not None:
        ctx.builder.reserve(base[1]["conversation_id"].to_pylist(), base[0]["turn_id"].to_pylist())
    # spilled runs (column-wise importers) live beside the output, named like the temp folders
    # that recover_folder removes once their process is gone: a killed import leaves nothing
    parent = out.parent.resolve()
    ctx.builder.spill_dir = parent / f".{out.name}.tmp-{os.getpid()}-runs-{os.urandom(4).hex()}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with import_pool():
            return _run(importer, paths, ctx, out, opts, roles, name, licence, user_id, base,
                        register, consent_scope, consent_date, overwrite)  # fmt: skip
    finally:
        ctx.builder.discard()


def _run(importer, paths, ctx, out, opts, roles, name, licence, user_id, base, register,
         consent_scope, consent_date, overwrite) -> Corpus:  # fmt: skip
    """Read the sources and write (or append to) the corpus."""
    try:
        importer.read(paths, ctx)
    except UnicodeDecodeError as exc:
        raise CorpusError(
            Errors.E106.format(
                path=", ".join(map(str, paths)),
                problem="is not UTF-8 text",
                where=exc,
                hint="Convert it to UTF-8 first.",
            )
        ) from exc
    b, tally = ctx.builder, ctx.tally
    src_names = ", ".join(p.name for p in paths)
    if b.n_conversations == 0 and not b.has_spilled:
        reason = tally.summary() or "the source holds no records"
        raise CorpusError(
            Errors.E105.format(sources=src_names, format=importer.format, reason=reason)
        )
    if tally.n_problems:
        warnings.warn(
            Warnings.W101.format(
                n_conversations=b.n_conversations,
                n_turns=b.n_turns,
                sources=src_names,
                n_problems=tally.n_problems,
                summary=tally.summary(),
            ),
            stacklevel=2,
        )
    sources = [d for p in paths for d in _describe(p)]
    options_doc = {**opts, "roles": dict(roles or {})}
    if user_id:
        options_doc["user_id"] = user_id
    if ctx.pseudo is not None:
        options_doc["pseudonymise"] = ctx.pseudo.describe()
    manifest = {
        "name": name or out.name,
        "format": importer.name,
        "format_name": importer.format,
        "importer_version": f"{importer.name} (annotate {__version__})",
        "sources": sources,
        "options": options_doc,
        "licence": licence or DEFAULT_LICENCE,
        **tally.to_manifest(),
        "source_meta": ctx.source_meta,
        "masking": ctx.pseudo.manifest() if ctx.pseudo is not None else None,
    }
    users = users_table(ctx.users) if ctx.users else None
    donation = None
    if user_id:
        donation = {
            "added_at": now_iso(),
            "format": importer.name,
            "conversations": b.n_conversations,
            "turns": b.n_turns,
            "sources": [{"name": d["name"], "sha256": d["sha256"]} for d in sources],
        }
    if ctx.pseudo is not None:
        ctx.pseudo.save()
    if base is None:
        b.write(out, manifest, users=users, register=register, overwrite=overwrite,
                donation=(user_id, donation, consent_scope, consent_date))  # fmt: skip
    else:
        fields = b.fields_table()
        turns, convs = b.plain_tables()
        append_to(out, turns, convs, manifest, users=users, fields=fields,
                  donation=(user_id, donation, consent_scope, consent_date))  # fmt: skip
    return load_corpus(out)


def _participant(user_id: Any) -> str | None:
    if user_id is None:
        return None
    if not isinstance(user_id, str) or not user_id.strip() or user_id != user_id.strip():
        raise CorpusError(
            Errors.E104.format(
                option="user_id",
                format="(any)",
                value=user_id,
                problem="a participant id is a non-empty text without surrounding spaces",
            )
        )
    return user_id


def _existing(out: Path) -> tuple[Any, Any] | None:
    """The tables of the corpus at ``out`` to append to (None when there is none yet)."""
    recover_folder(out.parent.resolve() / out.name)
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return None
    load_corpus(out)  # validates (E111)
    return read_tables(out)
