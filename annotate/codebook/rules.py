"""The rules between the parts of a codebook (beyond the shape checked by ``schema.py``).

Every function appends ``(path, message)`` problems and never stops at the first, so that the
loader can report every problem of a file at once.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from typing import Any

from annotate.codebook.model import Version
from annotate.codebook.schema import CodeSpec

#: keys the annotation widget uses itself (docs/internals.md, Widget front end)
RESERVED_KEYS = frozenset("jknpu?123456789")

Problem = tuple[tuple[Any, ...], str]


class _Unknown:
    """Stands for a field whose own shape was invalid (already reported): checks skip it."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


def _known(*values: Any) -> bool:
    return all(v is not UNKNOWN for v in values)


def check_codebook(
    data: dict[str, Any], codes: dict[int, CodeSpec], problems: list[Problem]
) -> None:
    """Check the rules between parts.

    Parameters
    ----------
    data
        The raw mapping read from the file (its shape may be partly invalid).
    codes
        The codes whose own shape is valid, by their index in ``data["codes"]``.
    problems
        Where problems are appended as ``(path, message)``.
    """
    version = data.get("version")
    if isinstance(version, str) and version.strip():
        try:
            Version(version.strip())
        except ValueError as err:
            problems.append((("version",), str(err)))
    ids = {section: _raw_ids(data.get(section)) for section in ("groups", "modules", "codes")}
    for section, section_ids in ids.items():
        _unique(section, section_ids, problems)
    groups = {i for i in ids["groups"] if i is not None}
    modules = {i for i in ids["modules"] if i is not None}
    for i, code in sorted(codes.items()):
        check_code(code, ("codes", i), problems, groups=groups, modules=modules)
    _check_keys(codes, problems)


def _raw_ids(items: Any) -> list[str | None]:
    if not isinstance(items, list):
        return []
    return [
        item["id"] if isinstance(item, dict) and isinstance(item.get("id"), str) else None
        for item in items
    ]


def check_code(
    code: CodeSpec,
    path: tuple[Any, ...],
    problems: list[Problem],
    *,
    groups: set[str],
    modules: set[str],
) -> None:
    """Check one code: references, roles, values against the level, cues.

    Fields set to ``UNKNOWN`` (their shape was invalid and already reported) are skipped.
    """
    if _known(code.group):
        _check_groups(code.group, (*path, "group"), groups, problems)
    if _known(code.module) and code.module is not None and code.module not in modules:
        problems.append(
            (
                (*path, "module"),
                f"module '{code.module}' is not declared; declared modules: {_names(modules)}",
            )
        )
    if _known(code.applies_to, code.unit):
        _check_roles(code, path, problems)
    if _known(code.values, code.level):
        _check_values(code, path, problems)
    if _known(code.cues):
        _check_cues(code.cues or [], (*path, "cues"), problems)
    if _known(code.evidence, code.unit) and code.evidence != "none" and code.unit != "turn":
        problems.append(
            (
                (*path, "evidence"),
                f"evidence '{code.evidence}' needs a turn code: evidence spans are words of one "
                "turn, and this code's unit is conversation (leave evidence out, or use none)",
            )
        )


def _check_groups(
    tags: list[str], path: tuple[Any, ...], groups: set[str], problems: list[Problem]
) -> None:
    for j, tag in enumerate(tags):
        if tag not in groups:
            problems.append(
                ((*path, j), f"group '{tag}' is not declared; declared groups: {_names(groups)}")
            )
    _unique(path, tags, problems, what="group tag")


def _check_roles(code: CodeSpec, path: tuple[Any, ...], problems: list[Problem]) -> None:
    if code.applies_to is not None:
        if not code.applies_to:
            problems.append(
                ((*path, "applies_to"), "must name at least one role (user, assistant)")
            )
        _unique((*path, "applies_to"), code.applies_to, problems, what="role")
    elif code.unit == "turn":
        problems.append(
            (
                (*path, "applies_to"),
                "field required for turn codes: the roles the code applies to, "
                "e.g. [assistant] or [user]",
            )
        )


