"""annotate.export: a project as a citable labelled dataset with a data card (layer 4).

``annotate.export.write(project, out, format="parquet", labels="gold", redact=False)`` writes
the dataset folder (see :func:`annotate.export.write`). The writer lives in
:mod:`annotate.export._writer`; the data card in ``_card``, the label tables in ``_tables``; the
quote bank (:func:`quote_bank`, :func:`render_quotes`, ``annotate quotes``) in ``_quotes``.
"""

from __future__ import annotations

from annotate.export._quotes import QUOTE_COLUMNS, QUOTE_FORMATS, quote_bank
from annotate.export._quotes import render as render_quotes
from annotate.export._writer import FORMATS, LABEL_MODES, write

__all__ = [
    "FORMATS",
    "LABEL_MODES",
    "QUOTE_COLUMNS",
    "QUOTE_FORMATS",
    "quote_bank",
    "render_quotes",
    "write",
]
