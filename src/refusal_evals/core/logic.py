"""Three-valued logic for measures: 1.0 (yes), 0.0 (no), NaN (unscored: could not be decided).

A measure the judges could not decide is NaN and stays NaN through ``any_of``/``all_of`` unless the
known values already decide the result (``any_of(1, nan) == 1``, ``all_of(0, nan) == 0``).
``None`` is a different thing: "not applicable" (e.g. a report judged only when the agent traded);
metrics leave it out of the denominator and do not count it as unscored.
"""

from __future__ import annotations

import math

NAN = float("nan")

UNSCORED_KEY = "unscored_measures"
"""Name of the score that counts, per observation, the measures left unscored."""


def any_of(*xs: float) -> float:
    """Three-valued OR."""
    if any(x == 1.0 for x in xs):
        return 1.0
    return NAN if any(math.isnan(x) for x in xs) else 0.0


def all_of(*xs: float) -> float:
    """Three-valued AND."""
    if any(x == 0.0 for x in xs):
        return 0.0
    return NAN if any(math.isnan(x) for x in xs) else 1.0


def flag(label: str | int | None, positive: str | int = 1) -> float:
    """1.0 when ``label`` is ``positive``, 0.0 when it is anything else, NaN when it is ``None``."""
    if label is None:
        return NAN
    return 1.0 if label == positive else 0.0


def unscored_count(values: dict[str, float | None]) -> int:
    """How many of ``values`` are NaN (``None``, not applicable, is not unscored)."""
    return sum(1 for v in values.values() if v is not None and math.isnan(v))
