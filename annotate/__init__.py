"""annotate: code human-AI dialogue corpora in JupyterLab with an SDT codebook.

The public surface is small and imported lazily, so ``import annotate`` stays cheap and the
command line starts fast. See README.md for the concepts.

Top-level names (``annotate.Project``, ``annotate.import_corpus`` …) are classes and functions;
the subpackages are plain modules, also imported on first use: ``annotate.agreement.report(...)``,
``annotate.export.write(...)``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it (explicit, no try-every-module loop)
_LAZY = {
    "import_corpus": "annotate.importers",
    "load_corpus": "annotate.corpus",
    "Corpus": "annotate.corpus",
    "load_codebook": "annotate.codebook",
    "Codebook": "annotate.codebook",
    "Project": "annotate.project",
    "Annotator": "annotate.widgets",
    "Adjudicator": "annotate.widgets",
    "AnnotateError": "annotate.errors",
}
# subpackages served as attributes (the package itself, imported on first use)
_PACKAGES = (
    "adjudication",
    "agreement",
    "analysis",
    "codebook",
    "corpus",
    "demo",
    "errors",
    "export",
    "importers",
    "nlp",
    "project",
    "store",
    "types",
    "widgets",
)

__all__ = ["__version__", *_LAZY, *_PACKAGES]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _PACKAGES:
        return importlib.import_module(f"{__name__}.{name}")  # binds the attribute too
    raise AttributeError(f"module 'annotate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
