"""The declared schema of a codebook file (pydantic v2, unknown keys refused).

These models check the *shape* of each part (types, required fields, allowed words); the rules
between parts (unique ids, declared groups, levels and values, keys) live in ``rules.py`` so that
every problem of a file is reported at once. ``json_schema()`` publishes this shape as JSON
Schema (shipped as ``codebooks/schema/codebook.schema.json``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

#: ids of codebooks, codes, groups and modules
ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
#: a value or label: YAML numbers are accepted and read as their text (``1`` -> ``"1"``)
Scalar = Annotated[
    Text,
    BeforeValidator(
        lambda v: str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
    ),
    WithJsonSchema({"anyOf": [{"type": "string", "minLength": 1}, {"type": "number"}]}),
]
Role = Literal["user", "assistant", "system", "tool"]
#: whether a code takes evidence spans (words of the turn that justify it)
Evidence = Literal["required", "optional", "none"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class GroupSpec(_Strict):
    """A declared group tag."""

    id: Id
    label: Text
    kind: Literal["need", "valence", "dilemma", "function", "other"]
    description: Text | None = None


class ModuleSpec(_Strict):
    """An optional module of codes a study can switch on."""

    id: Id
    label: Text
    description: Text | None = None
    default: bool = Field(False, description="load this module unless the study excludes it")


class ExampleSpec(_Strict):
    """A positive example: the turn text, optionally with the turn before it."""

    text: Text
    context: Text | None = Field(None, description="the turn before (for context)")


class NearMissSpec(_Strict):
    """A negative example and why it is not the code."""

    text: Text
    why: Text


class ValueSpec(_Strict):
    """One value of a code (numbers in YAML become strings)."""

    value: Scalar
    label: Scalar
    definition: Text | None = None


class CodeSpec(_Strict):
    """One code."""

    id: Id = Field(description="unique code id, stored in every label event")
    label: Text = Field(description="short name shown to coders")
    unit: Literal["turn", "conversation"] = Field(description="what one label describes")
    applies_to: list[Role] | None = Field(
        None, description="roles the code applies to; conversation codes default to both"
    )
    level: Literal["binary", "nominal", "ordinal", "interval", "set"] = Field(
        description="level of measurement; decides the values and the agreement metric"
    )
    group: list[Id] = Field(default_factory=list, description="declared group ids")
    module: Id | None = Field(None, description="declared module id; none = core code")
    definition: Text = Field(description="what the code means")
    when_to_use: Text | None = Field(None, description="inclusion criteria")
    when_not_to_use: Text | None = Field(
        None, description="exclusion criteria, naming the neighbouring code to use instead"
    )
    examples: list[ExampleSpec] | None = Field(None, min_length=1, description="positive examples")
    near_misses: list[NearMissSpec] | None = Field(
        None, min_length=1, description="negative examples, each with why it is not the code"
    )
    cues: list[Any] | None = Field(
        None, description="phrases (strings) or spaCy token patterns (lists of dicts)"
    )
    key: Annotated[str, StringConstraints(min_length=1, max_length=1)] | None = Field(
        None, description="one-character shortcut; not j k n p u ? or 1-9"
    )
    evidence: Evidence = Field(
        "none",
        description="evidence spans (the words of the turn that justify the code; turn codes "
        "only): required (the widget saves the code only with a span), optional, or none",
    )
    values: list[ValueSpec] | None = Field(
        None,
        description="required except for binary codes (default: 0 absent, 1 present); "
        "ordinal low -> high",
    )


class CodebookSpec(_Strict):
    """A codebook file."""

    model_config = ConfigDict(
        title="annotate codebook",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    id: Id
    version: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        description="semantic version MAJOR.MINOR.PATCH"
    )
    title: Text
    description: Text | None = None
    groups: list[GroupSpec] = Field(default_factory=list)
    modules: list[ModuleSpec] = Field(default_factory=list)
    codes: list[CodeSpec] = Field(min_length=1)


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a codebook file, generated from the model.

    Editors (VS Code's YAML extension, PyCharm) use it for completion and checks: add
    ``# yaml-language-server: $schema=<path>/codebook.schema.json`` as the first line of a
    codebook. The rules between parts (unique ids, declared groups, values per level, keys) are
    beyond JSON Schema; ``annotate codebook validate`` checks them.
    """
    return CodebookSpec.model_json_schema()


def json_schema_text() -> str:
    """The JSON Schema as the text shipped in ``codebooks/schema/codebook.schema.json``."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
