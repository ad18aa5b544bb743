"""The parsed, immutable codebook: frozen dataclasses built by the loader.

Nothing here imports pydantic or yaml: the loader validates a file and builds these objects,
and every other part of annotate works with them only.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotate.errors import CodebookError, Errors

SEMVER_RE = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)


class Version(str):
    """A semantic version string (``"1.2.0"``) that also knows its parts.

    It *is* a ``str`` (so it goes into label events and tables unchanged) with ``major``,
    ``minor``, ``patch``, ``prerelease`` and ``key`` (a tuple that sorts by semver precedence).
    Use ``a.key < b.key`` to compare versions; ``<`` on the strings themselves stays textual.
    """

    major: int
    minor: int
    patch: int
    prerelease: str | None

    def __new__(cls, text: str) -> Version:
        match = SEMVER_RE.fullmatch(str(text))
        if match is None:
            raise ValueError(f"'{text}' is not a semantic version MAJOR.MINOR.PATCH such as 1.0.0")
        obj = super().__new__(cls, str(text))
        obj.major, obj.minor, obj.patch = (int(match.group(i)) for i in (1, 2, 3))
        obj.prerelease = match.group(4)
        return obj

    @property
    def key(self) -> tuple[Any, ...]:
        """Sort key by semver precedence (a pre-release sorts before its release)."""
        pre: tuple[Any, ...] = (1,)
        if self.prerelease:
            parts = self.prerelease.split(".")
            pre = (0, *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts))
        return (self.major, self.minor, self.patch, pre)


@dataclass(frozen=True, slots=True)
class CodeValue:
    """One value of a code: ``value`` (the string stored in label events), label, definition."""

    value: str
    label: str
    definition: str | None = None


@dataclass(frozen=True, slots=True)
class Example:
    """A positive example: the turn ``text`` and optionally the turn before (``context``)."""

    text: str
    context: str | None = None


@dataclass(frozen=True, slots=True)
class NearMiss:
    """A negative example: ``text`` that looks like the code but is not, and ``why``."""

    text: str
    why: str


@dataclass(frozen=True, slots=True)
class Group:
    """A declared group tag (a need, a valence, a dilemma, a function …)."""

    id: str
    label: str
    kind: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Module:
    """An optional module a study can switch on; ``default`` modules load unless excluded."""

    id: str
    label: str
    description: str | None = None
    default: bool = False


@dataclass(frozen=True, slots=True)
class Code:
    """One code of the codebook (see docs/internals.md, "Codebook")."""

    id: str
    label: str
    unit: str
    applies_to: tuple[str, ...]
    level: str
    values: tuple[CodeValue, ...]
    groups: tuple[str, ...]
    definition: str
    when_to_use: str | None = None
    when_not_to_use: str | None = None
    examples: tuple[Example, ...] = ()
    near_misses: tuple[NearMiss, ...] = ()
    #: phrases (str) or spaCy token patterns (tuple of dicts); for highlighting only
    cues: tuple[Any, ...] = field(default=(), hash=False)
    key: str | None = None
    module: str | None = None
    #: evidence spans: ``required`` (saved only with a span of the turn's text that justifies
    #: it), ``optional`` or ``none`` (the code takes no span); turn codes only
    evidence: str = "none"
    #: the codebook id, for error messages
    codebook_id: str = field(default="", repr=False, compare=False)

    @property
    def value_ids(self) -> tuple[str, ...]:
        """The value strings in file order (ordinal: low -> high)."""
        return tuple(v.value for v in self.values)

    @property
    def absent_value(self) -> str:
        """Binary codes: the value meaning absent (``value_ids[0]``)."""
        self._require_binary("absent_value")
        return self.values[0].value

    @property
    def present_value(self) -> str:
        """Binary codes: the value meaning present (``value_ids[1]``)."""
        self._require_binary("present_value")
        return self.values[1].value

    def requires_evidence(self, value: str | None) -> bool:
        """Whether saving ``value`` needs an evidence span: the code's ``evidence`` is
        ``required`` and the value says the code applies (not a binary code's absent value, not
        a set code's empty set, not a clear)."""
        if self.evidence != "required" or value is None:
            return False
        if self.level == "binary":
            return bool(value != self.values[0].value)
        return not (self.level == "set" and value == "[]")

    def _require_binary(self, what: str) -> None:
        if self.level != "binary":
            raise CodebookError(Errors.E210.format(code_id=self.id, level=self.level, what=what))

    def value(self, value_id: str) -> CodeValue:
        """The :class:`CodeValue` of ``value_id`` (CodebookError listing the values if unknown)."""
        for v in self.values:
            if v.value == value_id:
                return v
        self.check_value(value_id)  # raises with the allowed values
        raise AssertionError("unreachable")  # pragma: no cover

    def encode_set(self, value_ids: Any) -> str:
        """Set codes: the canonical stored value for some value ids: ``'["a","c"]'``.

        Parameters
        ----------
        value_ids
            An iterable of value ids of this code (any order, no duplicates needed).
        """
        text = json.dumps(sorted(set(value_ids)), separators=(",", ":"), ensure_ascii=False)
        self.check_value(text)
        return text

    def check_value(self, value: str) -> None:
        """Raise :class:`CodebookError` unless ``value`` is an allowed stored value.

        Binary, nominal, ordinal and interval codes take one of :attr:`value_ids` exactly.
        Set codes take a JSON list of value ids, sorted and without duplicates, written without
        spaces (``'["a","c"]'``; ``'[]'`` is a real empty answer): use :meth:`encode_set`.
        """
        allowed = ", ".join(self.value_ids)
        if self.level != "set":
            if isinstance(value, str) and value in self.value_ids:
                return
            hint = "Values are strings in label events." if not isinstance(value, str) else ""
            raise CodebookError(
                Errors.E204.format(
                    value=value, code_id=self.id, level=self.level, allowed=allowed, hint=hint
                )
            )
        hint = (
            "Set codes store a JSON list of value ids, sorted, without duplicates or spaces, "
            "e.g. '[\"" + '","'.join(self.value_ids[:2]) + "\"]'; use code.encode_set(ids)."
        )
        items = _json_list(value)
        if (
            items is None
            or any(i not in self.value_ids for i in items)
            or items != sorted(set(items))
            or value != json.dumps(items, separators=(",", ":"), ensure_ascii=False)
        ):
            raise CodebookError(
                Errors.E204.format(
                    value=value, code_id=self.id, level=self.level, allowed=allowed, hint=hint
                )
            )


def _json_list(value: Any) -> list[str] | None:
    if not isinstance(value, str):
        return None
    try:
        items = json.loads(value)
    except ValueError:
        return None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        return None
    return items


@dataclass(frozen=True, slots=True)
class Codebook:
    """A validated, immutable codebook (see docs/internals.md, "Codebook").

    Build one with :func:`annotate.codebook.load_codebook`. ``hash`` is the sha256 of the
    canonical JSON of the validated content (with the selected modules), so whitespace, key
    order and comments in the file do not change it, and any change of content does.
    """

    id: str
    version: Version
    title: str
    description: str | None
    groups: tuple[Group, ...]
    modules: tuple[Module, ...]
    codes: tuple[Code, ...]
    #: the modules whose codes are loaded (core codes are always loaded)
    active_modules: tuple[str, ...]
    hash: str
    path: Path | None = field(default=None, compare=False)
    #: the canonical JSON text the hash is computed from (sha256 of its UTF-8 bytes)
    canonical: str = field(default="{}", repr=False, compare=False)

    @property
    def code_ids(self) -> tuple[str, ...]:
        """Code ids in file order."""
        return tuple(c.id for c in self.codes)

    def code(self, code_id: str) -> Code:
        """The code ``code_id``; :class:`CodebookError` naming the available ids if unknown."""
        for c in self.codes:
            if c.id == code_id:
                return c
        raise CodebookError(
            Errors.E203.format(
                code_id=code_id,
                codebook_id=self.id,
                version=self.version,
                available=", ".join(self.code_ids),
            )
        )

    def __contains__(self, code_id: object) -> bool:
        return any(c.id == code_id for c in self.codes)

    def codes_for(self, unit: str, role: str | None = None) -> tuple[Code, ...]:
        """Codes of ``unit`` (``"turn"`` or ``"conversation"``) that apply to ``role``.

        ``role=None`` returns every code of the unit. Unknown units or roles raise
        :class:`CodebookError` (a typo would otherwise silently return no codes).
        """
        _check_choice("unit", unit, ("turn", "conversation"))
        if role is not None:
            _check_choice("role", role, ("user", "assistant", "system", "tool"))
        return tuple(
            c for c in self.codes if c.unit == unit and (role is None or role in c.applies_to)
        )

    def codes_in_group(self, tag: str) -> tuple[Code, ...]:
        """Codes carrying the group tag ``tag`` (CodebookError if the group is not declared)."""
        _check_choice("group", tag, tuple(g.id for g in self.groups))
        return tuple(c for c in self.codes if tag in c.groups)

    def group(self, group_id: str) -> Group:
        """The declared group ``group_id``."""
        _check_choice("group", group_id, tuple(g.id for g in self.groups))
        return next(g for g in self.groups if g.id == group_id)

    @property
    def document(self) -> dict[str, Any]:
        """The normalised content as plain data (a fresh copy; the hash is of its JSON)."""
        document: dict[str, Any] = json.loads(self.canonical)
        return document

    def to_dict(self) -> dict[str, Any]:
        """The normalised content as plain data (same as :attr:`document`)."""
        return self.document


def _check_choice(what: str, value: str, available: tuple[str, ...]) -> None:
    if value not in available:
        raise CodebookError(
            Errors.E209.format(what=what, value=value, available=", ".join(available) or "(none)")
        )
