"""The import layers of DESIGN.md §2: an import may only point down (or to an allowed peer)."""

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


def _component(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py")


def _imported_components(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    pkg_parts = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
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
    assert comp in ALLOWED, f"{comp}: add the new component to the layer table (DESIGN.md §2)"
    bad = {
        c
        for c in _imported_components(path) - {comp} - ALLOWED[comp]
        # `from annotate import __version__` reads the package root, which imports nothing
        if not (c == "__version__")
    }
    assert not bad, f"{path.relative_to(PACKAGE)} ({comp}) may not import {sorted(bad)}"


def test_architecture_nothing_imports_interfaces() -> None:
    for path in MODULES:
        comp = _component(path)
        if comp in {"cli", "widgets", "__main__", "__init__"}:
            continue
        used = _imported_components(path)
        assert not used & {"cli", "widgets"}, f"{path} imports an interface layer"


def test_architecture_third_party_in_one_place() -> None:
    """Each heavy third-party library lives in one place (DESIGN.md §2)."""
    homes = {
        "anywidget": {"widgets"},
        "ipywidgets": {"widgets", "adjudication"},
        "spacy": {"nlp"},
        "yaml": {"codebook"},
        "pydantic": {"codebook"},
        "llama_cpp": {"llm"},
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
