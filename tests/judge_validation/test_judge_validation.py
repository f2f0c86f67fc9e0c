"""judge_validation: gold sets, exact agreement metrics with scripted graders, argument errors."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from conftest import judged_reply, scripted
from inspect_ai import eval
from inspect_ai.log import read_eval_log

from refusal_evals.core.args import TaskArgError
from refusal_evals.core.files import DataFileError
from refusal_evals.judge_validation.gold import (
    GOLD_DIR,
    gold_path,
    gold_set_names,
    load_gold,
    scenario_names,
    split_name,
)
from refusal_evals.judge_validation.scorer import agreement, cohen_kappa, judge_labels
from refusal_evals.judge_validation.task import choose_gold_sets, gold_samples, no_generation
from refusal_evals.judges.framework import PROMPTS_DIR, judge_names, load_judge_prompt
from refusal_evals.roleplay.scenarios import SCENARIO_DIR, load_scenario

JUDGES = sorted(p.stem for p in PROMPTS_DIR.glob("*.yaml"))
GOLD_SETS = gold_set_names()
SCENARIOS = sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def test_every_judge_in_the_package_has_a_gold_set():
    assert judge_names() == tuple(JUDGES)
    assert {
        "behaviour",
        "consistency",
        "insider_deception",
        "refusal_type",
        "self_report",
        "capability",
        "harmfulness",
    } <= set(JUDGES)
    assert {split_name(name)[0] for name in GOLD_SETS} == set(JUDGES)
    missing = [name for name in GOLD_SETS if not gold_path(name).is_file()]
    assert not missing, f"gold sets missing in {GOLD_DIR}: {missing}"
    on_disk = {p.relative_to(GOLD_DIR) for p in GOLD_DIR.rglob("*.yaml")}
    assert on_disk == {gold_path(name).relative_to(GOLD_DIR) for name in GOLD_SETS}, (
        "a gold set for a judge or scenario that does not exist"
    )


def test_every_scenario_has_a_behaviour_gold_set():
    """The behaviour judge is validated under each scenario's own rubric: a new scenario file in
    roleplay/scenarios/ needs gold/behaviour/<scenario>.yaml."""
    assert scenario_names() == tuple(SCENARIOS) and {"car_sales", "real_estate"} <= set(SCENARIOS)
    assert [n for n in GOLD_SETS if n.startswith("behaviour:")] == [f"behaviour:{s}" for s in SCENARIOS]
    missing = [s for s in SCENARIOS if not (GOLD_DIR / "behaviour" / f"{s}.yaml").is_file()]
    assert not missing, f"scenarios without a behaviour gold set in {GOLD_DIR / 'behaviour'}: {missing}"
    for s in SCENARIOS:
        gold = load_gold(f"behaviour:{s}")
        assert gold.judge == "behaviour" and gold.scenario == s


@pytest.mark.parametrize("name", GOLD_SETS)
def test_gold_set_validates_and_is_balanced(name):
    gold = load_gold(name)  # pydantic schema via validate_file
    samples = gold_samples(name)  # labels are the judge's, fields are exactly the judge's fields
    assert len(samples) >= (40 if split_name(name)[1] else 60)
    counts = Counter(s.target for s in samples)
    assert set(counts) == set(judge_labels(gold.judge)), counts
    assert min(counts.values()) >= 0.8 * max(counts.values()), counts
    assert all(c.rationale.strip() for c in gold.cases)
    texts = [tuple(sorted(gold.case_fields(c).items())) for c in gold.cases]
    assert len(set(texts)) == len(texts), "two cases are identical"
    assert all(s.id.startswith(f"{name}/") and s.metadata["gold_set"] == name for s in samples)


def test_behaviour_gold_sets_take_the_rubric_from_their_scenario():
    for name in ("behaviour:car_sales", "behaviour:real_estate"):
        gold = load_gold(name)
        rubric = load_scenario(gold.scenario).behaviour_judge
        for case in gold.cases:
            fields = gold.case_fields(case)
            assert (fields["undesired"], fields["acceptable"]) == (rubric.undesired, rubric.acceptable)
    re_gold = load_gold("behaviour:real_estate")
    case = re_gold.cases[0]
    values = load_scenario("real_estate").variant(case.variant).vars
    assert re_gold.case_fields(case)["context"] == rubric.context.format_map(values)


def test_real_estate_gold_covers_both_families_and_the_hard_kinds():
    samples = gold_samples("behaviour:real_estate")
    scenario = load_scenario("real_estate")
    attribute = {v.id: v.metadata["attribute"] for v in scenario.variants}
    family = Counter((attribute[s.metadata["variant"]], s.target) for s in samples)
    assert len(samples) >= 40 and min(family.values()) >= 10, family
    assert set(family) == {(a, lbl) for a in ("protected", "control") for lbl in ("undesired", "acceptable")}
    assert {s.metadata["variant"] for s in samples} == {v.id for v in scenario.variants}
    tags = Counter((t, s.target) for s in samples for t in s.metadata["tags"])
    for kind in ("hedged", "partial_steering", "ethical_reasoning_unethical_output", "other_language"):
        assert tags[(kind, "undesired")] + tags[(kind, "acceptable")] >= 4, kind
    assert tags[("other_language", "undesired")] >= 2 and tags[("other_language", "acceptable")] >= 2


def test_judges_argument_selects_gold_sets():
    behaviour = [f"behaviour:{s}" for s in SCENARIOS]
    assert choose_gold_sets("behaviour") == behaviour
    assert choose_gold_sets("behaviour:real_estate,self_report") == ["behaviour:real_estate", "self_report"]
    assert choose_gold_sets("all") == list(GOLD_SETS)
    assert choose_gold_sets("behaviour,behaviour:car_sales") == behaviour
    with pytest.raises(TaskArgError, match="unknown value behaviour:nope; valid values: behaviour, behav"):
        choose_gold_sets("behaviour:nope")


def test_gold_set_errors_name_file_and_field(tmp_path, monkeypatch):
    from refusal_evals.judge_validation import gold as gold_module

    monkeypatch.setattr(gold_module, "GOLD_DIR", tmp_path)
    with pytest.raises(DataFileError, match=r"no gold set for the new_scenario scenario's rubric"):
        gold_module.load_gold("behaviour:new_scenario")
    (tmp_path / "behaviour").mkdir()
    source = (GOLD_DIR / "behaviour" / "real_estate.yaml").read_text(encoding="utf-8")
    broken = source.replace("variant: maple-protected", "variant: maple-nope", 1)
    (tmp_path / "behaviour" / "real_estate.yaml").write_text(broken, encoding="utf-8")
    with pytest.raises(DataFileError, match=r"\(maple-protected-u1\): variant 'maple-nope' is not one"):
        gold_samples("behaviour:real_estate")
    copied = source.replace("cases:\n", "shared:\n  undesired: stale copy\ncases:\n", 1)
    (tmp_path / "behaviour" / "real_estate.yaml").write_text(copied, encoding="utf-8")
    with pytest.raises(DataFileError, match=r"shared: \['undesired'\] come from the real_estate scenario's"):
        gold_samples("behaviour:real_estate")


def test_gold_sets_cover_the_hard_kinds():
    tags = Counter(t for name in GOLD_SETS for c in load_gold(name).cases for t in c.tags)
    for kind in (
        "ethical_reasoning_unethical_output",
        "partial_disclosure",
        "disclosure_in_reasoning_only",
        "polite_refusal_leaks",
        "colleague_not_nonpublic",
        "idiomatic_cant",
        "other_language",
        "markdown",
    ):
        assert tags[kind] >= 1, kind


def test_native_consistency_gold_has_an_insider_decision_case_type():
    """Issue 19: at least 30 cases per new case type, balanced, in the insider task's own context."""
    gold = load_gold("native_consistency")
    insider = [c for c in gold.cases if "insider_decision" in c.tags]
    counts = Counter(c.label for c in insider)
    assert len(insider) >= 30 and counts["consistent"] == counts["inconsistent"], counts
    assert all("AI trading agent" in gold.case_fields(c)["context"] for c in insider)
    assert sum("other_language" in c.tags for c in insider) >= 2


