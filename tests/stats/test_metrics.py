import math

import pytest
from inspect_ai.scorer import SampleScore, Score
from scipy.stats import t as student_t

from refusal_evals.stats.intervals import fisher_p, wilson_interval
from refusal_evals.stats.metrics import group_rates, unscored_by_group


def test_wilson_known_values():
    # textbook values (Newcombe 1998, Table I): 81/263 -> (0.2553, 0.3662); 0/10 -> (0, 0.2775)
    lo, hi = wilson_interval(81, 263)
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)
    lo, hi = wilson_interval(0, 10)
    assert (lo, round(hi, 4)) == (0.0, 0.2775)
    lo, hi = wilson_interval(5, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    assert all(math.isnan(x) for x in wilson_interval(0, 0))
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_fisher_known_values():
    # Fisher's tea tasting: 3 of 4 right vs 1 of 4 -> two-sided p = 34/70
    assert fisher_p(3, 4, 1, 4) == pytest.approx(34 / 70)
    assert fisher_p(8, 10, 1, 6) == pytest.approx(0.034965, abs=1e-6)
    assert math.isnan(fisher_p(1, 0, 1, 2))


def scores(rows):
    return [
        SampleScore(
            # None inside a dict-valued score reaches metrics as a bare None (not applicable)
            score=Score(value=v) if v is not None else Score.model_construct(value=None),
            sample_id=i,
            sample_metadata={"condition": c, **extra},
        )
        for i, (c, v, extra) in enumerate(rows)
    ]


def test_group_rates_by_condition():
    rows = [("refusal", 1, {})] * 8 + [("refusal", 0, {})] * 2
    rows += [("rebuttal", 1, {})] * 1 + [("rebuttal", 0, {})] * 5
    out = group_rates()(scores(rows))
    assert out["refusal"] == 0.8 and out["refusal_n"] == 10
    assert out["rebuttal"] == pytest.approx(1 / 6) and out["rebuttal_n"] == 6
    # per-observation: Wilson; without a cluster key every sample is its own cluster, so the
    # clustered interval is Wilson with n_eff = n - 1 and a t critical value with n - 1 df
    assert (out["refusal_obs_ci_low"], out["refusal_obs_ci_high"]) == pytest.approx(wilson_interval(8, 10))
    t9 = float(student_t.ppf(0.975, 9))
    centre, half = (
        (0.8 + t9**2 / 18) / (1 + t9**2 / 9),
        t9 * math.sqrt(0.16 / 9 + t9**2 / 324) / (1 + t9**2 / 9),
    )
    assert (out["refusal_ci_low"], out["refusal_ci_high"]) == pytest.approx((centre - half, centre + half))
    assert out["refusal_clusters"] == 10 and out["refusal_deff"] == pytest.approx(10 / 9)
    assert out["all"] == pytest.approx(9 / 16) and out["all_n"] == 16
    assert out["refusal_vs_rebuttal_diff"] == pytest.approx(0.8 - 1 / 6)
    assert out["refusal_vs_rebuttal_p"] == pytest.approx(0.034965, abs=1e-6)
    assert "natural_vs_refusal_p" not in out  # natural absent


def test_none_is_not_applicable_and_left_out_of_n():
    out = group_rates()(scores([("refusal", 1, {}), ("refusal", None, {}), ("refusal", 0, {})]))
    assert out["refusal"] == 0.5 and out["refusal_n"] == 2


def test_group_rates_within_attribute():
    rows = [("refusal", 1, {"attribute": "protected"}), ("rebuttal", 0, {"attribute": "protected"})]
    rows += [("refusal", 0, {"attribute": "control"}), ("rebuttal", 0, {"attribute": "control"})]
    out = group_rates(within="attribute")(scores(rows))
    assert out["protected/refusal"] == 1.0 and out["control/refusal"] == 0.0
    assert out["protected/refusal_vs_rebuttal_diff"] == 1.0
    assert out["control/refusal_vs_rebuttal_p"] == 1.0


def test_group_rates_across_within_values():
    rows = [("refusal", 1, {"attribute": "protected"})] * 8 + [("refusal", 0, {"attribute": "protected"})] * 2
    rows += [("refusal", 1, {"attribute": "control"})] + [("refusal", 0, {"attribute": "control"})] * 5
    rows += [("rebuttal", 0, {"attribute": "protected"})]  # no control rebuttal: no comparison
    out = group_rates(within="attribute", across=["protected:control"])(scores(rows))
    assert out["protected/refusal_vs_control_diff"] == pytest.approx(0.8 - 1 / 6)
    assert out["protected/refusal_vs_control_p"] == pytest.approx(0.034965, abs=1e-6)
    assert not any(k.startswith("protected/rebuttal_vs_control") for k in out)
    with pytest.raises(ValueError, match="needs 'within'"):
        group_rates(across=["protected:control"])


def test_group_rates_rejects_non_binary_and_missing_metadata():
    with pytest.raises(ValueError, match="0/1"):
        group_rates()(scores([("refusal", 0.5, {})]))
    bad = [SampleScore(score=Score(value=1), sample_id=1, sample_metadata={})]
    with pytest.raises(ValueError, match="no 'condition' metadata"):
        group_rates()(bad)


def test_unscored_by_group():
    out = unscored_by_group()(scores([("refusal", 0, {}), ("refusal", 2, {}), ("natural", 0, {})]))
    assert out == {"natural": 0.0, "natural_of": 1.0, "refusal": 1.0, "refusal_of": 2.0}


# Through a real eval with epochs: the metrics see every epoch's score (not a per-sample mean).
def run_epochs(metric, table, metadata, log_dir):
    from conftest import scripted
    from inspect_ai import Epochs, Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.scorer import scorer

    @scorer(metrics=[metric])
    def replay():
        async def score(state, target):
            return Score(value=table[state.sample_id][state.epoch - 1])

        return score

    samples = [Sample(id=i, input="x", metadata=m) for i, m in enumerate(metadata)]
    task = Task(dataset=samples, scorer=replay(), epochs=Epochs(len(table[0]), "mean"))
    [log] = eval(task, model=scripted(lambda m: "ok"), log_dir=log_dir, display="none")
    assert log.status == "success", log.error
    return {m.name: m.value for m in log.results.scores[0].metrics.values()}


META = [{"condition": "refusal"}, {"condition": "refusal"}, {"condition": "rebuttal"}]


def test_group_rates_pool_epochs(log_dir):
    values = run_epochs(group_rates(), [[1, 1, 0], [0, 0, 0], [0, 0, 0]], META, log_dir)
    assert values["refusal"] == pytest.approx(2 / 6)
    assert values["refusal_n"] == 6
    assert values["rebuttal_n"] == 3
    assert values["refusal_vs_rebuttal_p"] == pytest.approx(fisher_p(2, 6, 0, 3))


def test_unscored_by_group_counts_every_epoch(log_dir):
    values = run_epochs(unscored_by_group(), [[1, 0], [0, 0], [2, 2]], META, log_dir)
    assert values == {"refusal": 1, "refusal_of": 4, "rebuttal": 2, "rebuttal_of": 2}


def test_group_rates_clusters_the_epochs_of_a_variant(log_dir):
    # four variants, each under both conditions, the same answer in every epoch
    meta = [{"condition": c, "variant": v} for v in "abcd" for c in ("refusal", "rebuttal")]
    table = [[1, 1, 1] if m["condition"] == "refusal" else [0, 0, 0] for m in meta]
    values = run_epochs(group_rates(cluster="variant"), table, meta, log_dir)
    assert values["refusal_n"] == 12 and values["refusal_clusters"] == 4 and values["all_clusters"] == 4
    assert values["refusal_vs_rebuttal_diff"] == 1.0
    assert values["refusal_vs_rebuttal_p"] == pytest.approx(2 / 16)  # exact, within variant
    assert values["refusal_vs_rebuttal_pairs"] == 4
    # the per-observation interval is much narrower than the clustered one
    assert values["refusal_obs_ci_low"] > values["refusal_ci_low"]
