"""Planning: how many epochs or variants a comparison needs to detect a difference.

Following Miller 2024 ("Adding Error Bars to Evals", arXiv 2411.00640, sections on clustered
standard errors, resampling and power): a rate difference measured on ``C`` variants with ``K``
epochs each has variance ``(B + W / K) / C``, where

- ``B`` (between) is the variance of the variants' own differences: how much the effect depends on
  the variant. Only more variants shrink it;
- ``W`` (within) is the variance of one draw inside a variant (both conditions together): the
  sampling noise that more epochs average away.

A two-sided test at level ``alpha`` detects a true difference ``delta`` with probability ``power``
when ``(z[1 - alpha/2] + z[power])**2 * (B + W / K) / C <= delta**2``. So with ``C`` variants, more
epochs help only while ``B < C * delta**2 / Z2``; beyond that (high intra-cluster correlation) only
more variants do. ``W`` needs at least two epochs per variant and group to be estimated; ``B`` is the
per-variant variance of the differences minus their sampling noise (at least 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import norm

from refusal_evals.stats.intervals import Obs
from refusal_evals.stats.rates import by_cluster

NAN = math.nan


@dataclass(frozen=True)
class Components:
    """Variance components of a difference, as measured."""

    clusters: int
    """variants the difference rests on (paired: present in both groups; unpaired: the smaller group)"""
    epochs: float
    """observations per variant and group, on average"""
    between: float
    within: float
    observed: float
    """variance of the per-variant differences at the current epochs (``B + W / K``)"""

    @property
    def icc(self) -> float:
        """Share of one draw's variance that is the variant's (intra-cluster correlation)."""
        total = self.between + self.within
        return self.between / total if total > 0 else NAN


@dataclass(frozen=True)
class Plan:
    delta: float
    variants_now: int | None
    """variants needed at the current epochs per variant"""
    epochs_now: int | None
    """epochs needed with the current variants; None when no number of epochs is enough"""
    variants_min: int | None
    """variants needed however many epochs are run"""
    epochs_help: bool | None
    """whether more epochs can reach ``delta`` with the current variants (None: not estimable)"""
    note: str = ""
    """why something is not estimable"""


def _variance(xs: Sequence[float]) -> float:
    if len(xs) < 2:
        return NAN
    m = sum(xs) / len(xs)
    return sum((x - m) ** 2 for x in xs) / (len(xs) - 1)


def _cluster_stats(values: list[float]) -> tuple[float, int, float]:
    """(mean, count, unbiased within-cluster variance of one draw; nan with one value)."""
    m, n = sum(values) / len(values), len(values)
    return m, n, (sum((v - m) ** 2 for v in values) / (n - 1) if n > 1 else NAN)


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else NAN


def paired_components(a: Sequence[Obs], b: Sequence[Obs]) -> Components:
    """Components of a difference of two conditions over the variants present in both."""
    ca, cb = by_cluster(a), by_cluster(b)
    shared = [c for c in ca if c in cb]
    stats = [(_cluster_stats(ca[c]), _cluster_stats(cb[c])) for c in shared]
    diffs = [sa[0] - sb[0] for sa, sb in stats]
    noise = [sa[2] / sa[1] + sb[2] / sb[1] for sa, sb in stats]
    observed = _variance(diffs)
    return Components(
        clusters=len(shared),
        epochs=_mean([(sa[1] + sb[1]) / 2 for sa, sb in stats]),
        between=max(0.0, observed - _mean(noise)) if not math.isnan(observed) else NAN,
        within=_mean([sa[2] + sb[2] for sa, sb in stats]),
        observed=observed,
    )


def unpaired_components(a: Sequence[Obs], b: Sequence[Obs]) -> Components:
    """Components of a difference of two groups of different variants (equal variants per group
    assumed when planning)."""
    parts = []
    for obs in (a, b):
        stats = [_cluster_stats(v) for v in by_cluster(obs).values()]
        observed = _variance([s[0] for s in stats])
        noise = _mean([s[2] / s[1] for s in stats])
        parts.append(
            (len(stats), _mean([s[1] for s in stats]), observed, noise, _mean([s[2] for s in stats]))
        )
    observed = parts[0][2] + parts[1][2]
    return Components(
        clusters=min(parts[0][0], parts[1][0]),
        epochs=_mean([parts[0][1], parts[1][1]]),
        between=sum(max(0.0, p[2] - p[3]) for p in parts) if not math.isnan(observed) else NAN,
        within=parts[0][4] + parts[1][4],
        observed=observed,
    )


def z_squared(alpha: float = 0.05, power: float = 0.8) -> float:
    return float(norm.ppf(1 - alpha / 2) + norm.ppf(power)) ** 2


def _at_least_two(x: float) -> int:
    return max(2, math.ceil(x - 1e-9))


def plan(comp: Components, delta: float, alpha: float = 0.05, power: float = 0.8) -> Plan:
    """Variants and epochs to detect ``delta`` (two-sided ``alpha``, ``power``) from ``comp``."""
    z2 = z_squared(alpha, power)
    if delta <= 0 or math.isnan(comp.observed):
        return Plan(delta, None, None, None, None, "needs at least 2 variants")
    if comp.observed == 0 and (math.isnan(comp.within) or comp.within == 0):
        # every variant gave the same difference in every epoch: no spread to plan from
        return Plan(delta, None, None, None, None, "no variation observed")
    if math.isnan(comp.between) or math.isnan(comp.within):
        variants = _at_least_two(z2 * comp.observed / delta**2)
        return Plan(delta, variants, None, None, None, "one epoch: needs 2 to split the variance")
    variants_now = _at_least_two(z2 * (comp.between + comp.within / comp.epochs) / delta**2)
    variants_min = _at_least_two(z2 * comp.between / delta**2)
    room = comp.clusters * delta**2 / z2 - comp.between
    # more epochs help only while the variants' own spread leaves room for sampling noise
    if room <= 0:
        return Plan(delta, variants_now, None, variants_min, False)
    epochs = max(1, math.ceil(comp.within / room - 1e-9))
    return Plan(delta, variants_now, epochs, variants_min, True)