def test_agreement_numbers_by_hand():
    labels = ["a", "b"]
    gold = ["a", "a", "a", "b", "b", "b"]
    pred = ["a", "a", "b", "b", "b", None]
    out = agreement("j", labels, gold, pred)
    # parsed pairs: aa aa ab bb bb; po = 4/5; pe = (3*2 + 2*3)/25 = 12/25; kappa = (20-12)/(25-12) = 8/13
    assert out["j_n"] == 6 and out["j_scored_n"] == 5
    assert out["j_unparseable"] == pytest.approx(1 / 6)
    assert out["j_accuracy"] == pytest.approx(0.8)
    assert out["j_kappa"] == pytest.approx(8 / 13)
    assert (out["j_cm_a_a"], out["j_cm_a_b"], out["j_cm_b_a"], out["j_cm_b_b"]) == (2, 1, 0, 2)
    assert out["j_precision_a"] == 1.0 and out["j_recall_a"] == pytest.approx(2 / 3)
    assert out["j_precision_b"] == pytest.approx(2 / 3) and out["j_recall_b"] == 1.0
    assert math.isnan(cohen_kappa([("a", "a")], labels)) and math.isnan(cohen_kappa([], labels))


# --- scripted graders -------------------------------------------------------------------------------

SELF_REPORT = {
    load_gold("self_report").case_fields(c)["answer"]: (c.id, c.label) for c in load_gold("self_report").cases
}
HARM = {load_gold("harmfulness").case_fields(c)["reply"]: c.label for c in load_gold("harmfulness").cases}
BEHAVIOUR = {
    load_gold(name).case_fields(c)["output"]: c.label
    for name in ("behaviour:car_sales", "behaviour:real_estate")
    for c in load_gold(name).cases
}
RUBRIC = {"refused": (1, 1, 1), "low": (0, 2, 2), "high": (0, 4, 4)}


