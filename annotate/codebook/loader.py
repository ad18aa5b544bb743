"""YAML file -> validated, immutable :class:`~annotate.codebook.model.Codebook`.

The loader gathers every problem of a file (shape, references, levels, keys) and raises one
:class:`~annotate.errors.CodebookError` listing them, one per line, as
``FILE: codes[4].values[2].label: field required (line 57)``.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from annotate.codebook import schema
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
from annotate.codebook.rules import UNKNOWN, Problem, check_codebook, format_path
from annotate.codebook.yamlio import YamlSyntaxError, read_yaml
from annotate.errors import CodebookError, Errors
from annotate.types import FilePath

#: ``modules=`` argument: None (core + default modules), "all", or module ids
Modules = str | Iterable[str] | None

BINARY_DEFAULT = (
    {"value": "0", "label": "absent", "definition": None},
    {"value": "1", "label": "present", "definition": None},
)
CONVERSATION_ROLES_DEFAULT = ["user", "assistant"]


def load_codebook(path: FilePath, modules: Modules = None) -> Codebook:
    """Read, validate and freeze a codebook file.

    Parameters
    ----------
    path
        A YAML codebook file (see README.md, "The codebook").
    modules
        Which optional modules to load besides the core codes (codes without ``module``):
        ``None`` (default) loads the modules marked ``default: true``; ``"all"`` loads every
        module; a module id or a list of ids loads exactly those (``[]``: core codes only).
        The selection is part of :attr:`Codebook.hash`.

    Returns
    -------
    Codebook

    Raises
    ------
    CodebookError
        The file is missing, not YAML, not a codebook, or breaks any rule; the message lists
        every problem with its field path and line.
    """
    path = Path(path)
    if not path.is_file():
        hint = (
            "It is a folder; pass the .yaml file inside it."
            if path.is_dir()
            else "Check the path; the toy codebook is at codebooks/toy.yaml."
        )
        raise CodebookError(Errors.E206.format(path=path, hint=hint))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise CodebookError(
            Errors.E202.format(path=path, problem=f"it is not UTF-8 text ({err.reason})")
        ) from err
    return parse_codebook(text, source=str(path), modules=modules, path=path)


def parse_codebook(
    text: str, *, source: str = "<string>", modules: Modules = None, path: Path | None = None
) -> Codebook:
    """Validate codebook YAML given as text (``source`` names it in error messages)."""
    try:
        data, lines, read_problems = read_yaml(text)
    except YamlSyntaxError as err:
        raise CodebookError(
            Errors.E205.format(path=source, problem=err.problem, line=err.line, column=err.column)
        ) from err
    return codebook_from_data(
        data, source=source, modules=modules, path=path, lines=lines, problems=read_problems
    )


def codebook_from_data(
    data: Any,
    *,
    source: str = "<data>",
    modules: Modules = None,
    path: Path | None = None,
    lines: dict[tuple[Any, ...], int] | None = None,
    problems: list[Problem] | None = None,
) -> Codebook:
    """Validate a codebook given as plain data (a mapping as read from YAML or JSON)."""
    lines = lines or {}
    problems = list(problems or [])
    _require_codebook_shape(data, source)
    spec = _validate(data, problems)
    if problems:
        error = CodebookError(_report(source, problems, lines))
        error.failure_cases = [
            {"path": format_path(loc), "line": _line(loc, lines), "problem": message}
            for loc, message in sorted(problems, key=lambda p: _line(p[0], lines) or 0)
        ]
        raise error
    assert spec is not None  # no problems means the full model validated
    return _build(spec, _select_modules(spec, modules), path)


def _require_codebook_shape(data: Any, source: str) -> None:
    if not isinstance(data, dict):
        kind = {type(None): "an empty document", list: "a list", str: "a single string"}
        what = kind.get(type(data), f"a {type(data).__name__}")
        raise CodebookError(Errors.E202.format(path=source, problem=f"it holds {what}"))
    if "codes" not in data and "version" not in data:
        keys = ", ".join(str(k) for k in list(data)[:8]) or "(none)"
        raise CodebookError(
            Errors.E202.format(
                path=source, problem=f"it has neither 'codes' nor 'version' (its keys: {keys})"
            )
        )


def _validate(data: dict[str, Any], problems: list[Problem]) -> schema.CodebookSpec | None:
    """Shape errors of the whole file, then the rules between the parts that are well formed."""
    spec: schema.CodebookSpec | None = None
    try:
        spec = schema.CodebookSpec.model_validate(data)
    except ValidationError as err:
        problems.extend(_translate(err))
    codes: dict[int, schema.CodeSpec] = {}
    raw_codes = data.get("codes")
    if spec is not None:
        codes = dict(enumerate(spec.codes))
    elif isinstance(raw_codes, list):
        for i, raw in enumerate(raw_codes):
            try:
                codes[i] = schema.CodeSpec.model_validate(raw)
            except ValidationError as err:  # reported already; check what is well formed
                if isinstance(raw, dict):
                    codes[i] = _partial_code(raw, {e["loc"][0] for e in err.errors() if e["loc"]})
    check_codebook(data, codes, problems)
    return spec


def _partial_code(raw: dict[str, Any], bad: set[Any]) -> schema.CodeSpec:
    """A code whose invalid (or missing required) fields are UNKNOWN, the rest validated."""
    values: dict[str, Any] = {}
    for name, info in schema.CodeSpec.model_fields.items():
        if name in bad or (name not in raw and info.is_required()):
            values[name] = UNKNOWN
        elif name in raw:
            values[name] = _field_adapter(name).validate_python(raw[name])
        else:
            values[name] = info.get_default(call_default_factory=True)
    return schema.CodeSpec.model_construct(**values)


@functools.cache
def _field_adapter(name: str) -> TypeAdapter[Any]:
    info = schema.CodeSpec.model_fields[name]
    annotation: Any = info.annotation
    if info.metadata:
        annotation = Annotated[annotation, *info.metadata]
    return TypeAdapter(annotation)


_MODELS: dict[str, type[BaseModel]] = {
    "groups": schema.GroupSpec,
    "modules": schema.ModuleSpec,
    "codes": schema.CodeSpec,
    "values": schema.ValueSpec,
    "examples": schema.ExampleSpec,
    "near_misses": schema.NearMissSpec,
}


def _translate(err: ValidationError) -> list[Problem]:
    out: list[Problem] = []
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        out.append((loc, _message(e, loc)))
    return out


def _message(e: Mapping[str, Any], loc: tuple[Any, ...]) -> str:
    kind, value = e["type"], e.get("input")
    got = _describe(value)
    if kind == "missing":
        return "field required"
    if kind == "extra_forbidden":
        parent = [p for p in loc[:-1] if isinstance(p, str)]
        model = _MODELS.get(parent[-1], schema.CodebookSpec) if parent else schema.CodebookSpec
        return f"unknown key '{loc[-1]}'; allowed keys: {', '.join(model.model_fields)}"
    if kind == "string_pattern_mismatch":
        return (
            f"'{value}' is not a valid id: use lower-case letters, digits, '_', '.' and '-', "
            "starting with a letter or digit"
        )
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        limit = e.get("ctx", {}).get("max_length")
        return f"'{value}' is too long (at most {limit} character(s))"
    if kind == "too_short":
        return "must be a non-empty list" + (", got an empty list" if value == [] else "")
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"must be a mapping (key: value), got {got}"
    if kind == "list_type":
        return f"must be a list, got {got}"
    if kind == "string_type":
        return f"must be text, got {got}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false, got {got}"
    if kind == "literal_error":
        expected = e.get("ctx", {}).get("expected", "")
        return f"{got} is not allowed; use one of {expected}"
    return f"{e['msg']}, got {got}"


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return repr(value) if isinstance(value, str) else f"{value!r} ({type(value).__name__})"


def _report(source: str, problems: list[Problem], lines: dict[tuple[Any, ...], int]) -> str:
    rows = []
    for loc, message in sorted(problems, key=lambda p: _line(p[0], lines) or 0):
        line = _line(loc, lines)
        where = f" (line {line})" if line else ""
        rows.append(f"{source}: {format_path(loc)}: {message}{where}")
    return Errors.E201.format(path=source, n=len(rows), problems="\n".join(rows))


def _line(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int | None:
    for k in range(len(loc), -1, -1):
        if loc[:k] in lines:
            return lines[loc[:k]]
    return None


def _select_modules(spec: schema.CodebookSpec, modules: Modules) -> tuple[str, ...]:
    declared = [m.id for m in spec.modules]
    if modules is None:
        return tuple(m.id for m in spec.modules if m.default)
    if modules == "all":
        return tuple(declared)
    wanted = [modules] if isinstance(modules, str) else list(modules)
    unknown = [m for m in wanted if m not in declared]
    if unknown:
        raise CodebookError(
            Errors.E207.format(
                unknown=", ".join(map(str, unknown)),
                codebook_id=spec.id,
                available=", ".join(declared) or "(none)",
            )
        )
    return tuple(m for m in declared if m in wanted)


def canonical_document(spec: schema.CodebookSpec, active: tuple[str, ...]) -> dict[str, Any]:
    """The normalised content: defaults filled in, only the active modules' codes."""
    doc = spec.model_dump(mode="json")
    doc["version"] = doc["version"].strip()
    codes = []
    for code in doc["codes"]:
        if code["module"] is not None and code["module"] not in active:
            continue
        if code["values"] is None and code["level"] == "binary":
            code["values"] = [dict(v) for v in BINARY_DEFAULT]
        if code["applies_to"] is None:
            code["applies_to"] = list(CONVERSATION_ROLES_DEFAULT)
        if code.get("evidence") == "none":
            # the default is left out, so that codebooks written before the field existed
            # keep their hash (projects check it on open)
            del code["evidence"]
        codes.append(code)
    doc["codes"] = codes
    doc["active_modules"] = list(active)
    return doc


