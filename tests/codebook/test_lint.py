"""Content notes: thin guidance, missing neighbours, references to codes that do not exist."""

from __future__ import annotations

from pathlib import Path

from annotate.codebook import load_codebook, parse_codebook
from annotate.codebook.lint import lint_codebook

THIN = """\
id: thin
version: 1.0.0
title: Thin
codes:
  - id: ai_good
    label: Good
    unit: turn
    applies_to: [assistant]
    level: binary
    definition: d
    when_to_use: w
    when_not_to_use: Not for x; use ai_thin (Thin) instead.
    examples: [{text: a}, {text: b}]
    near_misses: [{text: c, why: d}]
  - id: ai_thin
    label: Thin
    unit: turn
    applies_to: [assistant]
    level: nominal
    definition: Unlike ai_god, see when_not_to_use.
    when_not_to_use: Not for anything else.
    examples: [{text: a}]
    values:
      - {value: a, label: A, definition: the a}
      - {value: b, label: B}
"""


def test_lint_notes_thin_guidance() -> None:
    notes = {str(n) for n in lint_codebook(parse_codebook(THIN))}
    assert notes == {
        "ai_thin.when_to_use: missing (inclusion criteria)",
        "ai_thin.when_not_to_use: names no neighbouring code to use instead",
        "ai_thin.examples: 1 example(s); give at least 2",
        "ai_thin.near_misses: none; give at least 1",
        "ai_thin.values: no definition for b",
        "ai_thin.definition: mentions 'ai_god', which is not a code id",
    }


def test_lint_toy_codebook_is_clean(toy_path: Path) -> None:
    assert lint_codebook(load_codebook(toy_path, modules="all")) == ()
