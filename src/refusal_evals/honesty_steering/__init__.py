"""The dishonest_refusal items on a local model steered along its honesty direction."""