def _case_text(prompt: str, head: str) -> str:
    return prompt.split(head, 1)[1].split('"""\n', 1)[1].split('\n"""', 1)[0]


def self_report_case(prompt: str) -> tuple[str, str]:
    return SELF_REPORT[_case_text(prompt, "The assistant's answer:")]


def harm_case(prompt: str) -> str:
    return HARM[_case_text(prompt.rsplit("## Case", 1)[-1] if "## Case" in prompt else prompt, "Reply:")]


def rubric_reply(band: str) -> str:
    r, c, s = RUBRIC[band]
    return f"Rated.\nREFUSED: {r}\nCONVINCING: {c}\nSPECIFIC: {s}"


def right(messages):
    prompt = messages[-1].text
    if "It was then asked:" in prompt:
        return "Because.\nANSWER: " + self_report_case(prompt)[1]
    if "Agent's reply sent to the other party:" in prompt:
        return "Because.\nANSWER: " + BEHAVIOUR[judged_reply(prompt)]
    return rubric_reply(harm_case(prompt))


def flawed(messages):
    """self_report: unable -> unwilling (wrong), unclear-01..05 unparseable, the rest right;
    harmfulness: everything rated high."""
    prompt = messages[-1].text
    if "It was then asked:" in prompt:
        case_id, label = self_report_case(prompt)
        if label == "unable":
            return "ANSWER: unwilling"
        if case_id in {f"unclear-0{i}" for i in range(1, 6)}:
            return "I am not sure what to say."
        return "ANSWER: " + label
    return rubric_reply("high")


def run(log_dir, grader, judges):
    [log] = eval(
        "refusal_evals/judge_validation",
        model="mockllm/model",
        model_roles={"grader": scripted(grader)},
        task_args={"judges": judges},
        log_dir=log_dir,
        display="none",
    )
    assert log.status == "success", log.error
    log = read_eval_log(log.location)
    [score] = log.results.scores
    return log, {m.name: m.value for m in score.metrics.values()}


def _harm_prompt_matches_rubric_renderer():
    gold = load_gold("harmfulness")
    c = gold.cases[0]
    return load_judge_prompt("harmfulness").render(None, **gold.case_fields(c))


def test_right_grader_agrees_perfectly(log_dir):
    log, m = run(log_dir, right, "self_report,harmfulness,behaviour:car_sales,behaviour:real_estate")
    assert len(log.samples) == 240
    # no_generation(): the model under test is never asked; only the grader is
    assert all(len(s.messages) == 1 and s.output.empty for s in log.samples)
    assert callable(no_generation())
    per_label = {"self_report": 20, "harmfulness": 20, "behaviour:car_sales": 30, "behaviour:real_estate": 30}
    # the behaviour judge over every rubric validated, and per rubric (its gold set)
    per_label["behaviour"] = 60
    for j, each in per_label.items():
        labels = judge_labels(split_name(j)[0])
        assert m[f"{j}_n"] == each * len(labels) and m[f"{j}_scored_n"] == each * len(labels)
        assert m[f"{j}_accuracy"] == 1.0 and m[f"{j}_kappa"] == 1.0 and m[f"{j}_unparseable"] == 0.0
        for g in labels:
            assert m[f"{j}_precision_{g}"] == 1.0 and m[f"{j}_recall_{g}"] == 1.0
            for p in labels:
                assert m[f"{j}_cm_{g}_{p}"] == each * (g == p)
    assert not any(k.startswith(("self_report:", "harmfulness:")) for k in m)


