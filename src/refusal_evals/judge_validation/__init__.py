"""Every judge of the package run by the grader on labelled gold sets."""
