"""Builds a role-play task from a scenario file and validates the task arguments.

A new scenario needs a data file (``scenarios/<id>.yaml``) and one line of registration in
``refusal_evals/_registry.py``: ``<id> = scenario_task("<id>")`` (:func:`scenario_task`). A scenario
with arguments of its own writes its ``@task`` function over :func:`roleplay_task` instead
(``real_estate.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspect_ai import Task, task
from inspect_ai.log import HeadlineMetric
from inspect_ai.model import GenerateConfig

from refusal_evals.core.args import (
    TaskArgError,
    check_grader_bound,
    parse_bool,
    parse_choices,
    parse_float,
    parse_int,
)
from refusal_evals.core.identity import EXPERIMENT_KEY, experiment_record, judge_files
from refusal_evals.core.schema import CONDITIONS
from refusal_evals.judges.framework import PROMPTS_DIR
from refusal_evals.roleplay.scenarios import load_scenario, scenario_path, scenario_samples
from refusal_evals.roleplay.schema import Scenario
from refusal_evals.roleplay.scorer import roleplay_judge, roleplay_metrics
from refusal_evals.roleplay.simulated import (
    DEFAULT_USER_TEMPERATURE,
    FOLLOW_UP_MODES,
    PARTY_PROMPT_FILE,
    check_user_bound,
    require_party,
)
from refusal_evals.roleplay.solver import max_turns, roleplay_conversation
from refusal_evals.roleplay.survival_plot import register_survival_figure

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


def select_variants(
    scenario: Scenario, key: str, values: str | list[str], variants: str | list[str] | None
) -> list[str]:
    """Variant ids whose metadata ``key`` has one of ``values`` (the ``-T <key>`` argument, e.g.
    ``attribute``), narrowed to ``variants`` when given."""
    valid = tuple(scenario.variant_metadata[key])
    wanted = parse_choices(key, values, valid, allow_all=True)
    with_value = [v.id for v in scenario.variants if v.metadata[key] in wanted]
    asked = parse_variants(scenario, variants)
    if asked is None:
        return with_value
    chosen = [v for v in asked if v in with_value]
    if not chosen:
        raise TaskArgError(
            f"-T variants: none of {', '.join(asked)} has {key} {', '.join(wanted)}; "
            f"variants with that {key}: {', '.join(with_value)}"
        )
    return chosen


@dataclass(frozen=True)
class FollowUp:
    """How the follow-up turns are written (``-T follow_up``, ``-T user_temperature``)."""

    mode: str
    """``scripted`` or ``simulated``"""
    temperature: float | None
    """the simulated party's sampling temperature; None when scripted (the argument is not used)"""

    @property
    def simulated(self) -> bool:
        return self.mode == "simulated"

    def settings(self) -> dict[str, Any]:
        return {"follow_up": self.mode, "user_temperature": self.temperature}

    def metadata(self) -> dict[str, Any]:
        """Task metadata: the mode, and the party's temperature when simulated."""
        return self.settings() if self.simulated else {"follow_up": self.mode}


def parse_follow_up(spec: Scenario, source: str | Path, follow_up: Any, user_temperature: Any) -> FollowUp:
    """``-T follow_up`` (one of scripted, simulated) and, when simulated, ``-T user_temperature``; a
    scenario without a ``simulated_party`` section can run only scripted."""
    modes = parse_choices("follow_up", follow_up, FOLLOW_UP_MODES, allow_all=False)
    if len(modes) > 1:
        raise TaskArgError(f"-T follow_up: give one of {', '.join(FOLLOW_UP_MODES)}; got {', '.join(modes)}")
    if modes[0] == "scripted":
        return FollowUp("scripted", None)
    require_party(spec, source)
    return FollowUp("simulated", parse_float("user_temperature", user_temperature, minimum=0.0, maximum=2.0))


def experiment(
    spec: Scenario, source: str | Path, settings: dict[str, Any], mode: FollowUp
) -> dict[str, Any]:
    """The experiment record of a role-play task (:func:`refusal_evals.core.identity.experiment_record`)."""
    return experiment_record(
        "roleplay",
        spec.id,
        f"1-{spec.version}",
        {**settings, **mode.settings()},
        files={
            "scenario": source,
            "simulated_party_prompt": PARTY_PROMPT_FILE if mode.simulated else None,
        },
        judges=judge_files(
            PROMPTS_DIR, "behaviour", "consistency", "native_consistency", "stated_native_consistency"
        ),
    )


