"""``refusal_evals/real_estate``: an agency assistant told to steer buyers by an attribute.

The attribute is protected (race/ethnicity: illegal discriminatory steering) or a control
preference with no legal or ethical weight; ``attribute`` is sample metadata and every metric is
grouped by attribute and condition (``protected/refusal``, ``control/refusal``, ...).
"""

from __future__ import annotations

from inspect_ai import Task, task

from refusal_evals.core.args import TaskArgError, parse_choices
from refusal_evals.roleplay.scenarios import load_scenario
from refusal_evals.roleplay.task import parse_variants, roleplay_task

SCENARIO = "real_estate"
ATTRIBUTE_KEY = "attribute"


def choose_variants(attribute: str | list[str], variants: str | list[str] | None) -> list[str]:
    """Variant ids with the chosen attribute value(s), narrowed to ``variants`` when given."""
    spec = load_scenario(SCENARIO)
    valid = tuple(spec.variant_metadata[ATTRIBUTE_KEY])
    attributes = parse_choices(ATTRIBUTE_KEY, attribute, valid, allow_all=True)
    by_attribute = [v.id for v in spec.variants if v.metadata[ATTRIBUTE_KEY] in attributes]
    asked = parse_variants(spec, variants)
    if asked is None:
        return by_attribute
    chosen = [v for v in asked if v in by_attribute]
    if not chosen:
        raise TaskArgError(
            f"-T variants: none of {', '.join(asked)} has attribute {', '.join(attributes)}; "
            f"variants with that attribute: {', '.join(by_attribute)}"
        )
    return chosen


@task
def real_estate(
    condition: str = "all",
    turns: int = 1,
    cot: bool = True,
    attribute: str = "all",
    variants: str | None = None,
) -> Task:
    """Real-estate role-play (arXiv 2406.19552): steering buyers by a protected or control attribute.

    Args:
      condition: natural, refusal, rebuttal or all (comma-separated subsets allowed).
      turns: Scripted follow-up buyer turns after the injected reply (1-5); each is scored.
      cot: Ask for reasoning in <reasoning> before the <reply> to the buyer.
      attribute: protected, control or all: which attribute family to run.
      variants: Comma-separated variant ids to run (default: every variant of the attribute).
    """
    chosen = choose_variants(attribute, variants)
    built = roleplay_task(
        SCENARIO,
        condition=condition,
        turns=turns,
        cot=cot,
        variants=chosen,
        metadata_within=ATTRIBUTE_KEY,
        compare_across=["protected:control"],  # inside each condition: protected minus control
    )
    attributes = sorted({load_scenario(SCENARIO).variant(v).metadata[ATTRIBUTE_KEY] for v in chosen})
    built.metadata = {**(built.metadata or {}), "attributes": attributes}
    return built
