"""Everything Inspect must find by name (``refusal_evals/<name>``); nothing else.

Imports only the package's own modules and their required dependencies, never an optional
extra (``hf``), so that loading the entry point is cheap and cannot fail on a missing extra.
"""

# ruff: noqa: F401
from refusal_evals.scorers.metrics import group_rates, unscored_by_group
from refusal_evals.scorers.roleplay import roleplay_judge
from refusal_evals.solvers.roleplay import roleplay_conversation
from refusal_evals.tasks.car_sales import car_sales
