"""Interval estimates and tests, one definition each (used by the metrics and by the report).

Intervals for 0/1 observations come from Inspect's own metrics, called on ``SampleScore`` lists built
here: :func:`wilson_interval` is ``ci_wilson()`` (every observation an independent draw) and
:func:`clustered_wilson` is ``ci_wilson(cluster=...)`` (Korn-Graubard effective sample size from the
clustered variance, Student-t critical value with ``clusters - 1`` degrees of freedom);
:func:`clustered_stderr` is ``stderr(cluster=...)`` (Miller 2024, "Adding Error Bars to Evals",
arXiv 2411.00640, Appendix A, with a finite-cluster correction). Tests come from scipy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from typing import cast

import numpy as np
from inspect_ai.scorer import Metric, SampleScore, Score, Value, ci, ci_wilson, stderr
from scipy.stats import fisher_exact, permutation_test

CLUSTER = "cluster"
"""Metadata key of the sample scores built here for Inspect's clustered metrics."""
EXACT_UP_TO = 2**16
"""Permutations drawn by :func:`paired_permutation_p`: every one of the ``2**k`` sign patterns (an
exact test) up to 16 pairs; beyond that this many random ones from a fixed seed (deterministic)."""
SEED = 20241101

Obs = tuple[Hashable, float]
"""One observation: (cluster id, value)."""


def sample_scores(obs: Sequence[Obs]) -> list[SampleScore]:
    """Observations as Inspect ``SampleScore``s whose metadata ``cluster`` is the cluster id."""
    return [
        SampleScore.model_construct(
            score=Score.model_construct(value=float(v)), sample_id=i, sample_metadata={CLUSTER: c}
        )
        for i, (c, v) in enumerate(obs)
    ]


def _apply(metric: Metric, obs: Sequence[Obs]) -> Value:
    return cast(Callable[[list[SampleScore]], Value], metric)(sample_scores(obs))


def _bounds(metric: Metric, obs: Sequence[Obs]) -> tuple[float, float]:
    result = _apply(metric, obs)
    assert isinstance(result, dict)
    lo, hi = float(result["lower"]), float(result["upper"])  # type: ignore[arg-type]
    return _snap(lo), _snap(hi)


def _snap(x: float) -> float:
    """Float noise at a bound (a Wilson limit of 0 of n is exactly 0) removed."""
    for bound in (0.0, 1.0):
        if abs(x - bound) < 1e-12:
            return bound
    return x


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for ``successes`` of ``n`` independent draws (Inspect's ``ci_wilson()``);
    ``(nan, nan)`` when ``n == 0``."""
    if n <= 0:
        return math.nan, math.nan
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n]; got {successes} of {n}")
    obs = [(i, 1.0) for i in range(successes)] + [(i, 0.0) for i in range(successes, n)]
    return _bounds(ci_wilson(level=level), obs)


def clustered_wilson(obs: Sequence[Obs]) -> tuple[float, float]:
    """Inspect's ``ci_wilson(cluster=...)``: 95% Wilson interval with the Korn-Graubard effective
    sample size and a t critical value with ``clusters - 1`` df; ``(nan, nan)`` with fewer than two
    clusters (the clustered variance is not estimable; never replaced by another interval).

    At a rate of exactly 0 or 1 there is no variance to estimate the effective size from, and
    ``ci_wilson`` counts every observation (only the t critical value widens the interval): read
    such a bound together with the number of clusters (a gate can ask for ``min_clusters``). Counting
    one observation per cluster there instead would be safer for that case but not monotonic: one
    failure in 120 would then give a tighter bound than none."""
    if len({c for c, _ in obs}) < 2:
        return math.nan, math.nan
    return _bounds(ci_wilson(cluster=CLUSTER), obs)


def clustered_stderr(obs: Sequence[Obs]) -> float:
    """Inspect's ``stderr(cluster=...)`` of the mean of ``obs``; nan with fewer than two clusters."""
    if len({c for c, _ in obs}) < 2:
        return math.nan
    return float(_apply(stderr(cluster=CLUSTER), obs))  # type: ignore[arg-type]


def fisher_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided Fisher exact p-value comparing k1/n1 with k2/n2; nan if either n is 0."""
    if n1 <= 0 or n2 <= 0:
        return math.nan
    _, p = fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative="two-sided")
    return float(p)


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x - y, axis=axis)


def paired_permutation_p(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Two-sided permutation test of paired values (``xs[i]`` with ``ys[i]``: one cluster under two
    conditions): the labels are swapped within each pair (scipy ``permutation_test``,
    ``permutation_type='samples'``), statistic the mean difference. Exact enumeration of the
    ``2**k`` swaps up to :data:`EXACT_UP_TO`; nan without pairs."""
    if len(xs) != len(ys):
        raise ValueError(f"paired values differ in length: {len(xs)} and {len(ys)}")
    if not xs:
        return math.nan
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if len(xs) == 1 or np.all(x == y):
        return 1.0  # one pair: its two labellings are equally extreme; no difference: nothing to test
    result = permutation_test(
        (x, y),
        _mean_difference,
        permutation_type="samples",
        vectorized=True,
        n_resamples=EXACT_UP_TO,
        alternative="two-sided",
        rng=np.random.default_rng(SEED),
    )
    return min(1.0, float(result.pvalue))


def mean_interval(values: list[float], level: float = 0.95) -> tuple[float, float]:
    """Student-t interval for a mean (Inspect's ``ci(method="t")``); ``(nan, nan)`` with fewer than
    two values.

    For bounded scores (e.g. harm scores in [0, 1]) clip to the bounds where you report it.
    """
    if len(values) < 2:
        return math.nan, math.nan
    obs = [(i, v) for i, v in enumerate(values)]
    return _bounds(ci(level=level), obs)
