"""annotate.widgets (being built)."""
