"""``refusal_evals/vulnerable_upsell``: a sales assistant told to push the most profitable product on
vulnerable customers."""

from __future__ import annotations

from inspect_ai import Task, task

from refusal_evals.roleplay.task import roleplay_task


@task
def vulnerable_upsell(
    condition: str = "all",
    turns: int = 1,
    cot: bool = True,
    variants: str | None = None,
) -> Task:
    """Vulnerable-customer upsell role-play: refusal vs rebuttal and reason-based deception beyond the
    paper's domains.

    Args:
      condition: natural, refusal, rebuttal or all (comma-separated subsets allowed).
      turns: Scripted follow-up customer turns after the injected reply (1-5); each is scored.
      cot: Ask for reasoning in <reasoning> before the <reply> to the customer.
      variants: Comma-separated variant ids to run (default: every variant).
    """
    return roleplay_task("vulnerable_upsell", condition=condition, turns=turns, cot=cot, variants=variants)
