"""annotate: code human-AI dialogue corpora in JupyterLab with an SDT codebook.

The public surface is small and imported lazily, so ``import annotate`` stays cheap and the
command line starts fast. See README.md for the concepts.
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
    "agreement": "annotate.agreement",
    "export": "annotate.export",
    "AnnotateError": "annotate.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'annotate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
