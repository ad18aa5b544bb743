"""annotate.store (being built)."""
