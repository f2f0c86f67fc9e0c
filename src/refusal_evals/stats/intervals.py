"""Interval estimates and exact tests for rates (used by metrics and by the report)."""

from __future__ import annotations

import math

from scipy.stats import fisher_exact
from scipy.stats import t as student_t

Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; ``(nan, nan)`` when ``n == 0``."""
    if n <= 0:
        return math.nan, math.nan
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n]; got {successes} of {n}")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def fisher_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided Fisher exact p-value comparing k1/n1 with k2/n2; nan if either n is 0."""
    if n1 <= 0 or n2 <= 0:
        return math.nan
    _, p = fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative="two-sided")
    return float(p)


def mean_interval(values: list[float], level: float = 0.95) -> tuple[float, float]:
    """Student-t interval for a mean; ``(nan, nan)`` with fewer than two values.

    For bounded scores (e.g. harm scores in [0, 1]) clip to the bounds where you report it.
    """
    n = len(values)
    if n < 2:
        return math.nan, math.nan
    m = sum(values) / n
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
    half = float(student_t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return m - half, m + half
