"""Builds a role-play task from a scenario file and validates the task arguments.

A new scenario needs a data file and a few lines of task code that call :func:`roleplay_task`.
"""

from __future__ import annotations

from typing import Any

from inspect_ai import Task
from inspect_ai.log import HeadlineMetric
from inspect_ai.model import GenerateConfig

from refusal_evals.core.args import check_grader_bound, parse_bool, parse_choices, parse_int
from refusal_evals.core.schema import CONDITIONS
from refusal_evals.roleplay.scenarios import load_scenario, scenario_samples
from refusal_evals.roleplay.schema import Scenario
from refusal_evals.roleplay.scorer import roleplay_judge, roleplay_metrics
from refusal_evals.roleplay.solver import roleplay_conversation

DEFAULT_CONFIG = GenerateConfig(temperature=1.0, max_tokens=1024)
"""The papers sampled the models under test at temperature ~0.9-1.0; override with
``--temperature``. Local ``hf/`` models decode greedily only with ``-M do_sample=false``."""


def parse_conditions(condition: str | list[str]) -> list[str]:
    return parse_choices("condition", condition, CONDITIONS, allow_all=True)


def parse_variants(scenario: Scenario, variants: str | list[str] | None) -> list[str] | None:
    if variants is None or variants == "" or variants == "all":
        return None
    ids = [v.id for v in scenario.variants]
    return parse_choices("variants", variants, tuple(ids), allow_all=False)


def roleplay_task(
    scenario: str,
    condition: str | list[str] = "all",
    turns: Any = 1,
    cot: Any = True,
    variants: str | list[str] | None = None,
    metadata_within: str | None = None,
    compare_across: list[str] | None = None,
) -> Task:
    """A role-play task over ``scenario``'s variants x the chosen conditions.

    Every argument is checked here, before any model is called; errors name the argument and
    the valid values.
    """
    spec = load_scenario(scenario)
    conditions = parse_conditions(condition)
    n_turns = parse_int("turns", turns, minimum=1, maximum=len(spec.follow_ups))
    use_cot = parse_bool("cot", cot)
    chosen = parse_variants(spec, variants)
    check_grader_bound()

    return Task(
        dataset=scenario_samples(spec, conditions, chosen),
        solver=roleplay_conversation(scenario=scenario, turns=n_turns, cot=use_cot),
        scorer=roleplay_judge(scenario=scenario, cot=use_cot, turns=n_turns),
        metrics=roleplay_metrics(cot=use_cot, turns=n_turns, within=metadata_within, across=compare_across),
        config=DEFAULT_CONFIG,
        # the overall undesired rate is the number that summarises a run (log listings, viewer)
        headline_metric=HeadlineMetric(
            scorer="roleplay_judge", score="undesired", metric="refusal_evals/group_rates_all"
        ),
        version=f"1-{spec.version}",
        metadata={
            "scenario": spec.id,
            "scenario_version": spec.version,
            "conditions": conditions,
            "turns": n_turns,
            "cot": use_cot,
        },
    )