def canonical_json(document: dict[str, Any]) -> str:
    """Canonical JSON text: sorted keys, no spaces, UTF-8 characters kept."""
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_hash(document: dict[str, Any]) -> str:
    """sha256 hex of the canonical JSON of a normalised document."""
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()


def _build(spec: schema.CodebookSpec, active: tuple[str, ...], path: Path | None) -> Codebook:
    doc = canonical_document(spec, active)
    codes = tuple(_code(c, spec.id) for c in doc["codes"])
    return Codebook(
        id=doc["id"],
        version=Version(doc["version"]),
        title=doc["title"],
        description=doc["description"],
        groups=tuple(Group(**g) for g in doc["groups"]),
        modules=tuple(Module(**m) for m in doc["modules"]),
        codes=codes,
        active_modules=active,
        hash=content_hash(doc),
        path=path,
        canonical=canonical_json(doc),
    )


def _code(c: dict[str, Any], codebook_id: str) -> Code:
    return Code(
        id=c["id"],
        label=c["label"],
        unit=c["unit"],
        applies_to=tuple(c["applies_to"]),
        level=c["level"],
        values=tuple(CodeValue(**v) for v in c["values"]),
        groups=tuple(c["group"]),
        definition=c["definition"],
        when_to_use=c["when_to_use"],
        when_not_to_use=c["when_not_to_use"],
        examples=tuple(Example(**x) for x in c["examples"] or ()),
        near_misses=tuple(NearMiss(**x) for x in c["near_misses"] or ()),
        cues=tuple(_freeze(q) for q in c["cues"] or ()),
        key=c["key"],
        module=c["module"],
        evidence=c.get("evidence", "none"),
        codebook_id=codebook_id,
    )


def _freeze(cue: Any) -> Any:
    """Cues: phrases stay strings; token patterns become tuples of dicts."""
    return cue if isinstance(cue, str) else tuple(dict(t) for t in cue)
