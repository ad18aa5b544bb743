"""Content checks of a valid codebook: what a good coding manual has, beyond the format.

The loader refuses what is *wrong*; these notes point at what is *thin*: a code without
inclusion or exclusion criteria, an exclusion that names no neighbouring code, fewer than two
examples or no near miss, a value without a definition, or a reference to a code id that does
not exist (a typo, or a code that was renamed). ``annotate codebook validate`` prints them;
``--strict`` fails on them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from annotate.codebook.model import Code, Codebook

#: field names that look like code ids in guidance text ("see when_not_to_use")
FIELD_WORDS = frozenset(
    {"when_to_use", "when_not_to_use", "near_misses", "applies_to", "code_id", "value_ids"}
)
_WORD = re.compile(r"(?<![\w.-])([a-z][a-z0-9]*_[a-z0-9_]*[a-z0-9])(?![\w-])")


@dataclass(frozen=True, slots=True)
class Note:
    """One content note: the code (or ``codebook``), the field, and what is thin."""

    code_id: str
    field: str
    note: str

    def __str__(self) -> str:
        return f"{self.code_id}.{self.field}: {self.note}"


def lint_codebook(codebook: Codebook) -> tuple[Note, ...]:
    """Content notes for ``codebook`` (load it with ``modules="all"`` to check every code)."""
    notes: list[Note] = []
    ids = set(codebook.code_ids)
    prefixes = {i.split("_", 1)[0] for i in ids if "_" in i}
    known = ids | {g.id for g in codebook.groups} | {m.id for m in codebook.modules} | FIELD_WORDS
    for code in codebook.codes:
        notes += _guidance(code, codebook)
        for field in ("definition", "when_to_use", "when_not_to_use"):
            for word in _WORD.findall(getattr(code, field) or ""):
                if word.split("_", 1)[0] in prefixes and word not in known:
                    notes.append(Note(code.id, field, f"mentions '{word}', which is not a code id"))
    return tuple(notes)


def _guidance(code: Code, codebook: Codebook) -> list[Note]:
    out: list[Note] = []
    if not code.when_to_use:
        out.append(Note(code.id, "when_to_use", "missing (inclusion criteria)"))
    if not code.when_not_to_use:
        out.append(Note(code.id, "when_not_to_use", "missing (exclusion criteria)"))
    else:
        text = code.when_not_to_use.lower()
        others = [c for c in codebook.codes if c.id != code.id]
        if others and not any(o.id in text or o.label.lower() in text for o in others):
            out.append(
                Note(code.id, "when_not_to_use", "names no neighbouring code to use instead")
            )
    if len(code.examples) < 2:
        out.append(Note(code.id, "examples", f"{len(code.examples)} example(s); give at least 2"))
    if not code.near_misses:
        out.append(Note(code.id, "near_misses", "none; give at least 1"))
    if code.level != "binary":
        bare = [v.value for v in code.values if not v.definition]
        if bare and code.level != "interval":
            out.append(Note(code.id, "values", f"no definition for {', '.join(bare)}"))
    return out
