"""Shared foundations: data-file reading and validation, user errors, conditions and shared schema
pieces, templates, the reasoning extractor, three-valued logic, task-argument parsing."""
