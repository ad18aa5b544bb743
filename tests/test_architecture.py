"""The import layers of docs/internals.md: an import may only point down (or to an allowed peer)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "annotate"

FOUNDATION = {"errors", "types", "clock", "durable"}
# component -> the annotate components it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "__init__": set(),  # lazy attribute map only (strings), no imports
    "__main__": {"cli"},
    "errors": set(),
    "types": set(),
    "clock": set(),
    "durable": {"errors"},
    "corpus": FOUNDATION,
    "codebook": FOUNDATION,
    "importers": FOUNDATION | {"corpus"},
    "store": FOUNDATION | {"codebook"},
    "nlp": FOUNDATION | {"corpus"},
    "agreement": FOUNDATION | {"codebook", "store"},
    "project": FOUNDATION | {"corpus", "codebook", "store", "nlp"},
    "analysis": FOUNDATION | {"corpus", "codebook", "store", "agreement", "project"},
    "adjudication": FOUNDATION | {"corpus", "codebook", "store", "agreement", "project"},
    "llm": FOUNDATION | {"corpus", "codebook", "store", "agreement", "project"},
    "demo": FOUNDATION | {"codebook", "importers", "project"},
    "export": FOUNDATION
    | {"corpus", "codebook", "store", "nlp", "agreement", "project", "adjudication"},
    "widgets": FOUNDATION
    | {"corpus", "codebook", "store", "nlp", "project", "agreement", "adjudication"},
    "cli": FOUNDATION
    | {
        "corpus",
        "codebook",
        "importers",
        "store",
        "nlp",
        "agreement",
        "project",
        "analysis",
        "adjudication",
        "export",
        "llm",
        "__init__",
    },
}


#: the layers of docs/internals.md: an import may point only to a lower layer (or an allowed
#: peer); type-only imports (under ``if TYPE_CHECKING:``) follow the same direction
LAYER: dict[str, int] = {
    "errors": 0, "types": 0, "clock": 0, "durable": 0,
    "corpus": 1, "codebook": 1,
    "importers": 2, "store": 2, "nlp": 2,
    "agreement": 3, "project": 3,
    "analysis": 4, "adjudication": 4, "demo": 4, "export": 4, "llm": 4,
    "widgets": 5, "cli": 5,
    "__main__": 6,
}  # fmt: skip


def _component(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _is_type_checking(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:``."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import of a module and whether it is type-only (in an ``if TYPE_CHECKING:`` body;
    its ``else:`` branch runs)."""
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def visit(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append((node, typing_only))
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, typing_only)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, typing_only)

    visit(tree, False)
    return found


def _imported_components(path: Path, *, type_only: bool = False) -> set[str]:
    """The annotate components ``path`` imports at run time (or, ``type_only``, only for type
    checkers)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    pkg_parts = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    for node, typing_only in _imports(tree):
        if typing_only != type_only:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif node.level:  # relative: resolve against this module's package
            base = pkg_parts[: len(pkg_parts) - node.level + 1]
            mod = ".".join([*base, node.module] if node.module else base)
            names = [mod] if node.module else [f"{mod}.{a.name}" for a in node.names]
        elif node.module:
            names = [node.module]
            if node.module == "annotate":
                names = [f"annotate.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "annotate" and len(parts) > 1:
                found.add(parts[1])
            elif parts == ["annotate"]:
                found.add("__init__")
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_architecture_imports_point_down(path: Path) -> None:
    comp = _component(path)
    assert comp in ALLOWED, f"{comp}: add the new component to the layer table (docs/internals.md)"
    bad = {
        c
        for c in _imported_components(path) - {comp} - ALLOWED[comp]
        # `from annotate import __version__` reads the package root, which imports nothing
        if not (c == "__version__")
    }
    assert not bad, f"{path.relative_to(PACKAGE)} ({comp}) may not import {sorted(bad)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_architecture_type_only_imports_point_down(path: Path) -> None:
    """A type-only import costs nothing at run time but still states a dependency: it may name
    an allowed component or any component of a lower layer, never a peer or a higher layer.
    The package root (``annotate/__init__.py``) is the table of contents of every layer."""
    comp = _component(path)
    if comp == "__init__":
        return
    bad = {
        c
        for c in _imported_components(path, type_only=True) - {comp} - ALLOWED[comp]
        if LAYER.get(c, 99) >= LAYER[comp]
    }
    assert not bad, (
        f"{path.relative_to(PACKAGE)} ({comp}) may not import {sorted(bad)}, even for types"
    )


def test_architecture_root_is_a_table_of_contents() -> None:
    """``annotate/__init__.py`` imports nothing at run time; what it shows type checkers is
    exactly its ``__all__`` (the lazy names and the subpackages)."""
    import annotate

    root = PACKAGE / "__init__.py"
    assert _imported_components(root) == set()
    tree = ast.parse(root.read_text(encoding="utf-8"))
    shown = {
        a.asname or a.name for node, typing_only in _imports(tree) if typing_only
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("annotate")
        for a in node.names
    }  # fmt: skip
    assert shown == set(annotate.__all__) - {"__version__"}
    for name in shown:
        assert getattr(annotate, name) is not None, name


def test_architecture_nothing_imports_interfaces() -> None:
    for path in MODULES:
        comp = _component(path)
        if comp in {"cli", "widgets", "__main__", "__init__"}:
            continue
        used = _imported_components(path)
        assert not used & {"cli", "widgets"}, f"{path} imports an interface layer"


def test_architecture_third_party_in_one_place() -> None:
    """Each heavy third-party library lives in one place (docs/internals.md)."""
    homes = {
        "anywidget": {"widgets"},
        "ipywidgets": {"widgets", "adjudication"},
        "spacy": {"nlp"},
        "yaml": {"codebook"},
        "pydantic": {"codebook"},
        "markdown_it": {"widgets"},
        "llama_cpp": {"llm"},
        "statsmodels": {"analysis"},
        "httpx": {"llm"},
    }
    for path in MODULES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            mods = []
            if isinstance(node, ast.Import):
                mods = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                mods = [node.module.split(".")[0]]
            for m in mods:
                if m in homes:
                    assert _component(path) in homes[m], f"{path}: {m} belongs in {homes[m]}"