def _check_values(code: CodeSpec, path: tuple[Any, ...], problems: list[Problem]) -> None:
    vpath = (*path, "values")
    values = code.values
    if values is None:
        if code.level != "binary":
            problems.append(
                (vpath, f"field required for {code.level} codes: list the values with labels")
            )
        return
    ids = [v.value for v in values]
    _unique(vpath, ids, problems, what="value")
    n = len(ids)
    need = {"binary": (2, 2), "nominal": (2, None), "ordinal": (2, None), "set": (1, None)}
    low, high = need.get(code.level, (2, None))
    if n < low or (high is not None and n > high):
        exactly = "exactly" if high == low else "at least"
        problems.append(
            (
                vpath,
                f"{_a(code.level)} code needs {exactly} {low} values, got {n}: {', '.join(ids)}",
            )
        )
    numbers = [_number(v) for v in ids]
    if code.level == "interval":
        for k, (text, num) in enumerate(zip(ids, numbers, strict=True)):
            if num is None:
                problems.append(
                    ((*vpath, k, "value"), f"interval values must be numbers, got '{text}'")
                )
    if code.level in ("interval", "ordinal") and all(x is not None for x in numbers):
        nums = [x for x in numbers if x is not None]
        if any(b <= a for a, b in itertools.pairwise(nums)):
            problems.append(
                (
                    vpath,
                    f"{code.level} values must be listed from low to high, got {', '.join(ids)}",
                )
            )


def _check_cues(cues: list[Any], path: tuple[Any, ...], problems: list[Problem]) -> None:
    for k, cue in enumerate(cues):
        if isinstance(cue, str) and cue.strip():
            continue
        if (
            isinstance(cue, list)
            and cue
            and all(isinstance(t, dict) and t and all(isinstance(a, str) for a in t) for t in cue)
        ):
            continue
        problems.append(
            (
                (*path, k),
                "a cue is a phrase (a non-empty string) or a spaCy token pattern (a list of "
                f"mappings such as [{{LOWER: 'you'}}, {{LOWER: 'must'}}]), got {cue!r}",
            )
        )


def _check_keys(codes: dict[int, CodeSpec], problems: list[Problem]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for i, code in sorted(codes.items()):
        if code.key is None or not _known(code.key, code.unit):
            continue
        path = ("codes", i, "key")
        if code.key in RESERVED_KEYS:
            problems.append(
                (
                    path,
                    f"key '{code.key}' is reserved by the annotation widget (j k n p u ? and "
                    "1-9); choose another letter",
                )
            )
        slot = (code.unit, code.key)
        if slot in seen:
            problems.append(
                (
                    path,
                    f"key '{code.key}' is already used by {code.unit} code '{seen[slot]}'; "
                    "keys must be unique within a unit",
                )
            )
        else:
            seen[slot] = code.id


def _unique(path: Any, ids: list[Any], problems: list[Problem], *, what: str | None = None) -> None:
    path = path if isinstance(path, tuple) else (path,)
    first: dict[str, int] = {}
    for k, item in enumerate(ids):
        if item is None:
            continue
        if item in first:
            where = (*path, k) if what is None else path
            kind = what or "id"
            problems.append(
                (
                    (*where, "id") if what is None else where,
                    f"duplicate {kind} '{item}' (first at {_fmt(path)}[{first[item]}]); "
                    f"each {kind} must be unique",
                )
            )
        else:
            first[item] = k


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def _number(text: str) -> float | None:
    try:
        num = float(text)
    except ValueError:
        return None
    return num if math.isfinite(num) else None


def _names(items: Iterable[str]) -> str:
    items = list(items)
    return ", ".join(sorted(items)) if items else "(none)"


def _fmt(path: tuple[Any, ...]) -> str:
    return format_path(path)


def format_path(path: tuple[Any, ...]) -> str:
    """``("codes", 4, "values", 2, "label")`` -> ``codes[4].values[2].label``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"
