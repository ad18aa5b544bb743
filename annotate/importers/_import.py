"""annotate.importers: raw dialogue files -> a corpus folder (docs/internals.md).

``IMPORTERS`` maps versioned names (``"sharegpt.v1"``) to importers; ``FORMATS`` maps the CLI
format names (``sharegpt``) to the current version. :func:`import_corpus` runs one.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from annotate import __version__
from annotate.corpus import Corpus, atomic_folder, load_corpus, write_tables
from annotate.errors import CorpusError, Errors, Warnings
from annotate.importers._base import Context, Importer, Option, RoleMap, coerce_option
from annotate.importers._chat import OPENAI, SHAREGPT
from annotate.importers._convokit import CONVOKIT
from annotate.importers._csv import CSV
from annotate.importers._hh import HH_RLHF
from annotate.importers._mathdial import MATHDIAL
from annotate.importers._oasst import OASST
from annotate.types import FilePath

IMPORTERS: dict[str, Importer] = {
    i.name: i for i in (OPENAI, SHAREGPT, HH_RLHF, OASST, CONVOKIT, CSV, MATHDIAL)
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


def _sources(source: FilePath | Sequence[FilePath], importer: Importer) -> list[Path]:
    items = [source] if isinstance(source, str | os.PathLike) else list(source)
    if not items:
        raise CorpusError(Errors.E101.format(path="(none)", hint="give at least one source file"))
    paths = []
    for item in items:
        p = Path(item)
        if not p.exists():
            raise CorpusError(Errors.E101.format(path=p, hint=f"resolved to {p.resolve()}"))
        want_dir = importer.expects == "folder"
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
    return paths


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
    **options: Any,
) -> Corpus:
    """Import raw dialogue files into a new corpus folder.

    Parameters
    ----------
    source
        A file (or several, or a folder for ``convokit``).
    format
        A CLI format name (``openai``, ``sharegpt``, ``hh-rlhf``, ``oasst``, ``convokit``,
        ``csv``, ``mathdial``) or a versioned importer name (``sharegpt.v1``).
    out
        The corpus folder to write (atomically: a failed import leaves nothing behind).
    name
        The corpus name in the manifest (default: the folder name).
    licence
        The source's licence, recorded in the manifest.
    roles
        Extra role labels, ``{"label": "user" | "assistant" | "system" | "tool"}``.
    overwrite
        Replace an existing ``out`` folder.
    **options
        Format options (see ``IMPORTERS[name].options`` and README.md, section Corpora).

    Returns
    -------
    Corpus
        The corpus just written.

    Raises
    ------
    CorpusError
        For a bad source, format, option, or when nothing could be imported. Per-record problems
        are skipped, counted in ``manifest.json`` and reported in one warning (W101).
    """
    importer = get_importer(format)
    opts = {k: spec.default for k, spec in importer.options.items()}
    for key, value in options.items():
        opts[key] = coerce_option(importer, key, value)
    paths = _sources(source, importer)
    ctx = Context(importer, opts, RoleMap(roles))
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
    if b.n_conversations == 0:
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
    out = Path(out)
    manifest = {
        "name": name or out.name,
        "format": importer.name,
        "format_name": importer.format,
        "importer_version": f"{importer.name} (annotate {__version__})",
        "sources": [d for p in paths for d in _describe(p)],
        "options": {**opts, "roles": dict(roles or {})},
        "licence": licence or DEFAULT_LICENCE,
        **tally.to_manifest(),
        "source_meta": ctx.source_meta,
        "masking": None,
    }
    turns, convs, order = b.tables()
    atomic_folder(
        out, lambda tmp: write_tables(tmp, turns, convs, manifest, order), overwrite=overwrite
    )
    return load_corpus(out)
