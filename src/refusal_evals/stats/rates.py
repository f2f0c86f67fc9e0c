"""The one computation from observations to rates, intervals and comparisons.

Both the ``group_rates`` Inspect metric (at the end of an eval) and ``refusal-evals report`` /
``gate`` (pooling the per-sample, per-epoch scores of several logs) call :func:`rate_values`, so a
log's metrics and a report's numbers cannot drift apart.

An observation is ``(cluster id, 0/1 value)``. The cluster is the prompt it came from (the variant of
a role-play or insider-trading scenario, the item of a dishonest-refusal request): epochs of one
prompt, and one variant under several conditions, are not independent draws.

Per group ``<g>``: ``<g>`` (the rate), ``<g>_ci_low`` / ``<g>_ci_high`` (95% clustered Wilson
interval, Inspect's ``ci_wilson(cluster=...)``; at a rate of exactly 0 or 1, where no effective
size can be estimated, it counts every observation; nan with fewer than two clusters), ``<g>_n``
(observations), ``<g>_clusters``, ``<g>_deff`` (design effect ``n / n_eff``, Korn-Graubard
``n_eff``), ``<g>_obs_ci_low`` / ``<g>_obs_ci_high`` (Wilson interval with every observation an
independent draw: a statement about these exact prompts only).

Per comparison ``<a>_vs_<b>``: ``_diff`` (rate a minus rate b), ``_diff_ci_low`` / ``_diff_ci_high``
(95%) and ``_p``. The interval combines the two groups' clustered Wilson intervals by the method of
variance estimates recovery (MOVER: Newcombe 1998, method 10; Zou & Donner 2004 for clustered
rates), so it is never narrower than the groups' own uncertainty allows and is nan when either
group's interval is:

- *paired* (two conditions of the same variants; needs a cluster key): the MOVER interval takes the
  correlation of the two rates through shared variants into account (:func:`rate_correlation`);
  ``_p`` is an exact permutation test of the condition labels within variant (scipy
  ``permutation_test``, ``permutation_type='samples'``, statistic the mean per-variant difference,
  over the variants present in both groups); ``_pairs``: how many variants that is.
- *unpaired* (different variants, e.g. protected vs control, or no cluster key): MOVER with no
  correlation; ``_p``: Fisher's exact test on the observations (it treats them as independent, so
  with clustered data read the interval first); ``_clusters``: the smaller group's clusters.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from refusal_evals.stats.intervals import (
    Obs,
    clustered_stderr,
    clustered_wilson,
    fisher_p,
    mean_interval,
    paired_permutation_p,
    wilson_interval,
)

NAN = math.nan
DEFAULT_COMPARISONS = ["refusal:rebuttal", "natural:refusal", "natural:rebuttal"]
RATE_NAMES = {
    "estimate": "",
    "ci_low": "_ci_low",
    "ci_high": "_ci_high",
    "n": "_n",
    "clusters": "_clusters",
    "deff": "_deff",
    "obs_ci_low": "_obs_ci_low",
    "obs_ci_high": "_obs_ci_high",
}
""":class:`Rate` field -> the suffix of its metric name after ``<g>``."""
RATE_SUFFIXES = tuple(suffix for suffix in RATE_NAMES.values() if suffix)
DIFF_NAMES = {"diff": "_diff", "ci_low": "_diff_ci_low", "ci_high": "_diff_ci_high", "p": "_p"}
""":class:`Difference` field -> the suffix of its metric name after ``<a>_vs_<b>``."""


def parse_pairs(pairs: Iterable[str]) -> list[tuple[str, str]]:
    """``["a:b", ...]`` as ``[("a", "b"), ...]``."""
    out = []
    for p in pairs:
        a, sep, b = p.partition(":")
        if not sep:
            raise ValueError(f"a comparison is written 'a:b' (two group values); got {p!r}")
        out.append((a, b))
    return out


@dataclass
class Grouping:
    """How observations are grouped and compared (the ``group_rates`` metric's parameters)."""

    group_key: str = "condition"
    within: str | None = None
    comparisons: list[tuple[str, str]] = field(default_factory=list)
    across: list[tuple[str, str]] = field(default_factory=list)
    """Pairs of ``within`` values compared inside each group (e.g. protected vs control)."""
    cluster: str | None = None
    """Sample metadata key of the cluster id; None: each sample (all its epochs) is a cluster."""


@dataclass(frozen=True)
class Rate:
    """One group's rate with its clustered and per-observation intervals."""

    k: int
    n: int
    clusters: int
    estimate: float
    ci_low: float
    ci_high: float
    obs_ci_low: float
    obs_ci_high: float
    deff: float

    def entries(self, name: str) -> dict[str, float]:
        return {name + suffix: float(getattr(self, f)) for f, suffix in RATE_NAMES.items()}


def design_effect(obs: Sequence[Obs]) -> float:
    """``n / n_eff`` as the clustered interval uses it: the Korn-Graubard ``n_eff = p(1-p) / v``
    (``v``: clustered variance of the rate) capped at ``n``, as Inspect's ``ci_wilson`` does; 1 where
    ``ci_wilson`` uses ``n`` itself (a rate of 0 or 1, or zero clustered variance: not estimable);
    nan with fewer than two clusters."""
    se = clustered_stderr(obs)
    if math.isnan(se):
        return NAN
    n = len(obs)
    p = sum(v for _, v in obs) / n
    numerator = p * (1 - p)
    if numerator <= 0 or se <= 0:
        return 1.0
    return n / min(numerator / se**2, n)


def rate_of(obs: Sequence[Obs]) -> Rate:
    """The rate of 1s among ``obs`` with both intervals, ``clusters`` and the design effect."""
    n = len(obs)
    k = round(sum(v for _, v in obs))
    clusters = len({c for c, _ in obs})
    lo, hi = clustered_wilson(obs) if n else (NAN, NAN)
    obs_lo, obs_hi = wilson_interval(k, n)
    return Rate(
        k=k,
        n=n,
        clusters=clusters,
        estimate=k / n if n else NAN,
        ci_low=lo,
        ci_high=hi,
        obs_ci_low=obs_lo,
        obs_ci_high=obs_hi,
        deff=design_effect(obs) if n else NAN,
    )


@dataclass(frozen=True)
class Difference:
    """Rate a minus rate b, its cluster-aware interval, a p-value and what it rests on."""

    diff: float
    ci_low: float
    ci_high: float
    p: float
    clusters: int
    """paired: variants present in both groups; unpaired: the smaller group's clusters"""
    paired: bool

    @property
    def support(self) -> str:
        """The name suffix of :attr:`clusters`: ``_pairs`` (paired) or ``_clusters``."""
        return "_pairs" if self.paired else "_clusters"

    def entries(self, name: str) -> dict[str, float]:
        out = {name + suffix: float(getattr(self, f)) for f, suffix in DIFF_NAMES.items()}
        return {**out, name + self.support: float(self.clusters)}


def by_cluster(obs: Sequence[Obs]) -> dict[Hashable, list[float]]:
    """Cluster id -> its values (insertion order)."""
    out: dict[Hashable, list[float]] = {}
    for c, v in obs:
        out.setdefault(c, []).append(v)
    return out


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else NAN


def rate_correlation(a: Sequence[Obs], b: Sequence[Obs]) -> float:
    """Correlation of the two rates' estimates through shared clusters: the Pearson correlation, over
    clusters, of each rate's residual sum ``sum (y - rate) / n`` (0 where a cluster is absent from a
    group). With every cluster in both groups and equal sizes it is the correlation of per-cluster
    rates between the two groups; 0 when the groups share no cluster or a residual is always 0."""
    residuals: dict[Hashable, list[float]] = {}
    for slot, obs in enumerate((a, b)):
        mean = _mean([v for _, v in obs])
        for c, v in obs:
            residuals.setdefault(c, [0.0, 0.0])[slot] += (v - mean) / len(obs)
    ea = [r[0] for r in residuals.values()]
    eb = [r[1] for r in residuals.values()]
    norm = math.sqrt(sum(x * x for x in ea) * sum(y * y for y in eb))
    return sum(x * y for x, y in zip(ea, eb, strict=True)) / norm if norm > 0 else 0.0


def mover_interval(a: Rate, b: Rate, r: float) -> tuple[float, float]:
    """95% interval of ``a - b`` from the two clustered Wilson intervals by the method of variance
    estimates recovery (Newcombe 1998, method 10; Zou & Donner 2004 for clustered rates), with ``r``
    the correlation of the two estimates (0 for unpaired groups). nan when either interval is."""
    d = a.estimate - b.estimate
    if any(math.isnan(x) for x in (a.ci_low, a.ci_high, b.ci_low, b.ci_high)):
        return NAN, NAN
    da_lo, da_hi = a.estimate - a.ci_low, a.ci_high - a.estimate
    db_lo, db_hi = b.estimate - b.ci_low, b.ci_high - b.estimate
    lo = d - math.sqrt(max(0.0, da_lo**2 - 2 * r * da_lo * db_hi + db_hi**2))
    hi = d + math.sqrt(max(0.0, da_hi**2 - 2 * r * da_hi * db_lo + db_lo**2))
    return max(-1.0, lo), min(1.0, hi)


def paired_difference(a: Sequence[Obs], b: Sequence[Obs]) -> Difference:
    """Two conditions of the same clusters (see the module docstring)."""
    if not a or not b:
        return Difference(NAN, NAN, NAN, NAN, 0, paired=True)
    rate_a, rate_b = rate_of(a), rate_of(b)
    lo, hi = mover_interval(rate_a, rate_b, rate_correlation(a, b))
    by_a, by_b = by_cluster(a), by_cluster(b)
    shared = sorted((c for c in by_a if c in by_b), key=str)  # the same order from any source
    p = paired_permutation_p([_mean(by_a[c]) for c in shared], [_mean(by_b[c]) for c in shared])
    return Difference(rate_a.estimate - rate_b.estimate, lo, hi, p, len(shared), paired=True)


def unpaired_difference(a: Sequence[Obs], b: Sequence[Obs]) -> Difference:
    """Two groups of different clusters (see the module docstring)."""
    if not a or not b:
        return Difference(NAN, NAN, NAN, NAN, 0, paired=False)
    rate_a, rate_b = rate_of(a), rate_of(b)
    lo, hi = mover_interval(rate_a, rate_b, 0.0)
    p = fisher_p(rate_a.k, rate_a.n, rate_b.k, rate_b.n)
    clusters = min(rate_a.clusters, rate_b.clusters)
    return Difference(rate_a.estimate - rate_b.estimate, lo, hi, p, clusters, paired=False)


@dataclass(frozen=True)
class Comparison:
    """One comparison of two groups: ``<prefix><a>_vs_<b>``."""

    prefix: str
    """``<within value>/`` for a comparison of conditions inside one ``within`` value, else ''"""
    a: str
    b: str
    group_a: str
    group_b: str
    paired: bool

    @property
    def name(self) -> str:
        return f"{self.prefix}{self.a}_vs_{self.b}"

    @property
    def support(self) -> str:
        """The name suffix of the count it rests on: ``_pairs`` (paired) or ``_clusters``."""
        return "_pairs" if self.paired else "_clusters"

    def difference(self, groups: Mapping[str, Sequence[Obs]]) -> Difference:
        test = paired_difference if self.paired else unpaired_difference
        return test(groups[self.group_a], groups[self.group_b])


def comparisons_of(present: Iterable[str], grouping: Grouping) -> list[Comparison]:
    """Every comparison of ``grouping`` whose two groups are ``present`` (have observations):
    conditions inside each ``within`` value (paired by cluster when a cluster key is set), then
    ``across``: the same condition under two ``within`` values, named ``<a>/<condition>_vs_<b>``
    (unpaired)."""
    names = set(present)
    within = bool(grouping.within)
    prefixes = sorted({g.rsplit("/", 1)[0] + "/" for g in names if "/" in g}) if within else [""]
    paired = grouping.cluster is not None
    out = [
        Comparison(pre, a, b, f"{pre}{a}", f"{pre}{b}", paired)
        for pre in prefixes
        for a, b in grouping.comparisons
    ]
    inner = sorted({g.rsplit("/", 1)[1] for g in names if "/" in g}) if grouping.across else []
    out += [
        Comparison("", f"{a}/{g}", b, f"{a}/{g}", f"{b}/{g}", False)
        for g in inner
        for a, b in grouping.across
    ]
    return [c for c in out if c.group_a in names and c.group_b in names]


def rate_values(groups: Mapping[str, Sequence[Obs]], grouping: Grouping) -> dict[str, float]:
    """Every group's rate entries, ``all``'s, and every comparison's (the ``group_rates`` names)."""
    out: dict[str, float] = {}
    for name in sorted(groups):
        out.update(rate_of(groups[name]).entries(name))
    out.update(rate_of([o for name in groups for o in groups[name]]).entries("all"))
    for comparison in comparisons_of([g for g in groups if groups[g]], grouping):
        out.update(comparison.difference(groups).entries(comparison.name))
    return out


def mean_values(groups: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """Per group and ``all``: the mean, a 95% Student-t interval clipped to [0, 1], and ``n``
    (the ``group_means`` names)."""
    out: dict[str, float] = {}
    everything = [v for name in groups for v in groups[name]]
    for name, vs in [*sorted(groups.items()), ("all", everything)]:
        lo, hi = mean_interval(list(vs))
        out[name] = _mean(vs)
        out[f"{name}_ci_low"] = lo if math.isnan(lo) else max(0.0, lo)
        out[f"{name}_ci_high"] = hi if math.isnan(hi) else min(1.0, hi)
        out[f"{name}_n"] = float(len(vs))
    return out
