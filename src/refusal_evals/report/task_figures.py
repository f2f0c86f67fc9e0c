"""Task-specific figures for ``refusal-evals report``: a small registry.

An evaluation registers a figure for its task with :func:`register_figure`; the function is called as
``function(config, path)`` with the report's ``Config`` of that task and the PNG path to write, and
returns the path, or None when it has nothing to draw. Registrations happen when the evaluation's
modules are imported; the report imports the package registry (every evaluation) before it looks.
A failing figure is reported as a warning, never a failed report.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FigureFn = Callable[[Any, Path], "Path | None"]


@dataclass(frozen=True)
class TaskFigure:
    fn: FigureFn
    suffix: str
    """file-name suffix of the PNG (``<config slug>_<suffix>.png``)"""
    alt: str
    """alt text / caption"""


TASK_FIGURES: dict[str, list[TaskFigure]] = {}
"""task short name -> its registered figures"""


def register_figure(task: str, suffix: str, alt: str) -> Callable[[FigureFn], FigureFn]:
    """Decorator: draw ``fn(config, path)`` in the report of every configuration of ``task``."""

    def add(fn: FigureFn) -> FigureFn:
        figures = TASK_FIGURES.setdefault(task, [])
        if all(f.suffix != suffix for f in figures):
            figures.append(TaskFigure(fn, suffix, alt))
        return fn

    return add


def task_figures(config: Any, plots_dir: Path, warnings: list[str] | None = None) -> list[tuple[Path, str]]:
    """The extra figures registered for ``config``'s task: ``[(png, alt text)]``."""
    importlib.import_module("refusal_evals._registry")  # every evaluation registers its figures
    out: list[tuple[Path, str]] = []
    for figure in TASK_FIGURES.get(config.task.split("/")[-1], []):
        try:
            fig = figure.fn(config, plots_dir / f"{config.slug}_{figure.suffix}.png")
        except Exception as ex:  # a figure must never break the report
            message = f"{config.task}: figure {figure.suffix} failed: {ex}"
            logging.getLogger(__name__).warning(message)
            if warnings is not None:
                warnings.append(message)
            continue
        if fig:
            out.append((Path(fig), figure.alt))
    return out
