"""The ``annotate`` command line: one thin command per library verb (docs/internals.md).

Exit codes: 0 ok, 1 a user error (an :class:`~annotate.errors.AnnotateError`, printed as one
line), 2 a usage error (click's default). ``--json`` prints one JSON document on stdout.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import click

from annotate import __version__
from annotate.cli._printer import fail, warn
from annotate.errors import AUDIENCE, AnnotateError


class _Group(click.Group):
    """A group that turns our own errors into one clean line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        # the subcommand's own arguments (not sys.argv: the CLI may be called in-process)
        # (click >= 8.2 keeps the subcommand name in _protected_args, the rest in args)
        as_json = "--json" in [*getattr(ctx, "_protected_args", ()), *ctx.args]
        audience = AUDIENCE.set("cli")  # hints in messages: CLI commands, not Python
        try:
            return self._invoke(ctx, as_json)
        finally:
            AUDIENCE.reset(audience)

    def _invoke(self, ctx: click.Context, as_json: bool) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = super().invoke(ctx)
            except AnnotateError as exc:
                _flush(caught)
                fail(str(exc), as_json=as_json, code=exc.exit_code)
            except BrokenPipeError:
                # the reader went away (`annotate ... | head`): not an error; silence the rest
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                sys.exit(0)
            except (OSError, UnicodeDecodeError) as exc:
                _flush(caught)
                fail(f"{type(exc).__name__}: {exc}", as_json=as_json)
        _flush(caught)
        return result


def _flush(caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        warn(f"warning: {w.message}")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="annotate")
def main() -> None:
    """annotate: code human-AI dialogue corpora, measure agreement, analyse, export."""


# Each area registers its commands in its own module (explicit list, in flow order).
from annotate.cli import (  # noqa: E402
    agreement_cmd,
    calibrate_cmd,
    codebook_cmd,
    corpus_cmd,
    describe_cmd,
    export_cmd,
    llm_cmd,
    project_cmd,
    quotes_cmd,
)

for _module in (
    corpus_cmd,
    codebook_cmd,
    project_cmd,
    calibrate_cmd,
    llm_cmd,
    agreement_cmd,
    describe_cmd,
    export_cmd,
    quotes_cmd,
):
    _module.register(main)
