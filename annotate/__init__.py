"""annotate: code human-AI dialogue corpora in JupyterLab with an SDT codebook.

The public surface is small and imported lazily, so ``import annotate`` stays cheap and the
command line starts fast. See README.md for the flow and docs/ for the user guide.

Top-level names (``annotate.Project``, ``annotate.import_corpus`` …) are classes and functions;
the subpackages are plain modules, also imported on first use: ``annotate.agreement.report(...)``,
``annotate.export.write(...)``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:  # what type checkers see; at run time __getattr__ imports on first use
    # (`x as x` marks a re-export; tests/test_architecture.py checks this list against __all__)
    from annotate import adjudication as adjudication
    from annotate import agreement as agreement
    from annotate import analysis as analysis
    from annotate import codebook as codebook
    from annotate import corpus as corpus
    from annotate import demo as demo
    from annotate import errors as errors
    from annotate import export as export
    from annotate import importers as importers
    from annotate import nlp as nlp
    from annotate import project as project
    from annotate import store as store
    from annotate import types as types
    from annotate import widgets as widgets
    from annotate.codebook import Codebook as Codebook
    from annotate.codebook import load_codebook as load_codebook
    from annotate.corpus import Corpus as Corpus
    from annotate.corpus import load_corpus as load_corpus
    from annotate.errors import AnnotateError as AnnotateError
    from annotate.importers import import_corpus as import_corpus
    from annotate.project import Project as Project
    from annotate.widgets import Adjudicator as Adjudicator
    from annotate.widgets import Annotator as Annotator
else:

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
