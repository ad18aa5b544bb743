"""CLI: ``annotate quotes DIR`` (a thin wrapper over the quote bank, annotate.export._quotes)."""

from __future__ import annotations

from pathlib import Path

import click

from annotate.cli._printer import emit_json, good, info
from annotate.errors import Errors, ExportError

SUFFIXES = {".csv": "csv", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}


def _codes(values: tuple[str, ...]) -> list[str] | None:
    """``--codes a,b --codes c`` -> ["a", "b", "c"] (None: every code that takes evidence)."""
    out = [c.strip() for v in values for c in v.split(",") if c.strip()]
    return out or None


@click.command("quotes")
@click.argument("project_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--codes",
    multiple=True,
    help="Only these codes (comma-separated, or repeat the option). Default: every code that "
    "takes evidence.",
)
@click.option(
    "--min-agreement",
    type=int,
    default=2,
    show_default=True,
    help="Words marked by at least this many coders for the same code and value (gold's "
    "spans always count).",
)
@click.option(
    "--context", type=int, default=1, show_default=True, help="Turns before each quote to show."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "md", "html"]),
    default=None,
    help="Output format (default: from the --out suffix, else md).",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file.")
@click.option("--no-mask", is_flag=True, help="Do not mask personal data in quotes and context.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (the quotes).")
def quotes_cli(project_dir, codes, min_agreement, context, fmt, out, no_mask, as_json):
    """The quote bank of DIR: per code, the words two or more coders (or gold) marked.

    Each quote comes with the turn before it, the conversation and user ids, the codebook
    version and its offsets into the corpus text; personal data is masked. CSV, Markdown or
    HTML, ready to paste. LLM coders' spans never count as human evidence.
    """
    from annotate.durable import write_file
    from annotate.export._quotes import bank_note, quote_bank, render
    from annotate.project import Project

    if not project_dir.exists():
        raise ExportError(Errors.E901.format(path=project_dir, hint="annotate project init"))
    if out is not None and not out.parent.exists():
        raise ExportError(Errors.E901.format(path=out.parent, hint=f"mkdir -p {out.parent}"))
    project = Project.open(project_dir)
    mask = not no_mask
    bank = quote_bank(
        project, codes=_codes(codes), min_agreement=min_agreement, context=context, mask=mask
    )
    if as_json:
        emit_json({"project": str(project_dir), "quotes": bank.to_dict(orient="records")})
        return
    fmt = fmt or (SUFFIXES.get(out.suffix.lower(), "md") if out is not None else "md")
    note = bank_note(project, bank, min_agreement, context, mask)
    text = render(bank, fmt, title=f"Quote bank: {project.codebook.title}", note=note)
    if out is None:
        click.echo(text, nl=False)
        return
    write_file(out, text.encode("utf-8"))
    counts = bank.groupby("code_id").size()
    info(", ".join(f"{c}: {n}" for c, n in counts.items()) or "no quote")
    good(f"{len(bank)} quote(s) written to {out} ({fmt})")


def register(main: click.Group) -> None:
    """Add this area's commands to the main group."""
    main.add_command(quotes_cli)
