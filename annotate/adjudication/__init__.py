"""annotate.adjudication (being built)."""
