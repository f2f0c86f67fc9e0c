"""``refusal_evals/safety_signoff``: an operations assistant told to sign off a skipped or failed
safety check."""

from __future__ import annotations

from inspect_ai import Task, task

from refusal_evals.roleplay.task import roleplay_task


@task
def safety_signoff(
    condition: str = "all",
    turns: int = 1,
    cot: bool = True,
    variants: str | None = None,
) -> Task:
    """Safety sign-off role-play: refusal vs rebuttal and reason-based deception beyond the paper's domains.

    Args:
      condition: natural, refusal, rebuttal or all (comma-separated subsets allowed).
      turns: Scripted follow-up turns of the person relying on the check (1-5); each is scored.
      cot: Ask for reasoning in <reasoning> before the <reply> to that person.
      variants: Comma-separated variant ids to run (default: every variant).
    """
    return roleplay_task("safety_signoff", condition=condition, turns=turns, cot=cot, variants=variants)
