"""annotate.agreement (being built)."""
