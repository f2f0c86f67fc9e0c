"""The insider-trading evaluation: task, script builder, solver, trade parser and scorer."""
