"""The ``annotate`` command line: one thin command per library verb.

See docs/internals.md, "Command line".

The click group and its error handling live in :mod:`annotate.cli._main`; each area's commands
in ``<area>_cmd.py``. Exit codes: 0 ok, 1 a user error, 2 a usage error.
"""

from __future__ import annotations

from annotate.cli._main import main

__all__ = ["main"]
