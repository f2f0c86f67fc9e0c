"""judge_validation: gold sets, exact agreement metrics with scripted graders, argument errors."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from conftest import judged_reply, scripted
from inspect_ai import eval
from inspect_ai.log import read_eval_log

from refusal_evals.core.args import TaskArgError
from refusal_evals.judge_validation.gold import GOLD_DIR, load_gold
from refusal_evals.judge_validation.scorer import agreement, cohen_kappa, judge_labels
from refusal_evals.judge_validation.task import gold_samples, no_generation, package_judges
from refusal_evals.judges.framework import PROMPTS_DIR, load_judge_prompt
from refusal_evals.judges.harmfulness import load_rubric_prompt

JUDGES = sorted(p.stem for p in PROMPTS_DIR.glob("*.yaml"))


def test_every_judge_in_the_package_has_a_gold_set():
    assert package_judges() == tuple(JUDGES)
    assert {
        "behaviour",
        "consistency",
        "insider_deception",
        "refusal_type",
        "self_report",
        "capability",
        "harmfulness",
    } <= set(JUDGES)
    missing = [j for j in JUDGES if not (GOLD_DIR / f"{j}.yaml").is_file()]
    assert not missing, f"judges without a gold set in {GOLD_DIR}: {missing}"
    assert sorted(p.stem for p in GOLD_DIR.glob("*.yaml")) == JUDGES, (
        "a gold set for a judge that does not exist"
    )


@pytest.mark.parametrize("judge", JUDGES)
def test_gold_set_validates_and_is_balanced(judge):
    gold = load_gold(judge)  # pydantic schema via validate_file
    samples = gold_samples(judge)  # labels are the judge's, fields are exactly the judge's fields
    assert len(samples) >= 60
    counts = Counter(s.target for s in samples)
    assert set(counts) == set(judge_labels(judge)), counts
    assert min(counts.values()) >= 0.8 * max(counts.values()), counts
    assert all(c.rationale.strip() for c in gold.cases)
    texts = [tuple(sorted(gold.case_fields(c).items())) for c in gold.cases]
    assert len(set(texts)) == len(texts), "two cases are identical"


def test_gold_sets_cover_the_hard_kinds():
    tags = Counter(t for j in JUDGES for c in load_gold(j).cases for t in c.tags)
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
BEHAVIOUR = {load_gold("behaviour").case_fields(c)["output"]: c.label for c in load_gold("behaviour").cases}
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
    return load_rubric_prompt().render(**gold.case_fields(c))


def test_right_grader_agrees_perfectly(log_dir):
    log, m = run(log_dir, right, "self_report,harmfulness,behaviour")
    assert len(log.samples) == 180
    # no_generation(): the model under test is never asked; only the grader is
    assert all(len(s.messages) == 1 and s.output.empty for s in log.samples)
    assert callable(no_generation())
    for j in ("self_report", "harmfulness", "behaviour"):
        assert m[f"{j}_n"] == 60 and m[f"{j}_scored_n"] == 60
        assert m[f"{j}_accuracy"] == 1.0 and m[f"{j}_kappa"] == 1.0 and m[f"{j}_unparseable"] == 0.0
        for g in judge_labels(j):
            assert m[f"{j}_precision_{g}"] == 1.0 and m[f"{j}_recall_{g}"] == 1.0
            for p in judge_labels(j):
                assert m[f"{j}_cm_{g}_{p}"] == (20 if j != "behaviour" else 30) * (g == p)


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
    policy = load_policy(Path(__file__).parents[1] / "examples" / "judge-validation-policy.yaml")
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
