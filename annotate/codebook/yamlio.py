"""Read a YAML codebook into plain data plus the line of every field (for error messages).

Plain scalars under text fields keep the text as written: YAML 1.1 would turn ``value: 1`` into
an int, ``key: y`` into ``True`` and ``version: 1.0`` into a float; here they stay ``"1"``,
``"y"`` and ``"1.0"``. Duplicate keys in a mapping are problems (PyYAML would keep the last).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

#: mapping keys whose scalar values are always text
TEXT_KEYS = frozenset(
    {
        "id",
        "version",
        "title",
        "description",
        "label",
        "kind",
        "unit",
        "level",
        "module",
        "definition",
        "when_to_use",
        "when_not_to_use",
        "text",
        "context",
        "why",
        "key",
        "value",
    }
)
#: mapping keys whose list items (scalars) are always text
TEXT_LIST_KEYS = frozenset({"applies_to", "group", "cues"})

Path_ = tuple[Any, ...]

#: libyaml's parser when PyYAML has it (about 5x faster), else the pure-Python one
_FAST: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_INDICATORS = re.compile(r"[-?:\[\]{}]")
#: nesting bound under which libyaml is used (it survives 10,000 levels; codebooks need ~10)
SAFE_C_DEPTH = 1000

#: what PyYAML's scalar constructors raise on malformed explicitly tagged values
CONSTRUCT_ERRORS = (ValueError, TypeError, AttributeError, OverflowError, LookupError)

#: guards: a codebook has a few thousand values and a nesting depth of about six
MAX_NODES = 200_000
MAX_DEPTH = 40


class YamlSyntaxError(Exception):
    """Broken YAML, with a 1-based line and column."""

    def __init__(self, problem: str, line: int, column: int) -> None:
        super().__init__(problem)
        self.problem, self.line, self.column = problem, line, column


def read_yaml(text: str) -> tuple[Any, dict[Path_, int], list[tuple[Path_, str]]]:
    """Parse YAML text.

    Returns
    -------
    data, lines, problems
        The data; a map from field path (tuple of keys and indices) to its 1-based line; and
        problems found while reading (duplicate keys), as (path, message).
    """
    try:
        node = yaml.compose(text, Loader=_composer(text))
    except RecursionError as err:
        raise YamlSyntaxError("nesting too deep somewhere in the file", 1, 1) from err
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = " ".join(p for p in (err.context, err.problem) if p)
        raise YamlSyntaxError(problem or "syntax error", line, column) from err
    except yaml.YAMLError as err:  # e.g. a non-printable character without a mark
        raise YamlSyntaxError(str(err), 0, 0) from err
    lines: dict[Path_, int] = {}
    problems: list[tuple[Path_, str]] = []
    if node is None:
        return None, lines, problems
    loader = yaml.SafeLoader("")
    data = _Builder(loader, lines, problems).build(node, (), text_scalar=False)
    return data, lines, problems


def _composer(text: str) -> type[yaml.SafeLoader]:
    """libyaml, unless the text could nest deeper than libyaml's C stack survives.

    libyaml crashes the process (no Python exception) on nesting tens of thousands deep, e.g.
    ``- - - ... x``; the pure-Python parser stops with a RecursionError that becomes a clean
    message. Each nesting level needs an indentation column, an indicator (``-``, ``?``, ``:``)
    or a flow bracket, so ``2 * (indent + indicators) + open brackets`` bounds the depth.
    """
    flow = bound = 0
    for line in text.splitlines():
        body = line.lstrip(" ")
        marks = 0
        for ch in _INDICATORS.findall(body):
            if ch in "[{":
                flow += 1
                bound = max(bound, flow)
            elif ch in "]}":
                flow = max(flow - 1, 0)
            else:
                marks += 1
        bound = max(bound, 2 * (len(line) - len(body) + marks) + flow)
    return _FAST if bound <= SAFE_C_DEPTH else yaml.SafeLoader


class _Builder:
    """Turn a YAML node tree into plain data, guarding against alias bombs and recursion."""

    def __init__(
        self,
        loader: yaml.SafeLoader,
        lines: dict[Path_, int],
        problems: list[tuple[Path_, str]],
    ) -> None:
        self.loader, self.lines, self.problems = loader, lines, problems
        self.budget = MAX_NODES
        self.stack: set[int] = set()

    def build(self, node: yaml.Node, path: Path_, *, text_scalar: bool) -> Any:
        line = node.start_mark.line + 1
        self.budget -= 1
        if self.budget < 0:
            raise YamlSyntaxError(
                f"the document expands to more than {MAX_NODES} values (aliases?)", line, 1
            )
        if len(path) > MAX_DEPTH:
            raise YamlSyntaxError(f"nesting deeper than {MAX_DEPTH} levels", line, 1)
        if id(node) in self.stack:
            raise YamlSyntaxError("an alias refers to itself (recursive structure)", line, 1)
        self.lines.setdefault(path, line)
        if isinstance(node, yaml.ScalarNode):
            return _text(node, self.loader) if text_scalar else self._scalar(node)
        self.stack.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [
                self.build(item, (*path, i), text_scalar=False) for i, item in enumerate(node.value)
            ]
        finally:
            self.stack.discard(id(node))

    def _scalar(self, node: yaml.Node) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as err:  # e.g. an unknown !!python/... tag
            mark = err.problem_mark or node.start_mark
            raise YamlSyntaxError(str(err.problem), mark.line + 1, mark.column + 1) from err
        except CONSTRUCT_ERRORS as err:  # PyYAML's constructors on e.g. `!!timestamp abc`
            tag = node.tag.rsplit(":", 1)[-1]
            mark = node.start_mark
            problem = f"'{node.value}' cannot be read as !!{tag}"
            raise YamlSyntaxError(problem, mark.line + 1, mark.column + 1) from err

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None or key_node.tag != "tag:yaml.org,2002:str":
                key = self._key(key_node)
            if key in out:
                self.problems.append(
                    (
                        (*path, key),
                        f"duplicate key '{key}' (line {key_node.start_mark.line + 1}); "
                        "keep one of them",
                    )
                )
            value = self.build(value_node, (*path, key), text_scalar=key in TEXT_KEYS)
            if key in TEXT_LIST_KEYS and isinstance(value_node, yaml.SequenceNode):
                value = [
                    _text(item, self.loader) if isinstance(item, yaml.ScalarNode) else value[i]
                    for i, item in enumerate(value_node.value)
                ]
            out[key] = value
        return out

    def _key(self, key_node: yaml.Node) -> str:
        if isinstance(key_node, yaml.ScalarNode):
            value = self._scalar(key_node)
            return value if isinstance(value, str) else str(key_node.value)
        return f"<a {'mapping' if isinstance(key_node, yaml.MappingNode) else 'list'} as key>"


def _text(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    """A scalar as text when it was written plainly (null stays None)."""
    if node.tag == "tag:yaml.org,2002:str":
        return node.value
    try:
        value = loader.construct_object(node, deep=True)
    except (yaml.MarkedYAMLError, *CONSTRUCT_ERRORS):
        return node.value
    if value is None or isinstance(value, str):
        return value
    return node.value


#: key order of written codebooks (one list serves every level of the format)
KEY_ORDER = (
    "id version title value label text kind unit applies_to level group module description "
    "definition when_to_use when_not_to_use why context examples near_misses cues key default "
    "values groups modules codes"
).split()


def _ordered(obj: Any) -> Any:
    if isinstance(obj, dict):
        keys = sorted(obj, key=lambda k: KEY_ORDER.index(k) if k in KEY_ORDER else len(KEY_ORDER))
        return {k: _ordered(obj[k]) for k in keys if obj[k] is not None and obj[k] != []}
    if isinstance(obj, list | tuple):
        return [_ordered(x) for x in obj]
    return obj


def dump_yaml(data: dict[str, Any], *, header: str | None = None) -> str:
    """Codebook data as readable YAML (format key order; empty and null fields left out)."""
    text: str = yaml.safe_dump(
        _ordered(data), sort_keys=False, allow_unicode=True, width=100, default_flow_style=False
    )
    if header:
        text = "".join(f"# {line}\n" for line in header.splitlines()) + text
    return text
