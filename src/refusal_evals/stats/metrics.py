"""Metrics: rates per condition with Wilson intervals, and condition differences with Fisher p-values.

Metrics see every epoch's score (``scores="unreduced"``): with ``--epochs 20`` a rate's ``n`` counts
each sampled conversation, as the papers did, rather than a mean of per-prompt means.

Output names (flat, one ``EvalMetric`` each, grouped under the metric in the log and viewer):

- ``<group>``, ``<group>_ci_low``, ``<group>_ci_high``, ``<group>_n`` for every group value seen
  (``<group>`` is e.g. ``refusal``; with ``within="attribute"`` it is ``protected/refusal``);
- the same for ``all`` (every scored observation);
- ``<a>_vs_<b>_diff`` (rate a minus rate b) and ``<a>_vs_<b>_p`` (two-sided Fisher exact) for each
  comparison whose two groups are present.

Unscored observations (NaN) never reach a metric; Inspect counts them per measure
(``unscored_samples``) and :func:`unscored_by_group` counts them per group. A value of ``None`` means
"not applicable" (the denominator of a conditional rate, e.g. a report judged only when the agent
traded): it is left out of ``<group>_n`` and is not counted as unscored.
"""

from __future__ import annotations

import math
from collections import defaultdict

from inspect_ai.scorer import Metric, SampleScore, Value, metric

from refusal_evals.stats.intervals import fisher_p, mean_interval, wilson_interval

DEFAULT_COMPARISONS = ["refusal:rebuttal", "natural:refusal", "natural:rebuttal"]


def _group_of(score: SampleScore, group_key: str, within: str | None) -> str:
    meta = score.sample_metadata or {}
    if group_key not in meta:
        raise ValueError(f"sample {score.sample_id} has no '{group_key}' metadata to group by")
    name = str(meta[group_key])
    if within:
        if within not in meta:
            raise ValueError(f"sample {score.sample_id} has no '{within}' metadata to group by")
        name = f"{meta[within]}/{name}"
    return name


def _rate_entries(prefix: str, k: int, n: int) -> dict[str, float]:
    lo, hi = wilson_interval(k, n)
    return {
        prefix: k / n if n else float("nan"),
        f"{prefix}_ci_low": lo,
        f"{prefix}_ci_high": hi,
        f"{prefix}_n": float(n),
    }


@metric(scores="unreduced")
def group_rates(
    group_key: str = "condition",
    within: str | None = None,
    comparisons: list[str] | None = None,
    across: list[str] | None = None,
) -> Metric:
    """Rate of 1s per group with 95% Wilson intervals, plus differences with Fisher p-values.

    Args:
      group_key: Sample metadata key that names the group (default ``condition``).
      within: Optional second metadata key; groups become ``<within value>/<group>`` and
        comparisons are made inside each ``within`` value.
      comparisons: ``"a:b"`` pairs of group values to compare (default refusal vs rebuttal,
        natural vs refusal, natural vs rebuttal; ``[]`` for none).
      across: ``"a:b"`` pairs of ``within`` values to compare inside each group, e.g.
        ``protected:control`` gives ``protected/refusal_vs_control_diff`` and ``_p`` (the
        protected minus the control rate under the refusal condition).
    """
    pairs = [tuple(c.split(":", 1)) for c in (DEFAULT_COMPARISONS if comparisons is None else comparisons)]
    across_pairs = [tuple(c.split(":", 1)) for c in (across or [])]
    if across_pairs and not within:
        raise ValueError("group_rates: 'across' compares values of 'within', so it needs 'within'")

    def compute(scores: list[SampleScore]) -> Value:
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for s in scores:
            if s.score.value is None:  # not applicable to this observation
                continue
            v = s.score.as_float()
            if v not in (0.0, 1.0):
                raise ValueError(f"group_rates expects 0/1 values; sample {s.sample_id} has {v}")
            c = counts[_group_of(s, group_key, within)]
            c[0] += int(v)
            c[1] += 1
        out: dict[str, float] = {}
        for name in sorted(counts):
            out.update(_rate_entries(name, *counts[name]))
        total_k = sum(c[0] for c in counts.values())
        total_n = sum(c[1] for c in counts.values())
        out.update(_rate_entries("all", total_k, total_n))
        prefixes = sorted({n.rsplit("/", 1)[0] + "/" for n in counts}) if within else [""]
        # (first group, second group, the second's short name): conditions inside each `within`
        # value, then `within` values inside each condition
        compared = [(f"{pre}{a}", f"{pre}{b}", b) for pre in prefixes for a, b in pairs]
        groups = sorted({n.rsplit("/", 1)[1] for n in counts} if across_pairs else [])
        compared += [(f"{a}/{g}", f"{b}/{g}", b) for g in groups for a, b in across_pairs]
        for ga, gb, short in compared:
            if ga in counts and gb in counts:
                (ka, na), (kb, nb) = counts[ga], counts[gb]
                out[f"{ga}_vs_{short}_diff"] = ka / na - kb / nb
                out[f"{ga}_vs_{short}_p"] = fisher_p(ka, na, kb, nb)
        return out

    return compute


@metric(scores="unreduced")
def group_means(group_key: str = "condition", within: str | None = None) -> Metric:
    """Mean of a score in [0, 1] (e.g. ``harm_score``) per group with a 95% Student-t interval
    clipped to [0, 1], and ``n``; the same for ``all``. ``None`` = not applicable (left out).

    Output names: ``<group>``, ``<group>_ci_low``, ``<group>_ci_high``, ``<group>_n``.
    """

    def compute(scores: list[SampleScore]) -> Value:
        values: dict[str, list[float]] = defaultdict(list)
        for s in scores:
            if s.score.value is None:
                continue
            values[_group_of(s, group_key, within)].append(s.score.as_float())
        out: dict[str, float] = {}
        everything = [v for name in values for v in values[name]]
        for name, vs in [*sorted(values.items()), ("all", everything)]:
            lo, hi = mean_interval(vs)
            out[name] = sum(vs) / len(vs) if vs else float("nan")
            out[f"{name}_ci_low"] = lo if math.isnan(lo) else max(0.0, lo)
            out[f"{name}_ci_high"] = hi if math.isnan(hi) else min(1.0, hi)
            out[f"{name}_n"] = float(len(vs))
        return out

    return compute


@metric(scores="unreduced")
def unscored_by_group(group_key: str = "condition", within: str | None = None) -> Metric:
    """Per group: observations with at least one unscored measure (``<group>``) out of all
    observations of the group (``<group>_of``). Applied to the ``unscored_measures`` value."""

    def compute(scores: list[SampleScore]) -> Value:
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for s in scores:
            c = counts[_group_of(s, group_key, within)]
            c[0] += int(s.score.as_float() > 0)
            c[1] += 1
        out: dict[str, float] = {}
        for name in sorted(counts):
            out[name] = float(counts[name][0])
            out[f"{name}_of"] = float(counts[name][1])
        return out

    return compute
