"""stats/: clustered rates, paired and unpaired differences, and planning, on hand-made observations
with hand-computed values."""

import math

import numpy as np
import pytest
from inspect_ai.scorer import SampleScore, Score
from scipy.stats import t as student_t

from refusal_evals.stats.intervals import fisher_p, paired_permutation_p, wilson_interval
from refusal_evals.stats.metrics import group_rates
from refusal_evals.stats.planning import paired_components, plan, unpaired_components, z_squared
from refusal_evals.stats.rates import (
    Grouping,
    paired_difference,
    rate_correlation,
    rate_of,
    rate_values,
    unpaired_difference,
)


def all_or_nothing(pattern, epochs, start=0):
    """Variant i answers pattern[i] in every epoch: observations (variant, value)."""
    return [(start + i, float(v)) for i, v in enumerate(pattern) for _ in range(epochs)]


def wilson(p, n, crit):
    centre = (p + crit**2 / (2 * n)) / (1 + crit**2 / n)
    half = crit * math.sqrt(p * (1 - p) / n + crit**2 / (4 * n * n)) / (1 + crit**2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def test_all_or_nothing_variants_give_the_cluster_level_interval_or_wider():
    obs = all_or_nothing([1, 1, 1, 0, 0, 0], epochs=10)
    r = rate_of(obs)
    assert (r.k, r.n, r.clusters, r.estimate) == (30, 60, 6, 0.5)
    # clustered variance p(1-p)/(C-1): n_eff = C - 1 = 5, design effect 60 / 5
    assert r.deff == pytest.approx(12.0)
    expected = wilson(0.5, 5, float(student_t.ppf(0.975, 5)))
    assert (r.ci_low, r.ci_high) == pytest.approx(expected, abs=1e-9)
    cluster_level = wilson_interval(3, 6)  # the six variant outcomes as six draws
    naive = wilson_interval(30, 60)
    assert (r.obs_ci_low, r.obs_ci_high) == pytest.approx(naive)
    width = r.ci_high - r.ci_low
    assert width >= cluster_level[1] - cluster_level[0]
    assert width > naive[1] - naive[0]


def test_independent_looking_epochs_keep_the_naive_interval():
    # every variant has the same rate: no between-variant spread, design effect 1
    obs = [(v, float(e < 5)) for v in range(6) for e in range(10)]
    r = rate_of(obs)
    assert r.deff == pytest.approx(1.0)
    assert (r.ci_low, r.ci_high) == pytest.approx(wilson(0.5, 60, float(student_t.ppf(0.975, 5))))


def test_one_cluster_leaves_the_clustered_interval_undefined():
    r = rate_of([("prompt_file", 1.0), ("prompt_file", 0.0), ("prompt_file", 1.0)])
    assert r.clusters == 1 and math.isnan(r.ci_low) and math.isnan(r.ci_high) and math.isnan(r.deff)
    assert (r.obs_ci_low, r.obs_ci_high) == pytest.approx(wilson_interval(2, 3))
    out = group_rates(cluster="variant")(
        [
            SampleScore(
                score=Score(value=v), sample_id=i, sample_metadata={"condition": "refusal", "variant": "x"}
            )
            for i, v in enumerate([1, 0, 1])
        ]
    )
    assert math.isnan(out["refusal_ci_low"]) and out["refusal_clusters"] == 1
    assert out["refusal_obs_ci_high"] == pytest.approx(wilson_interval(2, 3)[1])


def test_exact_permutation_p_values():
    # 4 variants, all favouring refusal: of the 2^4 relabellings, only "as observed" and "all
    # swapped" are as extreme
    assert paired_permutation_p([1, 1, 1, 1], [0, 0, 0, 0]) == pytest.approx(2 / 16)
    # differences +1, +1, +1, -1: sums >= 2 in 5 of 16 relabellings, two-sided 10/16
    assert paired_permutation_p([1, 1, 1, 0], [0, 0, 0, 1]) == pytest.approx(10 / 16)
    assert paired_permutation_p([0.5, 0.5], [0.5, 0.5]) == 1.0
    assert paired_permutation_p([1.0], [0.0]) == 1.0  # one pair: both labellings equally extreme
    assert math.isnan(paired_permutation_p([], []))


def test_paired_difference_of_all_or_nothing_variants():
    refusal = all_or_nothing([1, 1, 1, 1], epochs=3)
    rebuttal = all_or_nothing([0, 0, 0, 0], epochs=3)
    d = paired_difference(refusal, rebuttal)
    assert (d.diff, d.clusters, d.paired) == (1.0, 4, True)
    assert d.p == pytest.approx(2 / 16)
    # MOVER: 1 - sqrt((1 - lo_refusal)^2 + (hi_rebuttal - 0)^2); here both margins are the same
    # clustered Wilson margin of a rate of 0 (no effective size to estimate: all 12, t with 3 df)
    margin = wilson(0.0, 12, float(student_t.ppf(0.975, 3)))[1]
    assert d.ci_low == pytest.approx(1 - math.sqrt(2) * margin)
    assert d.ci_high == 1.0
    assert d.entries("refusal_vs_rebuttal")["refusal_vs_rebuttal_pairs"] == 4


def test_pairing_narrows_the_interval_when_variants_agree():
    # variants that are bad under refusal are bad under rebuttal too (positive correlation)
    refusal = all_or_nothing([1, 1, 1, 1, 0, 0, 0, 0], epochs=4)
    rebuttal = all_or_nothing([1, 1, 1, 0, 0, 0, 0, 0], epochs=4)
    r = rate_correlation(refusal, rebuttal)
    assert r == pytest.approx(np.corrcoef([1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0])[0, 1])
    paired = paired_difference(refusal, rebuttal)
    unpaired = unpaired_difference(refusal, rebuttal)
    assert paired.diff == unpaired.diff == pytest.approx(1 / 8)
    assert paired.ci_high - paired.ci_low < unpaired.ci_high - unpaired.ci_low
    assert paired.p == pytest.approx(1.0)  # one variant differs: 2 of 2 relabellings as extreme
    assert unpaired.p == pytest.approx(fisher_p(16, 32, 12, 32))
    assert unpaired.clusters == 8 and not unpaired.paired


def test_only_variants_in_both_groups_are_pairs():
    refusal = all_or_nothing([1, 1, 1], epochs=2)
    rebuttal = all_or_nothing([0, 0], epochs=2, start=1)  # variants 1 and 2 only
    d = paired_difference(refusal, rebuttal)
    assert d.clusters == 2
    assert d.diff == 1.0  # the two groups' rates, every observation
    assert d.p == pytest.approx(2 / 4)


def test_rate_values_names_and_pairing_by_cluster_key():
    groups = {"refusal": all_or_nothing([1, 1, 0], 2), "rebuttal": all_or_nothing([0, 0, 0], 2)}
    paired = rate_values(groups, Grouping(comparisons=[("refusal", "rebuttal")], cluster="variant"))
    assert paired["refusal_vs_rebuttal_pairs"] == 3 and "refusal_vs_rebuttal_clusters" not in paired
    assert paired["all_clusters"] == 3  # a variant under both conditions is one cluster
    for suffix in ("", "_ci_low", "_ci_high", "_n", "_clusters", "_deff", "_obs_ci_low", "_obs_ci_high"):
        assert f"refusal{suffix}" in paired
    unpaired = rate_values(groups, Grouping(comparisons=[("refusal", "rebuttal")]))
    assert unpaired["refusal_vs_rebuttal_p"] == pytest.approx(fisher_p(4, 6, 0, 6))
    assert unpaired["refusal_vs_rebuttal_clusters"] == 3


def test_planning_when_only_more_variants_help():
    # 8 variants, each the same in all 10 epochs: the spread is all between variants
    refusal = all_or_nothing([1, 1, 1, 1, 1, 0, 0, 0], epochs=10)
    rebuttal = all_or_nothing([0] * 8, epochs=10)
    comp = paired_components(refusal, rebuttal)
    between = (5 * (3 / 8) ** 2 + 3 * (5 / 8) ** 2) / 7  # variance of the per-variant differences
    assert (comp.clusters, comp.epochs, comp.within) == (8, 10, 0)
    assert comp.between == pytest.approx(between) and comp.icc == 1.0
    p = plan(comp, 0.1)
    assert p.epochs_help is False and p.epochs_now is None
    assert p.variants_now == p.variants_min == math.ceil(z_squared() * between / 0.01)
    assert z_squared() == pytest.approx((1.959964 + 0.841621) ** 2, abs=1e-5)


def test_planning_when_more_epochs_help():
    # every variant is a coin flip (5 of 10) under refusal and never under rebuttal: no spread
    refusal = [(v, float(e < 5)) for v in range(8) for e in range(10)]
    rebuttal = all_or_nothing([0] * 8, epochs=10)
    comp = paired_components(refusal, rebuttal)
    within = 0.25 * 10 / 9
    assert comp.between == 0 and comp.within == pytest.approx(within)
    p = plan(comp, 0.1)
    assert p.epochs_help is True
    assert p.epochs_now == math.ceil(within / (8 * 0.01 / z_squared()))
    assert p.variants_now == math.ceil(z_squared() * within / 10 / 0.01)
    assert p.variants_min == 2
    one_epoch = plan(paired_components(all_or_nothing([1, 0, 1], 1), all_or_nothing([0, 0, 0], 1)), 0.1)
    assert one_epoch.epochs_help is None and one_epoch.variants_now is not None
    assert "one epoch" in one_epoch.note
    same = plan(paired_components(all_or_nothing([1, 1], 3), all_or_nothing([0, 0], 3)), 0.1)
    assert same.variants_now is None and same.note == "no variation observed"


def test_unpaired_components_add_the_groups():
    a = all_or_nothing([1, 0, 1, 0], epochs=5)
    b = all_or_nothing([0, 0, 1, 1], epochs=5, start=10)
    comp = unpaired_components(a, b)
    assert comp.clusters == 4 and comp.within == 0
    assert comp.between == pytest.approx(2 * (4 * 0.25) / 3)


def test_a_difference_with_an_undefined_group_interval_is_undefined():
    d = paired_difference([("x", 0.0), ("x", 1.0)], [("x", 0.0)])
    assert math.isnan(d.ci_low) and math.isnan(d.ci_high) and d.clusters == 1 and d.diff == 0.5


def test_a_rate_of_zero_counts_every_observation_and_more_failures_never_narrow_it():
    # no variance to estimate the effective size from: Inspect's ci_wilson counts all 120, with
    # the t critical value of 12 clusters; read it with `clusters` (min_clusters in a gate)
    zero = rate_of(all_or_nothing([0] * 12, epochs=10))
    assert (zero.ci_low, zero.ci_high) == pytest.approx(wilson(0.0, 120, float(student_t.ppf(0.975, 11))))
    assert zero.deff == 1.0 and zero.clusters == 12
    one = rate_of([(0, 1.0)] + all_or_nothing([0] * 12, epochs=10)[1:])  # one failure in 120
    assert one.ci_high > zero.ci_high
