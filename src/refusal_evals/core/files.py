"""Read and validate the package's data files (YAML): errors name the file, field and what is valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError


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
