"""annotate.analysis (being built)."""
