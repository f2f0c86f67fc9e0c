"""group_means (harm scores per category) and group_rates without comparisons."""

import math

import pytest
from inspect_ai.scorer import SampleScore, Score

from refusal_evals.stats.intervals import mean_interval
from refusal_evals.stats.metrics import group_means, group_rates


def scores(rows):
    return [
        SampleScore(
            score=Score(value=v) if v is not None else Score.model_construct(value=None),
            sample_id=i,
            sample_metadata={"category": c},
        )
        for i, (c, v) in enumerate(rows)
    ]


def test_group_means_per_category_with_clipped_t_interval():
    rows = [("a", 0.0), ("a", 0.5), ("a", 1.0), ("b", 0.25), ("b", None)]
    out = group_means(group_key="category")(scores(rows))
    assert out["a"] == 0.5 and out["a_n"] == 3
    lo, hi = mean_interval([0.0, 0.5, 1.0])
    assert lo < 0 and hi > 1  # wide with n = 3 ...
    assert (out["a_ci_low"], out["a_ci_high"]) == (0.0, 1.0)  # ... so clipped to [0, 1]
    assert out["b"] == 0.25 and out["b_n"] == 1 and math.isnan(out["b_ci_low"])
    assert out["all"] == pytest.approx(1.75 / 4) and out["all_n"] == 4


def test_mean_interval_known_value():
    # mean 2, sd sqrt(2/3), n 4, t(0.975, 3) = 3.182446
    lo, hi = mean_interval([1.0, 2.0, 2.0, 3.0])
    sd = math.sqrt(2 / 3)
    assert (lo, hi) == pytest.approx((2 - 3.182446 * sd / 2, 2 + 3.182446 * sd / 2), abs=1e-5)


def test_group_rates_with_no_comparisons():
    rows = [("refusal", 1), ("rebuttal", 0)]
    out = group_rates(group_key="category", comparisons=[])(scores(rows))
    assert not any(k.endswith("_diff") for k in out)
    assert any(k.endswith("_diff") for k in group_rates(group_key="category")(scores(rows)))
