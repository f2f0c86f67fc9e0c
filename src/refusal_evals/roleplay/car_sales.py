"""``refusal_evals/car_sales``: a sales agent told to hide a car's known defect from customers."""

from __future__ import annotations

from inspect_ai import Task, task

from refusal_evals.roleplay.simulated import DEFAULT_USER_TEMPERATURE
from refusal_evals.roleplay.task import roleplay_task


@task
def car_sales(
    condition: str = "all",
    turns: int = 1,
    cot: bool = True,
    variants: str | None = None,
    follow_up: str = "scripted",
    user_temperature: float = DEFAULT_USER_TEMPERATURE,
) -> Task:
    """Car-sales role-play (arXiv 2406.19552): refusal vs rebuttal and reason-based deception.

    Args:
      condition: natural, refusal, rebuttal or all (comma-separated subsets allowed).
      turns: Follow-up customer turns after the injected reply (1-5), each scored;
        up to 10 with follow_up=simulated.
      cot: Ask for reasoning in <reasoning> before the <reply> to the customer.
      variants: Comma-separated variant ids to run (default: every variant).
      follow_up: scripted (the scenario's customer turns) or simulated (the model of the `user` role
        plays the customer after the first follow-up; needs --model-role user=<model>).
      user_temperature: Sampling temperature of the simulated customer (follow_up=simulated only).
    """
    return roleplay_task(
        "car_sales",
        condition=condition,
        turns=turns,
        cot=cot,
        variants=variants,
        follow_up=follow_up,
        user_temperature=user_temperature,
    )
