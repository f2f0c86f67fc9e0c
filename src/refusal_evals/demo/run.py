"""``refusal-evals demo``: run every registered task offline against the scripted demo model,
then write the report."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspect_ai import eval as inspect_eval

from refusal_evals.core.registry import registered_tasks
from refusal_evals.demo.model import MODEL

DEMO_TURNS = 2
"""Tasks with a ``turns`` argument run with two follow-up turns, so the per-turn plot is shown."""

DEMO_COEFFS = "0"
"""The scripted demo model cannot be steered: honesty_steering runs unsteered (coefficient 0)."""


class DemoError(ValueError):
    """The demo was asked for a task that is not registered."""


@dataclass
class DemoResult:
    log_dir: Path
    report_dir: Path
    logs: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    report: Any = None


def _demo_args(fn: Any) -> dict[str, Any]:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    args: dict[str, Any] = {"turns": DEMO_TURNS} if "turns" in params else {}
    if "coeffs" in params:
        args["coeffs"] = DEMO_COEFFS
    return args


def run_demo(
    out_dir: str | Path = "demo",
    tasks: list[str] | None = None,
    limit: int | None = None,
    quiet: bool = True,
) -> DemoResult:
    """Run ``tasks`` (default: all registered) against ``refusal_evals_demo/scripted`` as both the
    model under test and the grader, write logs to ``out_dir/logs`` and the report to
    ``out_dir/report``."""
    out = Path(out_dir)
    result = DemoResult(log_dir=out / "logs", report_dir=out / "report")
    available = registered_tasks()
    chosen = tasks or list(available)
    unknown = [t for t in chosen if t not in available and f"refusal_evals/{t}" not in available]
    if unknown:
        raise DemoError(f"unknown task(s) {', '.join(unknown)}; registered: {', '.join(available)}")
    for name in chosen:
        full = name if name in available else f"refusal_evals/{name}"
        args = _demo_args(available[full])
        attempts = [args, {}] if args else [{}]
        for i, task_args in enumerate(attempts):
            try:
                [log] = inspect_eval(
                    full,
                    model=MODEL,
                    model_roles={"grader": MODEL},
                    task_args=task_args,
                    log_dir=str(result.log_dir),
                    limit=limit,
                    display="none" if quiet else "full",
                    log_level="error",
                    fail_on_error=False,
                )
            except Exception as ex:  # noqa: BLE001 - a task that cannot run offline is reported
                if i + 1 < len(attempts):
                    continue
                result.skipped.append(f"{full}: {type(ex).__name__}: {ex}")
                break
            if log.status != "success" and i + 1 < len(attempts):
                Path(log.location.removeprefix("file://")).unlink(missing_ok=True)
                continue
            result.logs.append(log.location)
            if log.status != "success":
                result.skipped.append(
                    f"{full}: status {log.status}: {log.error.message if log.error else ''}"
                )
            break
    from refusal_evals.report import write_report

    if result.logs:
        result.report = write_report(
            [result.log_dir],
            result.report_dir,
            title="refusal-evals demo report (scripted demo model, not an LLM)",
        )
    return result
