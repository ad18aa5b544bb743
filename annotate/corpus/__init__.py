"""annotate.corpus (being built)."""
