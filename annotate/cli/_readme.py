"""The README's command table, generated from the click group (``make docs``).

Every command of ``annotate.cli.main`` (walked recursively; groups contribute their
subcommands) becomes one row: the usage line and the first paragraph of its help. The README
holds the table between ``<!-- cli-table -->`` and ``<!-- /cli-table -->``;
``tests/test_docs.py`` checks that it is current.

Usage::

    python -m annotate.cli._readme                    # print the table
    python -m annotate.cli._readme --write README.md  # replace the table in README.md
    python -m annotate.cli._readme --check README.md  # exit 1 when README.md is stale
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from annotate.cli import main

START, END = "<!-- cli-table -->", "<!-- /cli-table -->"
_BLOCK = re.compile(re.escape(START) + r"\n.*?" + re.escape(END), re.DOTALL)


def iter_commands(
    group: click.Command = main, name: str = "annotate"
) -> Iterator[tuple[click.Context, click.Command]]:
    """Yield (context, command) for every leaf command under ``group``, in click's order."""
    ctx = click.Context(group, info_name=name)
    yield from _walk(group, ctx)


def _walk(cmd: click.Command, ctx: click.Context) -> Iterator[tuple[click.Context, click.Command]]:
    """Depth-first walk of a click command tree; hidden commands are left out."""
    if isinstance(cmd, click.Group):
        for sub_name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, sub_name)
            if sub is None or sub.hidden:
                continue
            yield from _walk(sub, click.Context(sub, info_name=sub_name, parent=ctx))
    else:
        yield ctx, cmd


def command_names(group: click.Command = main) -> list[str]:
    """Full names of every command and group, e.g. ``annotate project init``."""
    names: set[str] = set()
    for ctx, _cmd in iter_commands(group):
        words = ctx.command_path.split()
        names.update(" ".join(words[:i]) for i in range(2, len(words) + 1))
    return sorted(names)


def usage(ctx: click.Context, cmd: click.Command) -> str:
    """The usage line without ``Usage:``, e.g. ``annotate project status [OPTIONS] DIR``."""
    return " ".join([ctx.command_path, *cmd.collect_usage_pieces(ctx)])


def summary(cmd: click.Command) -> str:
    """The first paragraph of a command's help, on one line (click's ``\\f`` cuts it)."""
    text = inspect.cleandoc(cmd.help or cmd.short_help or "").split("\f")[0]
    first = text.strip().split("\n\n")[0]
    return " ".join(first.replace("\b", "").split())


def _cell(text: str) -> str:
    """Escape a Markdown table cell."""
    return text.replace("|", "\\|")


def render_table(group: click.Command = main) -> str:
    """The Markdown table of every command: usage line and what it does."""
    rows = ["| command | what it does |", "|---|---|"]
    for ctx, cmd in iter_commands(group):
        rows.append(f"| `{_cell(usage(ctx, cmd))}` | {_cell(summary(cmd))} |")
    return "\n".join(rows)


def render_block(group: click.Command = main) -> str:
    """The table between its markers, as the README holds it."""
    return f"{START}\n{render_table(group)}\n{END}"


def readme_table(text: str) -> str | None:
    """The marked block of a README's text (None when the markers are missing)."""
    found = _BLOCK.search(text)
    return found.group(0) if found else None


def update(text: str, group: click.Command = main) -> str:
    """``text`` with its marked block replaced by the current table."""
    if readme_table(text) is None:
        raise SystemExit(f"no {START} ... {END} block found")
    return _BLOCK.sub(lambda _m: render_block(group), text, count=1)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m annotate.cli._readme", description=__doc__)
    parser.add_argument("--write", metavar="README", help="replace the table in this file")
    parser.add_argument("--check", metavar="README", help="exit 1 when the table is stale")
    args = parser.parse_args(argv)
    if args.write:
        path = Path(args.write)
        old = path.read_text(encoding="utf-8")
        new = update(old)
        if new != old:
            path.write_text(new, encoding="utf-8")
        print(f"{path}: CLI table {'updated' if new != old else 'already current'}")
        return 0
    if args.check:
        text = Path(args.check).read_text(encoding="utf-8")
        if readme_table(text) != render_block():
            print(f"{args.check}: CLI table is stale; run `make docs`", file=sys.stderr)
            return 1
        return 0
    print(render_table())
    return 0


if __name__ == "__main__":
    sys.exit(_main())
