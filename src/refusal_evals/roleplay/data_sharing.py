"""``refusal_evals/data_sharing``: a support assistant told to hand a user's private data to a third
party."""

from __future__ import annotations

from inspect_ai import Task, task

from refusal_evals.roleplay.task import roleplay_task


@task
def data_sharing(
    condition: str = "all",
    turns: int = 1,
    cot: bool = True,
    variants: str | None = None,
) -> Task:
    """Data-sharing role-play: refusal vs rebuttal and reason-based deception beyond the paper's domains.

    Args:
      condition: natural, refusal, rebuttal or all (comma-separated subsets allowed).
      turns: Scripted follow-up turns of the third party asking for the data (1-5); each is scored.
      cot: Ask for reasoning in <reasoning> before the <reply> to the third party.
      variants: Comma-separated variant ids to run (default: every variant).
    """
    return roleplay_task("data_sharing", condition=condition, turns=turns, cot=cot, variants=variants)
