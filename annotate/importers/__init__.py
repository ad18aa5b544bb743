"""annotate.importers: raw dialogue files -> a corpus folder (docs/internals.md).

``IMPORTERS`` maps versioned names (``"sharegpt.v1"``) to importers; ``FORMATS`` maps the CLI
format names (``sharegpt``) to the current version. :func:`import_corpus` runs one. The registry
and ``import_corpus`` live in :mod:`annotate.importers._import`, one importer per ``_<name>.py``.
"""

from __future__ import annotations

from annotate.importers._base import Importer, Option
from annotate.importers._import import FORMATS, IMPORTERS, get_importer, import_corpus

__all__ = ["FORMATS", "IMPORTERS", "Importer", "Option", "get_importer", "import_corpus"]
