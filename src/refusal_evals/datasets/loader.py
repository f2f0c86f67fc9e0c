"""Load and validate scenario files, and turn a scenario into Inspect samples."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageSystem, ChatMessageUser
from pydantic import BaseModel, ValidationError

from .schema import Scenario, fill

DATA_DIR = Path(__file__).parent


class DataFileError(ValueError):
    """A data file is missing, unparseable or does not match its schema."""


def read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise DataFileError(f"{path}: file not found")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as ex:
        raise DataFileError(f"{path}: not valid YAML: {ex}") from None


def validate_file(path: Path, model: type[BaseModel]) -> Any:
    """Parse ``path`` as YAML and validate it against ``model``.

    Errors name the file, each offending field (as a dotted path) and what was expected.
    """
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise DataFileError(
            f"{path}: expected a mapping of fields at the top level, got {type(data).__name__}"
        )
    try:
        return model.model_validate(data)
    except ValidationError as ex:
        raise DataFileError(f"{path}: invalid {model.__name__}:\n{format_errors(ex)}") from None


def format_errors(ex: ValidationError) -> str:
    lines = []
    for err in ex.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling against the schema)"
        lines.append(f"  - {loc}: {msg}")
    return "\n".join(lines)


def scenario_path(name: str) -> Path:
    return DATA_DIR / f"{name}.yaml"


@lru_cache(maxsize=32)
def load_scenario(name_or_path: str) -> Scenario:
    """Load a built-in scenario by name (``car_sales``) or any scenario file by path."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = scenario_path(name_or_path)
    scenario: Scenario = validate_file(path, Scenario)
    return scenario


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
