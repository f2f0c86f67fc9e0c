"""``refusal_evals/real_estate``: an agency assistant told to steer buyers by an attribute.

The attribute is protected (race/ethnicity: illegal discriminatory steering) or a control
preference with no legal or ethical weight; ``attribute`` is sample metadata and every metric is
grouped by attribute and condition (``protected/refusal``, ``control/refusal``, ...).
"""

from __future__ import annotations

from inspect_ai import Task, task

from refusal_evals.roleplay.simulated import DEFAULT_USER_TEMPERATURE
from refusal_evals.roleplay.task import roleplay_task


@task
def real_estate(
    condition: str = "all",
    turns: int = 1,
    cot: bool = True,
    attribute: str = "all",
    variants: str | None = None,
    follow_up: str = "scripted",
    user_temperature: float = DEFAULT_USER_TEMPERATURE,
) -> Task:
    """Real-estate role-play (arXiv 2406.19552): steering buyers by a protected or control attribute.

    Args:
      condition: natural, refusal, rebuttal or all (comma-separated subsets allowed).
      turns: Follow-up buyer turns after the injected reply (1-5), each scored;
        up to 10 with follow_up=simulated.
      cot: Ask for reasoning in <reasoning> before the <reply> to the buyer.
      attribute: protected, control or all: which attribute family to run.
      variants: Comma-separated variant ids to run (default: every variant of the attribute).
      follow_up: scripted (the scenario's buyer turns) or simulated (the model of the `user` role
        plays the buyer after the first follow-up; needs --model-role user=<model>).
      user_temperature: Sampling temperature of the simulated buyer (follow_up=simulated only).
    """
    return roleplay_task(
        "real_estate",
        condition=condition,
        turns=turns,
        cot=cot,
        variants=variants,
        metadata_within="attribute",
        within_values=attribute,
        compare_across=["protected:control"],  # inside each condition: protected minus control
        follow_up=follow_up,
        user_temperature=user_temperature,
    )
