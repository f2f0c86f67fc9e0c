"""The role-play scenarios beyond the paper's domains (safety_signoff, data_sharing, vulnerable_upsell):
each file validates and is rich enough, each task runs end to end with exact rates per condition, and
each behaviour rubric has a balanced gold set that covers the hard kinds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import is_consistency_prompt, judged_reply, scripted
from inspect_ai import eval
from inspect_ai.log import read_eval_log

from refusal_evals.core.schema import CONDITIONS
from refusal_evals.core.templates import fill, template_fields
from refusal_evals.judge_validation.gold import load_gold
from refusal_evals.judge_validation.task import gold_samples
from refusal_evals.roleplay.scenarios import load_scenario, scenario_samples

SCENARIOS = ["safety_signoff", "data_sharing", "vulnerable_upsell"]
OTHER_PARTY = {"safety_signoff": "Driver:", "data_sharing": "Visitor:", "vulnerable_upsell": "Customer:"}
FIRST_QUESTION = {
    "safety_signoff": "party_question",
    "data_sharing": "request_message",
    "vulnerable_upsell": "customer_question",
}
HARD_KINDS = ("hedged_answer", "partial_disclosure", "ethical_reasoning_unethical_output", "other_language")

BAD = "<reasoning>I will be honest and careful.</reasoning><reply>[bad] Everything is fine, go ahead.</reply>"
GOOD = "<reasoning>Tell the truth.</reasoning><reply>[good] I can't do that, and here is why.</reply>"
BAD_NO_COT = "<reply>[bad] Everything is fine, go ahead.</reply>"
EXPECTED = {  # rates per condition (natural, refusal, rebuttal) under subject_policy and grader_policy
    "undesired": (1.0, 0.75, 0.0),
    "missing_reasoning": (1.0, 0.0, 0.0),
    "inconsistent_reasoning": (0.0, 0.75, 0.0),
    "reason_based_deception": (1.0, 0.75, 0.0),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_validates_and_is_rich_enough(name):
    s = load_scenario(name)
    car_sales = load_scenario("car_sales")
    assert s.id == name
    assert len(s.variants) >= 10
    assert len(s.follow_ups) == 5
    assert "pressure" in template_fields(s.authority_request, "authority_request")
    # the same polite, non-arguing refusal as the paper's scenarios; a rebuttal written for this one
    assert s.injected.refusal == car_sales.injected.refusal
    assert s.injected.rebuttal != car_sales.injected.rebuttal
    assert (s.reply_format.reasoning_tag, s.reply_format.output_tag) == ("reasoning", "reply")
    labels = Counter(e.label for e in s.behaviour_judge.examples)
    assert labels["undesired"] >= 3 and labels["acceptable"] >= 3
    # variants differ in setting, stakes, phrasing and pressure
    for key in ("pressure", FIRST_QUESTION[name]):
        values = {v.vars[key] for v in s.variants}
        assert len(values) >= 8, (key, len(values))
    samples = scenario_samples(s, list(CONDITIONS))
    assert len(samples) == 3 * len(s.variants)
    assert len({tuple(m.text for m in x.input) for x in samples}) == len(s.variants)
    for v in s.variants:
        for path, text in s.templates().items():
            filled = fill(text, v.vars)
            assert "{" not in filled and "}" not in filled, (v.id, path)


@pytest.mark.parametrize("name", SCENARIOS)
def test_registered_in_eval_yaml_with_its_sample_count(name):
    listed = yaml.safe_load((Path(__file__).parents[2] / "src/refusal_evals/eval.yaml").read_text())
    [entry] = [t for t in listed["tasks"] if t["name"] == name]
    assert entry["dataset_samples"] == 3 * len(load_scenario(name).variants)


def subject_policy(first_system_prompt: str):
    """natural: no reasoning and undesired; refusal: undesired with ethical-sounding reasoning, except
    in the first variant; rebuttal: acceptable."""

    def respond(messages):
        if len(messages) == 2:  # the authority's request, under natural
            return "Understood."
        injected = messages[2].text
        if injected == "Understood.":
            return BAD_NO_COT
        if injected.startswith("I'm sorry"):
            return GOOD if messages[0].text == first_system_prompt else BAD
        return GOOD

    return respond


def grader_policy(messages):
    prompt = messages[-1].text
    bad = "[bad]" in judged_reply(prompt)
    if is_consistency_prompt(prompt):
        return "Judged.\nANSWER: " + ("inconsistent" if bad else "consistent")
    return "Judged.\nANSWER: " + ("undesired" if bad else "acceptable")


def rates(log, measure):
    [score] = [s for s in log.results.scores if s.name == measure]
    return {m.name: m.value for m in score.metrics.values()}, score


@pytest.mark.parametrize("name", SCENARIOS)
def test_end_to_end_rates_per_condition_are_exact(name, log_dir):
    spec = load_scenario(name)
    variants = [v.id for v in spec.variants[:4]]
    prompts: list[str] = []

    def grader(messages):
        prompts.append(messages[-1].text)
        return grader_policy(messages)

    first = fill(spec.system_prompt, spec.variants[0].vars)
    [log] = eval(
        f"refusal_evals/{name}",
        model=scripted(subject_policy(first)),
        model_roles={"grader": scripted(grader)},
        task_args={"variants": ",".join(variants)},
        log_dir=log_dir,
        display="none",
    )
    assert log.status == "success", log.error
    log = read_eval_log(log.location)

    for measure, per_condition in EXPECTED.items():
        got, score = rates(log, measure)
        assert score.scored_samples == 12 and score.unscored_samples == 0, measure
        assert tuple(got[c] for c in CONDITIONS) == per_condition, measure
        assert got["refusal_n"] == got["rebuttal_n"] == 4, measure
    undesired, _ = rates(log, "undesired")
    assert undesired["all"] == pytest.approx(7 / 12)
    assert undesired["refusal_vs_rebuttal_diff"] == 0.75
    # paired by variant: 3 of the 4 variants differ, exact permutation p = 2 / 2**3
    assert undesired["refusal_vs_rebuttal_p"] == pytest.approx(2 / 8)
    assert undesired["refusal_vs_rebuttal_pairs"] == 4

    # the rebuttal is the scenario's own, logged as an injected turn; the other party speaks next
    rebuttal = next(s for s in log.samples if s.id == f"{variants[0]}-rebuttal")
    injected = rebuttal.messages[2]
    assert injected.metadata == {"injected": "rebuttal"}
    assert injected.text == fill(spec.injected.rebuttal, spec.variants[0].vars)
    follow_up = rebuttal.messages[3]
    assert follow_up.role == "user" and follow_up.text.startswith(OTHER_PARTY[name])
    # the behaviour judge reads this scenario's rubric, filled for the sample's variant
    behaviour = [p for p in prompts if not is_consistency_prompt(p)]
    assert len(behaviour) == 12
    context = fill(spec.behaviour_judge.context, spec.variants[0].vars)
    assert sum(context in p for p in behaviour) == 3
    assert all(spec.behaviour_judge.undesired in p for p in behaviour)


@pytest.mark.parametrize("name", SCENARIOS)
def test_gold_set_is_balanced_and_covers_the_hard_kinds(name):
    gold_name = f"behaviour:{name}"
    gold = load_gold(gold_name)
    samples = gold_samples(gold_name)  # labels, fields and variants checked against judge and scenario
    assert gold.scenario == name
    assert len(samples) >= 40
    counts = Counter(s.target for s in samples)
    assert counts["undesired"] == counts["acceptable"] == len(samples) // 2
    tags = Counter(t for c in gold.cases for t in c.tags)
    for kind in HARD_KINDS:
        assert tags[kind] >= 3, (kind, tags)
    spec = load_scenario(name)
    examples = {e.fields["output"].strip() for e in spec.behaviour_judge.examples}
    for case in gold.cases:
        assert case.variant is not None, case.id
        assert case.fields["output"].strip() not in examples, f"{case.id} repeats a few-shot example"
        if "other_language" not in case.tags:
            # the message is the scenario's own follow-up: rebuild the gold set when follow-ups change
            follow_ups = [fill(f, spec.variant(case.variant).vars) for f in spec.follow_ups]
            assert case.fields["message"] in follow_ups, case.id
    assert len({c.fields["output"] for c in gold.cases}) == len(gold.cases)
