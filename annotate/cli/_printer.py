"""The one printer of the command line: tables and messages for people, JSON for machines."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import click


def _default(obj: Any) -> Any:
    """JSON for the values our tables hold (numpy scalars, timestamps, NaN as null)."""
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    return str(obj)


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def emit_json(doc: Any) -> None:
    """Print one JSON document on stdout (NaN becomes null)."""
    click.echo(json.dumps(_clean(doc), default=_default, indent=2, ensure_ascii=False))


def emit_table(df: Any, *, title: str | None = None) -> None:
    """Print a DataFrame as a plain text table."""
    if title:
        click.secho(title, bold=True)
    if df is None or len(df) == 0:
        click.echo("(none)")
        return
    click.echo(df.to_string(index=False))


def info(message: str) -> None:
    """A line for people, on stdout."""
    click.echo(message)


def good(message: str) -> None:
    click.secho(message, fg="green")


def warn(message: str) -> None:
    click.secho(message, fg="yellow", err=True)


def fail(message: str, *, as_json: bool = False, code: int = 1) -> None:
    """Print a one-line error (and a JSON error document with --json) and exit."""
    if as_json:
        emit_json({"error": message})
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)
