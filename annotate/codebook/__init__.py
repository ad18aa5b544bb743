"""annotate.codebook: the versioned, validated codebook (YAML) and its tools.

``load_codebook(path)`` reads a YAML codebook, reports every problem at once, and returns an
immutable :class:`Codebook` (docs/internals.md, "Codebook"). The tools: a printable manual
(``render``), a version diff (``diff``), migration maps between versions (``migration``, and
``propose`` to draft one from a diff), REFI-QDA codebook exchange (``refi``) and the JSON
Schema of the format (``json_schema``).
"""

from __future__ import annotations

from annotate.codebook.diff import CodebookDiff, diff_codebooks
from annotate.codebook.loader import codebook_from_data, load_codebook, parse_codebook
from annotate.codebook.migration import CodebookMap, Recode, load_map, map_from_data, parse_map
from annotate.codebook.model import (
    Code,
    Codebook,
    CodeValue,
    Example,
    Group,
    Module,
    NearMiss,
    Version,
)
from annotate.codebook.paths import default_codebook_path, migration_map_path, toy_codebook_path
from annotate.codebook.propose import map_yaml, propose_map
from annotate.codebook.refi import from_qdc, to_qdc
from annotate.codebook.render import render_html, render_markdown, write_manual
from annotate.codebook.rules import RESERVED_KEYS
from annotate.codebook.schema import json_schema

__all__ = [
    "RESERVED_KEYS",
    "Code",
    "CodeValue",
    "Codebook",
    "CodebookDiff",
    "CodebookMap",
    "Example",
    "Group",
    "Module",
    "NearMiss",
    "Recode",
    "Version",
    "codebook_from_data",
    "default_codebook_path",
    "diff_codebooks",
    "from_qdc",
    "json_schema",
    "load_codebook",
    "load_map",
    "map_from_data",
    "map_yaml",
    "migration_map_path",
    "parse_codebook",
    "parse_map",
    "propose_map",
    "render_html",
    "render_markdown",
    "to_qdc",
    "toy_codebook_path",
    "write_manual",
]
