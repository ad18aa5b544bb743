"""annotate.importers (being built)."""
