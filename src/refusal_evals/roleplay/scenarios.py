"""Load a role-play scenario file and turn it into Inspect samples."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageSystem, ChatMessageUser

from refusal_evals.core.files import validate_file
from refusal_evals.core.templates import fill
from refusal_evals.roleplay.schema import Scenario

SCENARIO_DIR = Path(__file__).parent / "scenarios"


def scenario_path(name: str) -> Path:
    return SCENARIO_DIR / f"{name}.yaml"


@lru_cache(maxsize=32)
def load_scenario(name_or_path: str) -> Scenario:
    """Load a built-in scenario by name (``car_sales``) or any scenario file by path."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = scenario_path(name_or_path)
    scenario: Scenario = validate_file(path, Scenario)
    return scenario


def follow_up_text(scenario: Scenario, turn: int, values: dict[str, str]) -> str:
    """The other party's message at follow-up ``turn`` (1-based), without the format request."""
    return fill(scenario.follow_ups[turn - 1], values)


def scenario_samples(
    scenario: Scenario, conditions: list[str], variants: list[str] | None = None
) -> MemoryDataset:
    """One sample per (variant, condition): the system prompt and the authority's request.

    The solver adds the injected (or generated) reply and the follow-up turns. ``condition`` and
    ``variant`` are sample metadata so that metrics group by them and the viewer can filter.
    """
    chosen = scenario.variants
    if variants:
        chosen = [scenario.variant(v) for v in variants]
    samples = []
    for variant in chosen:
        for condition in conditions:
            samples.append(
                Sample(
                    id=f"{variant.id}-{condition}",
                    input=[
                        ChatMessageSystem(content=fill(scenario.system_prompt, variant.vars)),
                        ChatMessageUser(content=fill(scenario.authority_request, variant.vars)),
                    ],
                    metadata={
                        "scenario": scenario.id,
                        "scenario_version": scenario.version,
                        "condition": condition,
                        "variant": variant.id,
                        **variant.metadata,
                        **{f"var_{k}": v for k, v in variant.vars.items()},
                    },
                )
            )
    return MemoryDataset(samples, name=scenario.id)
