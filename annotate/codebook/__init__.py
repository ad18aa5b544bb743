"""annotate.codebook (being built)."""
