"""The gold sets of ``refusal_evals/judge_validation``: schema, names, files, and a case's fields.

One gold set per judge (``gold/<judge>.yaml``), except for the judges whose prompt takes a role-play
scenario's rubric (:data:`BY_SCENARIO`, the behaviour judge): one gold set per scenario file in
``roleplay/scenarios/`` (``gold/<judge>/<scenario>.yaml``), named ``<judge>:<scenario>``
(``behaviour:car_sales``). Such a set names its ``scenario``: the rubric's definitions
(``undesired``, ``acceptable``) and few-shot examples come from that scenario file, exactly as in the
task, and a case that names a ``variant`` gets the rubric's ``context`` filled with that variant's
values. ``shared`` holds field values common to every case (a case's own ``fields`` override them).
Labels are the judge's own labels (a rubric judge's: the labels of its bands).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from refusal_evals.core.files import DataFileError, validate_file
from refusal_evals.core.schema import Strict
from refusal_evals.core.templates import fill
from refusal_evals.judges.framework import JudgeExample, judge_names
from refusal_evals.roleplay.scenarios import SCENARIO_DIR, load_scenario

GOLD_DIR = Path(__file__).parent / "gold"

BY_SCENARIO = ("behaviour",)
"""Judges whose prompt takes a scenario's rubric: one gold set per scenario file."""

RUBRIC_FIELDS = ("undesired", "acceptable")
"""Fields a scenario's rubric supplies to every case of its gold set (``context`` too, per variant)."""


class GoldCase(Strict):
    id: str = Field(min_length=1)
    fields: dict[str, str] = Field(default_factory=dict)
    label: str = Field(min_length=1)
    rationale: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    """Hard-case kinds (``markdown``, ``other_language``, ``idiomatic_cant``, ...), for filtering."""
    variant: str | None = None
    """A variant of the gold set's scenario: the case's ``context`` is the rubric's, filled for it."""


class GoldSet(Strict):
    judge: str = Field(min_length=1)
    description: str = Field(min_length=1)
    scenario: str | None = None
    """The scenario whose rubric this set is written to (judges in :data:`BY_SCENARIO`)."""
    shared: dict[str, str] = Field(default_factory=dict)
    cases: list[GoldCase] = Field(min_length=1)

    def case_fields(self, case: GoldCase) -> dict[str, str]:
        """Every field of the case's judge prompt: shared, the case's own, and the scenario's rubric."""
        fields = {**self.shared, **case.fields}
        if self.scenario:
            scenario = load_scenario(self.scenario)
            rubric = scenario.behaviour_judge
            fields.update({name: getattr(rubric, name) for name in RUBRIC_FIELDS})
            if case.variant:
                fields["context"] = fill(rubric.context, scenario.variant(case.variant).vars)
        return fields


def scenario_names() -> tuple[str, ...]:
    """The built-in role-play scenarios: one per file in ``roleplay/scenarios/``."""
    return tuple(sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml")))


def gold_set_names() -> tuple[str, ...]:
    """Every gold set of the package: ``<judge>``, or ``<judge>:<scenario>`` per scenario file."""
    names: list[str] = []
    for judge in judge_names():
        names += [f"{judge}:{s}" for s in scenario_names()] if judge in BY_SCENARIO else [judge]
    return tuple(names)


def split_name(name: str) -> tuple[str, str | None]:
    """A gold set's judge and scenario: ``behaviour:car_sales`` -> ``("behaviour", "car_sales")``,
    ``self_report`` -> ``("self_report", None)``."""
    judge, _, scenario = name.partition(":")
    return judge, scenario or None


def gold_path(name: str) -> Path:
    judge, scenario = split_name(name)
    return GOLD_DIR / judge / f"{scenario}.yaml" if scenario else GOLD_DIR / f"{judge}.yaml"


def load_gold(name: str) -> GoldSet:
    path = gold_path(name)
    judge, scenario = split_name(name)
    if scenario and not path.is_file():
        raise DataFileError(
            f"{path}: file not found: the {judge} judge has no gold set for the {scenario} scenario's "
            f"rubric (roleplay/scenarios/{scenario}.yaml); write one (see judge_validation/gold.py), or "
            f"leave {name} out of -T judges"
        )
    gold: GoldSet = validate_file(path, GoldSet)
    return gold


def few_shot(scenario: str | None) -> list[JudgeExample] | None:
    """The few-shot examples the task would use: a scenario's for the behaviour judge, else the file's."""
    return load_scenario(scenario).behaviour_judge.examples if scenario else None
