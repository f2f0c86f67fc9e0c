"""Metrics: rates per group with clustered intervals, and group differences (paired where the design
pairs them). The numbers come from :func:`refusal_evals.stats.rates.rate_values`, the computation
the report and the gate use too.

Metrics see every epoch's score (``scores="unreduced"``): with ``--epochs 20`` a rate's ``n`` counts
each sampled conversation, as the papers did; the interval counts the epochs of one prompt as one
cluster (``cluster``), not as independent draws.

Output names (flat, one ``EvalMetric`` each, grouped under the metric in the log and viewer):

- ``<group>``, ``<group>_ci_low``, ``<group>_ci_high`` (95% clustered Wilson interval: Inspect's
  ``ci_wilson(cluster=...)``, Korn-Graubard effective sample size, t critical value with
  ``clusters - 1`` df; at a rate of 0 or 1 every observation counts; nan with fewer than two
  clusters), ``<group>_n``, ``<group>_clusters``,
  ``<group>_deff`` (design effect ``n / n_eff``), ``<group>_obs_ci_low`` / ``<group>_obs_ci_high``
  (Wilson interval treating every observation as independent: "these exact prompts") for every group
  value seen (``<group>`` is e.g. ``refusal``; with ``within="attribute"`` it is
  ``protected/refusal``); the same for ``all`` (every scored observation);
- for each comparison whose two groups are present: ``<a>_vs_<b>_diff`` (rate a minus rate b),
  ``_diff_ci_low`` / ``_diff_ci_high`` (cluster-robust t interval) and ``_p``. Comparisons of
  conditions (``comparisons``) are paired by cluster when ``cluster`` is set: exact permutation
  test of the condition labels within cluster, ``_pairs`` = clusters present in both groups.
  ``across`` comparisons (different clusters) and any comparison without ``cluster`` are unpaired:
  Fisher's exact test, ``_clusters`` = the smaller group's clusters. Details:
  :mod:`refusal_evals.stats.rates`.

Unscored observations (NaN) never reach a metric; Inspect counts them per measure
(``unscored_samples``) and :func:`unscored_by_group` counts them per group. A value of ``None`` means
"not applicable" (the denominator of a conditional rate, e.g. a report judged only when the agent
traded): it is left out of ``<group>_n`` and is not counted as unscored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable

from inspect_ai.scorer import Metric, SampleScore, Value, metric

from refusal_evals.stats.intervals import Obs
from refusal_evals.stats.rates import DEFAULT_COMPARISONS, Grouping, mean_values, parse_pairs, rate_values

__all__ = ["DEFAULT_COMPARISONS", "group_means", "group_rates", "unscored_by_group"]


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


def _cluster_of(score: SampleScore, cluster: str | None) -> Hashable:
    if cluster is None:
        return score.sample_id
    value = (score.sample_metadata or {}).get(cluster)
    if value is None:
        raise ValueError(f"sample {score.sample_id} has no '{cluster}' metadata to cluster by")
    return value  # type: ignore[no-any-return]


@metric(scores="unreduced")
def group_rates(
    group_key: str = "condition",
    within: str | None = None,
    comparisons: list[str] | None = None,
    across: list[str] | None = None,
    cluster: str | None = None,
) -> Metric:
    """Rate of 1s per group with 95% clustered Wilson intervals, plus differences (paired
    permutation test within cluster for conditions, Fisher's exact test for ``across``).

    Args:
      group_key: Sample metadata key that names the group (default ``condition``).
      within: Optional second metadata key; groups become ``<within value>/<group>`` and
        comparisons are made inside each ``within`` value.
      comparisons: ``"a:b"`` pairs of group values to compare (default refusal vs rebuttal,
        natural vs refusal, natural vs rebuttal; ``[]`` for none). Paired by ``cluster``.
      across: ``"a:b"`` pairs of ``within`` values to compare inside each group, e.g.
        ``protected:control`` gives ``protected/refusal_vs_control_diff`` and ``_p`` (the
        protected minus the control rate under the refusal condition). Unpaired.
      cluster: Sample metadata key of the prompt an observation came from (``variant``, ``item``):
        its epochs, and its other conditions, are one cluster. None: each sample is its own
        cluster and comparisons are unpaired. Recorded in the log, so the report reads it too.
    """
    grouping = Grouping(
        group_key=group_key,
        within=within,
        comparisons=parse_pairs(DEFAULT_COMPARISONS if comparisons is None else comparisons),
        across=parse_pairs(across or []),
        cluster=cluster,
    )
    if grouping.across and not within:
        raise ValueError("group_rates: 'across' compares values of 'within', so it needs 'within'")

    def compute(scores: list[SampleScore]) -> Value:
        groups: dict[str, list[Obs]] = defaultdict(list)
        for s in scores:
            if s.score.value is None:  # not applicable to this observation
                continue
            v = s.score.as_float()
            if v not in (0.0, 1.0):
                raise ValueError(f"group_rates expects 0/1 values; sample {s.sample_id} has {v}")
            groups[_group_of(s, group_key, within)].append((_cluster_of(s, cluster), v))
        return rate_values(groups, grouping)  # type: ignore[return-value]

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
        return mean_values(values)  # type: ignore[return-value]

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
