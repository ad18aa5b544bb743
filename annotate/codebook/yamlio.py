"""Read a YAML codebook into plain data plus the line of every field (for error messages).

Plain scalars under text fields keep the text as written: YAML 1.1 would turn ``value: 1`` into
an int, ``key: y`` into ``True`` and ``version: 1.0`` into a float; here they stay ``"1"``,
``"y"`` and ``"1.0"``. Duplicate keys in a mapping are problems (PyYAML would keep the last).
"""

from __future__ import annotations

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
        node = yaml.compose(text, Loader=yaml.SafeLoader)
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
    data = _build(node, (), loader, lines, problems, text_scalar=False)
    return data, lines, problems


def _build(
    node: yaml.Node,
    path: Path_,
    loader: yaml.SafeLoader,
    lines: dict[Path_, int],
    problems: list[tuple[Path_, str]],
    *,
    text_scalar: bool,
) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key)
            if key in out:
                problems.append(
                    (
                        (*path, key),
                        f"duplicate key '{key}' (line {key_node.start_mark.line + 1}); "
                        "keep one of them",
                    )
                )
            out[key] = _build(
                value_node,
                (*path, key),
                loader,
                lines,
                problems,
                text_scalar=key in TEXT_KEYS,
            )
            if key in TEXT_LIST_KEYS and isinstance(value_node, yaml.SequenceNode):
                out[key] = [
                    _text(item, loader) if isinstance(item, yaml.ScalarNode) else out[key][i]
                    for i, item in enumerate(value_node.value)
                ]
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, i), loader, lines, problems, text_scalar=False)
            for i, item in enumerate(node.value)
        ]
    if text_scalar:
        return _text(node, loader)
    return loader.construct_object(node, deep=True)


def _text(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    """A scalar as text when it was written plainly (null stays None)."""
    value = loader.construct_object(node, deep=True)
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
    text = yaml.safe_dump(
        _ordered(data), sort_keys=False, allow_unicode=True, width=100, default_flow_style=False
    )
    if header:
        text = "".join(f"# {line}\n" for line in header.splitlines()) + text
    return text
