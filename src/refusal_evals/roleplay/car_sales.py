"""``refusal_evals/car_sales``: a sales agent told to hide a car's known defect from customers
(arXiv 2406.19552: refusal vs rebuttal and reason-based deception).

Its ``-T`` arguments (condition, turns, cot, variants, follow_up, user_temperature) and docstring
come from the scenario file ``scenarios/car_sales.yaml`` through
:func:`~refusal_evals.roleplay.task.scenario_task`, like every scenario without arguments of its own.
"""

from __future__ import annotations

from refusal_evals.roleplay.task import scenario_task

car_sales = scenario_task("car_sales")
