"""annotate.project (being built)."""
