"""Task-specific figures for ``refusal-evals report``: a small generic hook.

``TASK_FIGURES`` maps a task's short name to figure functions given as ``"module:function"`` strings
(imported only when a log of that task is in the report), each called as ``function(config, path)``
with the report's ``Config`` of that task and the PNG path to write; it returns the path, or None
when it has nothing to draw. A failing figure is reported as a warning, never a failed report.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

TASK_FIGURES: dict[str, list[tuple[str, str, str]]] = {
    # task short name: [(function, file suffix, alt text)]
    "honesty_steering": [
        (
            "refusal_evals.repe.plots:report_figure",
            "tradeoff",
            "harm, refusals and inability claims against the honesty-steering coefficient (95% intervals)",
        )
    ],
}


def task_figures(config: Any, plots_dir: Path, warnings: list[str] | None = None) -> list[tuple[Path, str]]:
    """The extra figures registered for ``config``'s task: ``[(png, alt text)]``."""
    out: list[tuple[Path, str]] = []
    for target, suffix, alt in TASK_FIGURES.get(config.task.split("/")[-1], []):
        module, _, name = target.partition(":")
        try:
            fig = getattr(importlib.import_module(module), name)(
                config, plots_dir / f"{config.slug}_{suffix}.png"
            )
        except Exception as ex:  # a figure must never break the report
            message = f"{config.task}: figure {suffix} failed: {ex}"
            logging.getLogger(__name__).warning(message)
            if warnings is not None:
                warnings.append(message)
            continue
        if fig:
            out.append((Path(fig), alt))
    return out
