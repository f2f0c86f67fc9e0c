"""Dishonest refusals (arXiv 2406.01931): requests, conversation, refusal classification, scorer."""
