"""Validation of ``-T`` task arguments: clear errors that name the argument and the valid values.

Inspect parses ``-T key=value`` values as YAML, so ``-T turns=3`` arrives as ``3`` and ``-T cot=false``
as ``False``; the same arguments given from Python arrive typed. Both are accepted.
"""

from __future__ import annotations

from typing import Any

from inspect_ai.model import model_roles

from refusal_evals.core.errors import UserError

GRADER_ROLE = "grader"
"""Inspect model role of every judge (``--model-role grader=...``)."""


class TaskArgError(UserError):
    """A task argument has a value the task cannot run with (Inspect prints only the message)."""


def parse_choices(name: str, value: Any, valid: tuple[str, ...], *, allow_all: bool) -> list[str]:
    """A comma-separated string or list of values from ``valid`` (or ``all``)."""
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    chosen = [str(i).strip() for i in items if str(i).strip()]
    shown = ", ".join(valid) + (", all" if allow_all else "")
    if not chosen:
        raise TaskArgError(f"-T {name}: no value given; valid values: {shown}")
    if allow_all and chosen == ["all"]:
        return list(valid)
    bad = [c for c in chosen if c not in valid]
    if bad:
        raise TaskArgError(
            f"-T {name}: unknown value{'s' if len(bad) > 1 else ''} {', '.join(bad)}; "
            f"valid values: {shown} (several may be given, comma-separated)"
        )
    return list(dict.fromkeys(chosen))


def parse_int(name: str, value: Any, *, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TaskArgError(f"-T {name}: expected a whole number, got {value!r}")
    try:
        n = int(value)
    except ValueError:
        raise TaskArgError(f"-T {name}: expected a whole number, got {value!r}") from None
    if n < minimum or (maximum is not None and n > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise TaskArgError(f"-T {name}: must be at least {minimum}{upper}; got {n}")
    return n


def parse_float(name: str, value: Any, *, minimum: float, maximum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TaskArgError(f"-T {name}: expected a number, got {value!r}")
    try:
        x = float(value)
    except ValueError:
        raise TaskArgError(f"-T {name}: expected a number, got {value!r}") from None
    if not minimum <= x <= maximum:  # NaN fails too
        raise TaskArgError(f"-T {name}: must be between {minimum:g} and {maximum:g}; got {value!r}")
    return x


def parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise TaskArgError(f"-T {name}: expected true or false, got {value!r}")


def check_role_bound(role: str, needed_for: str, example: str, use: str) -> None:
    """Fail before any model call when model role ``role`` is not bound (never a silent fallback to
    the model under test). ``needed_for``: what needs it; ``use``: what the role does, as in
    "To <use> with the model under test, bind it explicitly"."""
    if role not in model_roles():
        raise TaskArgError(
            f"no '{role}' model bound: {needed_for}. Pass "
            f"--model-role {role}=<model> (for example "
            f"--model-role {role}={example}), or model_roles={{'{role}': ...}} "
            f"to eval(). To {use} with the model under test, bind it explicitly: "
            f"--model-role {role}=<the same model>."
        )


def check_grader_bound() -> None:
    """Fail before any model call when no grader is bound (the model under test never grades
    itself silently)."""
    check_role_bound(GRADER_ROLE, "the judges need one", "openai/gpt-4o", "grade")
