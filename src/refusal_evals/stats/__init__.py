"""Intervals and tests, and the Inspect metrics built on them."""
