"""``refusal_evals/judge_validation``: how well does a grader model agree with our gold labels?

Runs each judge of the package on its gold sets (see :mod:`refusal_evals.judge_validation.gold`:
``gold/<judge>.yaml``, and ``gold/behaviour/<scenario>.yaml`` per scenario rubric) with the grader
bound to the ``grader`` role, exactly as the other tasks call it, and reports per judge and per gold
set the accuracy, Cohen's kappa, per-label precision and recall, the confusion matrix and the
unparseable rate (see :mod:`refusal_evals.judge_validation.scorer`). The model under test is not
called; pass the grader as ``--model`` too so that logs and gate policies (``model:``) name it.
"""

from __future__ import annotations

from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.solver import Generate, Solver, TaskState, solver

from refusal_evals.core.args import check_grader_bound, parse_choices
from refusal_evals.core.files import DataFileError
from refusal_evals.core.identity import EXPERIMENT_KEY, experiment_record, judge_files
from refusal_evals.judge_validation.gold import (
    BY_SCENARIO,
    GOLD_DIR,
    RUBRIC_FIELDS,
    GoldCase,
    GoldSet,
    gold_path,
    gold_set_names,
    load_gold,
    split_name,
)
from refusal_evals.judge_validation.scorer import judge_labels, judge_validation_scorer
from refusal_evals.judges.framework import PROMPTS_DIR, judge_names, load_judge_prompt
from refusal_evals.roleplay.scenarios import SCENARIO_DIR, load_scenario


def _check_header(name: str, gold: GoldSet) -> None:
    judge, scenario = split_name(name)
    path = gold_path(name)
    if gold.judge != judge:
        raise DataFileError(f"{path}: judge: {gold.judge!r}, expected {judge!r}")
    if gold.scenario != scenario:
        expected = f"{scenario!r} (the file name)" if scenario else "none (only gold/<judge>/*.yaml have one)"
        raise DataFileError(f"{path}: scenario: {gold.scenario!r}, expected {expected}")
    if scenario and (given := sorted(set(RUBRIC_FIELDS) & set(gold.shared))):
        raise DataFileError(f"{path}: shared: {given} come from the {scenario} scenario's rubric (remove)")


def _check_case(name: str, gold: GoldSet, i: int, case: GoldCase) -> dict[str, str]:
    """The case's prompt fields, after checking its label, variant and fields against the judge."""
    judge, scenario = split_name(name)
    where = f"{gold_path(name)}: cases.{i} ({case.id})"
    labels, needed = judge_labels(judge), load_judge_prompt(judge).case_fields()
    if case.label not in labels:
        raise DataFileError(f"{where}: label {case.label!r} is not one of {labels}")
    if case.variant and not scenario:
        raise DataFileError(f"{where}: variant is only for the gold sets of a scenario rubric")
    if scenario and case.variant:
        variants = [v.id for v in load_scenario(scenario).variants]
        if case.variant not in variants:
            raise DataFileError(f"{where}: variant {case.variant!r} is not one of {', '.join(variants)}")
        if "context" in case.fields:
            raise DataFileError(f"{where}: fields: give context or variant, not both")
    if scenario and (given := sorted(set(RUBRIC_FIELDS) & set(case.fields))):
        raise DataFileError(f"{where}: fields: {given} come from the {scenario} scenario's rubric (remove)")
    fields = gold.case_fields(case)
    if missing := needed - set(fields):
        raise DataFileError(f"{where}: fields missing {sorted(missing)}")
    if extra := set(fields) - needed:
        raise DataFileError(f"{where}: fields {sorted(extra)} are not used by judge {judge}")
    return fields


def gold_samples(name: str) -> list[Sample]:
    """The cases of one gold set (``consistency``, ``behaviour:car_sales``, ...), checked against the
    judge's labels and fields (and the scenario's variants)."""
    gold = load_gold(name)
    _check_header(name, gold)
    judge = gold.judge
    seen: set[str] = set()
    samples = []
    for i, case in enumerate(gold.cases):
        if case.id in seen:
            raise DataFileError(f"{gold_path(name)}: cases.{i} ({case.id}): duplicate id")
        seen.add(case.id)
        samples.append(
            Sample(
                id=f"{name}/{case.id}",
                input=f"[{name}] {case.id}",
                target=case.label,
                metadata={
                    "judge": judge,
                    "gold_set": name,
                    "gold": case.label,
                    "rationale": case.rationale,
                    "tags": case.tags,
                    "scenario": gold.scenario,
                    "variant": case.variant,
                    "fields": _check_case(name, gold, i, case),
                },
            )
        )
    return samples


def choose_gold_sets(judges: Any) -> list[str]:
    """The gold sets ``-T judges=`` names: gold sets, a judge with one set per scenario rubric
    (``behaviour``: all of them), or ``all``."""
    names = gold_set_names()
    families = {j: [n for n in names if split_name(n)[0] == j] for j in BY_SCENARIO}
    valid = tuple(sorted({*names, *(j for j, sets in families.items() if sets)}))
    chosen = parse_choices("judges", judges, valid, allow_all=True)
    return list(dict.fromkeys(s for c in chosen for s in families.get(c, [c])))


@solver
def no_generation() -> Solver:
    """The model under test is not asked anything: the judges are the subject."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        return state

    return solve


@task
def judge_validation(judges: str = "all") -> Task:
    """Agreement of the grader (``--model-role grader=...``) with our gold labels, per judge.

    Args:
      judges: Comma-separated gold sets to validate (default: all): a judge (``consistency``,
        ``harmfulness``, ...: one per ``judges/prompts/*.yaml``), a behaviour rubric
        (``behaviour:car_sales``, one per role-play scenario) or ``behaviour`` (every rubric).
    """
    chosen = choose_gold_sets(judges)
    samples = [s for name in chosen for s in gold_samples(name)]
    check_grader_bound()
    meta: dict[str, Any] = {"judges": chosen, "gold_dir": str(GOLD_DIR.name)}
    # every gold set, judge prompt and scenario rubric, whichever gold sets were chosen
    meta[EXPERIMENT_KEY] = experiment_record(
        "judge_validation",
        "judge_validation",
        "1-B",
        {},
        files={"gold": GOLD_DIR, "scenarios": SCENARIO_DIR},
        judges=judge_files(PROMPTS_DIR, *judge_names()),
    )
    return Task(
        dataset=MemoryDataset(samples, name="judge_validation"),
        solver=no_generation(),
        scorer=judge_validation_scorer(),
        version="1-B",
        metadata=meta,
    )
