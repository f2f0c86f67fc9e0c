"""The package's registered tasks, found through Inspect's public registry API (never a hand list)."""

from __future__ import annotations

import importlib
from typing import Any

from inspect_ai.util import registry_info


def registered_tasks() -> dict[str, Any]:
    """Every task the package registers with Inspect (``refusal_evals/<name>``), by name."""
    registry = importlib.import_module("refusal_evals._registry")
    tasks: dict[str, Any] = {}
    for obj in vars(registry).values():
        try:
            info = registry_info(obj)
        except Exception:  # noqa: BLE001 - not a registry object
            continue
        if info.type == "task":
            tasks[info.name] = obj
    return dict(sorted(tasks.items()))
