"""annotate.export (being built)."""