def test_flawed_grader_gives_exact_accuracy_kappa_and_confusion(log_dir):
    log, m = run(log_dir, flawed, "self_report,harmfulness")
    j = "self_report"
    assert m[f"{j}_n"] == 60 and m[f"{j}_scored_n"] == 55
    assert m[f"{j}_unparseable"] == pytest.approx(5 / 60)
    assert m[f"{j}_accuracy"] == pytest.approx(35 / 55)
    # po = 35/55, pe = (20*0 + 20*40 + 15*15)/55^2 -> kappa = (1925 - 1025)/(3025 - 1025) = 0.45
    assert m[f"{j}_kappa"] == pytest.approx(0.45)
    assert m[f"{j}_cm_unable_unwilling"] == 20 and m[f"{j}_cm_unable_unable"] == 0
    assert m[f"{j}_cm_unwilling_unwilling"] == 20 and m[f"{j}_cm_unclear_unclear"] == 15
    assert m[f"{j}_precision_unwilling"] == 0.5 and m[f"{j}_recall_unwilling"] == 1.0
    assert m[f"{j}_recall_unable"] == 0.0 and math.isnan(m[f"{j}_precision_unable"])
    j = "harmfulness"
    assert m[f"{j}_accuracy"] == pytest.approx(1 / 3) and m[f"{j}_kappa"] == pytest.approx(0.0)
    assert m[f"{j}_cm_refused_high"] == 20 and m[f"{j}_cm_low_high"] == 20 and m[f"{j}_cm_high_high"] == 20
    unparsed = [s for s in log.samples if s.scores["judge_validation_scorer"].reason == "grader_failed"]
    assert sorted(s.id for s in unparsed) == [f"self_report/unclear-0{i}" for i in range(1, 6)]
    assert all(math.isnan(s.scores["judge_validation_scorer"].value["correct"]) for s in unparsed)
    assert (
        "no 'ANSWER: <label>' line" in unparsed[0].scores["judge_validation_scorer"].metadata["why_unscored"]
    )


def test_grader_sees_the_tasks_own_prompts(log_dir):
    seen: list[str] = []

    def record(messages):
        seen.append(messages[-1].text)
        return right(messages)

    run(log_dir, record, "self_report,harmfulness")
    gold = load_gold("self_report")
    expected = load_judge_prompt("self_report").render(None, **gold.case_fields(gold.cases[0]))
    assert expected in seen
    assert _harm_prompt_matches_rubric_renderer() in seen


def test_bad_judges_and_missing_grader_fail_before_any_model_call(log_dir):
    def never(messages):
        raise AssertionError("no model call expected")

    with pytest.raises(TaskArgError, match=r"-T judges: unknown value nope; valid values: behaviour, "):
        eval(
            "refusal_evals/judge_validation",
            model="mockllm/model",
            model_roles={"grader": scripted(never)},
            task_args={"judges": "self_report,nope"},
            log_dir=log_dir,
            display="none",
        )
    with pytest.raises(TaskArgError, match="no 'grader' model bound"):
        eval(
            "refusal_evals/judge_validation",
            model="mockllm/model",
            task_args={"judges": "self_report"},
            log_dir=log_dir,
            display="none",
        )


def test_example_policy_gates_kappa_per_judge_and_report_lists_the_task(log_dir, tmp_path):
    from pathlib import Path

    from refusal_evals.gate import evaluate, load_policy
    from refusal_evals.report import pool, read_logs

    run(log_dir, flawed, "self_report,harmfulness")
    policy = load_policy(Path(__file__).parents[2] / "examples" / "judge-validation-policy.yaml")
    results = {r.rule: (r.value, r.verdict) for r in evaluate(policy, pool(read_logs([log_dir])))}
    assert results["judge agreement (kappa) [self_report_kappa]"] == ("0.4500", "FAIL")
    assert results["judge agreement (kappa) [harmfulness_kappa]"] == ("0.0000", "FAIL")
    assert results["judge replies parse [self_report_unparseable]"] == ("0.0833", "FAIL")
    assert results["judge replies parse [harmfulness_unparseable]"] == ("0.0000", "pass")

    from refusal_evals.report import write_report

    report = write_report([log_dir], tmp_path / "report")
    md = report.markdown.read_text(encoding="utf-8")
    section = md.split("## Judge validation", 1)[1]
    assert "| mockllm/model | self_report | 60 | 0.083 | 0.636 | 0.450 |" in section
    assert "Confusion matrix: harmfulness, grader mockllm/model" in section
    assert "| refused | 0 | 0 | 20 |" in section  # gold refused, all predicted high
    assert "Tasks without a condition grouping" not in md
    assert "Judge validation" in report.html.read_text(encoding="utf-8")
