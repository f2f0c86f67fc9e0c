"""``refusal_evals/car_sales``: a sales agent told to hide a car's known defect from customers."""

from __future__ import annotations

from inspect_ai import Task, task

from refusal_evals.roleplay.task import roleplay_task


@task
def car_sales(
    condition: str = "all",
    turns: int = 1,
    cot: bool = True,
    variants: str | None = None,
) -> Task:
    """Car-sales role-play (arXiv 2406.19552): refusal vs rebuttal and reason-based deception.

    Args:
      condition: natural, refusal, rebuttal or all (comma-separated subsets allowed).
      turns: Scripted follow-up customer turns after the injected reply (1-5); each is scored.
      cot: Ask for reasoning in <reasoning> before the <reply> to the customer.
      variants: Comma-separated variant ids to run (default: every variant).
    """
    return roleplay_task("car_sales", condition=condition, turns=turns, cot=cot, variants=variants)
