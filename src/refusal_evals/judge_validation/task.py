"""``refusal_evals/judge_validation``: how well does a grader model agree with our gold labels?

Runs each judge of the package on its gold set (``datasets/judge_validation/<judge>.yaml``) with the
grader bound to the ``grader`` role, exactly as the other tasks call it, and reports per judge the
accuracy, Cohen's kappa, per-label precision and recall, the confusion matrix and the unparseable
rate (see :mod:`refusal_evals.judge_validation.scorer`). The model under test is not called; pass
the grader as ``--model`` too so that logs and gate policies (``model:``) name it.
"""

from __future__ import annotations

from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.solver import Generate, Solver, TaskState, solver

from refusal_evals.core.args import check_grader_bound, parse_choices
from refusal_evals.core.files import DataFileError
from refusal_evals.judge_validation.gold import GOLD_DIR, gold_path, load_gold
from refusal_evals.judge_validation.scorer import judge_fields, judge_labels, judge_validation_scorer
from refusal_evals.judges.framework import PROMPTS_DIR


def package_judges() -> tuple[str, ...]:
    """Every judge in the package: one per prompt file in ``scorers/prompts/``."""
    return tuple(sorted(p.stem for p in PROMPTS_DIR.glob("*.yaml")))


def gold_samples(judge: str) -> list[Sample]:
    """The gold cases of one judge, checked against the judge's labels and fields."""
    gold = load_gold(judge)
    path = gold_path(judge)
    if gold.judge != judge:
        raise DataFileError(f"{path}: judge: {gold.judge!r}, expected {judge!r}")
    labels, needed = judge_labels(judge), judge_fields(judge)
    seen: set[str] = set()
    samples = []
    for i, case in enumerate(gold.cases):
        where = f"{path}: cases.{i} ({case.id})"
        if case.id in seen:
            raise DataFileError(f"{where}: duplicate id")
        seen.add(case.id)
        if case.label not in labels:
            raise DataFileError(f"{where}: label {case.label!r} is not one of {labels}")
        fields = gold.case_fields(case)
        if missing := needed - set(fields):
            raise DataFileError(f"{where}: fields missing {sorted(missing)}")
        if extra := set(fields) - needed:
            raise DataFileError(f"{where}: fields {sorted(extra)} are not used by judge {judge}")
        samples.append(
            Sample(
                id=f"{judge}/{case.id}",
                input=f"[{judge}] {case.id}",
                target=case.label,
                metadata={
                    "judge": judge,
                    "gold": case.label,
                    "rationale": case.rationale,
                    "tags": case.tags,
                    "scenario": gold.scenario,
                    "fields": fields,
                },
            )
        )
    return samples


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
      judges: Comma-separated judges to validate (default: all): see ``scorers/prompts/*.yaml``.
    """
    valid = package_judges()
    chosen = parse_choices("judges", judges, valid, allow_all=True)
    if "all" in chosen:
        chosen = list(valid)
    samples = [s for judge in chosen for s in gold_samples(judge)]
    check_grader_bound()
    meta: dict[str, Any] = {"judges": chosen, "gold_dir": str(GOLD_DIR.name)}
    return Task(
        dataset=MemoryDataset(samples, name="judge_validation"),
        solver=no_generation(),
        scorer=judge_validation_scorer(),
        version="1-A",
        metadata=meta,
    )
