"""annotate.export: a project as a citable labelled dataset with a data card (layer 4).

The exporter lives in :mod:`annotate.export._writer`; the data card in ``_card``, the label
tables in ``_tables``.
"""

from __future__ import annotations

from annotate.export._writer import FORMATS, LABEL_MODES, export
from annotate.types import make_module_callable

__all__ = ["FORMATS", "LABEL_MODES", "export"]


make_module_callable(__name__, export)
