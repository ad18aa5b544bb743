"""CLI commands of the codebook area (registered on the main group by annotate.cli)."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:
    """Add this area's commands to the main group."""