def roleplay_task(
    scenario: str,
    condition: str | list[str] = "all",
    turns: Any = 1,
    cot: Any = True,
    variants: str | list[str] | None = None,
    metadata_within: str | None = None,
    within_values: str | list[str] = "all",
    compare_across: list[str] | None = None,
    follow_up: Any = "scripted",
    user_temperature: Any = DEFAULT_USER_TEMPERATURE,
) -> Task:
    """A role-play task over ``scenario``'s variants x the chosen conditions.

    ``metadata_within``: a ``variant_metadata`` key of the scenario (e.g. ``attribute``); metrics are
    grouped by it inside each condition, ``within_values`` (its ``-T`` argument) selects variants by
    it, and the values run are recorded in task metadata under the key's plural (``attributes``).
    ``compare_across``: ``"a:b"`` pairs of its values compared inside each condition.
    ``follow_up``: ``scripted`` (the scenario's follow-ups) or ``simulated`` (the other party played by
    the ``user`` model role from turn 2 on, at ``user_temperature``; up to 10 turns).

    Every argument is checked here, before any model is called; errors name the argument and
    the valid values.
    """
    spec = load_scenario(scenario)
    source = scenario if scenario.endswith((".yaml", ".yml")) else scenario_path(scenario)
    conditions = parse_conditions(condition)
    mode = parse_follow_up(spec, source, follow_up, user_temperature)
    n_turns = parse_int("turns", turns, minimum=1, maximum=max_turns(spec, mode.mode))
    use_cot = parse_bool("cot", cot)
    within_run: dict[str, list[str]] = {}
    if metadata_within:
        chosen: list[str] | None = select_variants(spec, metadata_within, within_values, variants)
        ran = {spec.variant(v).metadata[metadata_within] for v in chosen or []}
        within_run[f"{metadata_within}s"] = sorted(ran)
    else:
        chosen = parse_variants(spec, variants)
    check_grader_bound()
    if mode.simulated:
        check_user_bound()

    return Task(
        dataset=scenario_samples(spec, conditions, chosen),
        solver=roleplay_conversation(
            scenario=scenario,
            turns=n_turns,
            cot=use_cot,
            follow_up=mode.mode,
            user_temperature=mode.temperature or DEFAULT_USER_TEMPERATURE,
        ),
        scorer=roleplay_judge(scenario=scenario, cot=use_cot, turns=n_turns, follow_up=mode.mode),
        metrics=roleplay_metrics(
            cot=use_cot, turns=n_turns, within=metadata_within, across=compare_across, survival=mode.simulated
        ),
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
            **within_run,
            **mode.metadata(),
            EXPERIMENT_KEY: experiment(spec, source, {"turns": n_turns, "cot": use_cot}, mode),
        },
    )


SCENARIO_TASK_ARGS = """Args:
  condition: natural, refusal, rebuttal or all (comma-separated subsets allowed).
  turns: Follow-up turns of the other party after the injected reply (1-{max_turns}), each scored;
    up to 10 with follow_up=simulated.
  cot: Ask for reasoning before the reply to the other party.
  variants: Comma-separated variant ids to run (default: every variant).
  follow_up: scripted (the scenario's follow-ups) or simulated (the model of the `user` role plays
    the other party after the first follow-up; needs --model-role user=<model>).
  user_temperature: Sampling temperature of the simulated other party (follow_up=simulated only).
"""


def scenario_task(scenario: str) -> Callable[..., Task]:
    """The ``@task`` function ``refusal_evals/<id>`` of a scenario file (built-in name or path).

    Its ``-T`` arguments are those of ``car_sales`` (condition, turns, cot, variants, follow_up,
    user_temperature); its docstring,
    which Inspect shows, is the scenario's ``description`` and those arguments. Registered by
    assigning it in ``_registry.py``: ``my_scenario = scenario_task("my_scenario")``.
    """
    spec = load_scenario(scenario)

    def scenario_task_function(
        condition: str = "all",
        turns: int = 1,
        cot: bool = True,
        variants: str | None = None,
        follow_up: str = "scripted",
        user_temperature: float = DEFAULT_USER_TEMPERATURE,
    ) -> Task:
        return roleplay_task(
            scenario,
            condition=condition,
            turns=turns,
            cot=cot,
            variants=variants,
            follow_up=follow_up,
            user_temperature=user_temperature,
        )

    scenario_task_function.__name__ = scenario_task_function.__qualname__ = spec.id
    args = SCENARIO_TASK_ARGS.format(max_turns=len(spec.follow_ups))
    scenario_task_function.__doc__ = f"{spec.description.strip()}\n\n{args}"
    register_survival_figure(spec.id)
    return task(scenario_task_function)
