"""The judge framework: parsing, verdicts, prompt files of both kinds, and that graders see the same
prompts as before the framework was unified (``judge_renderings.json``)."""

import hashlib
import json
from pathlib import Path

import pytest
from conftest import output
from pydantic import ValidationError

from refusal_evals.core.templates import fill
from refusal_evals.judges.framework import (
    JudgeExample,
    JudgePrompt,
    judge_names,
    load_judge_prompt,
    parse_verdict,
    verdict_from_output,
)
from refusal_evals.roleplay.scenarios import load_scenario

LABELS = ["undesired", "acceptable"]
SNAPSHOT = Path(__file__).with_name("judge_renderings.json")


@pytest.mark.parametrize(
    "text",
    [
        "It hides the defect.\nANSWER: undesired",
        "reasoning\n**ANSWER: undesired**",
        "reasoning\n**ANSWER:** **undesired**",
        'reasoning\nANSWER: "undesired"',
        "reasoning\nanswer: UNDESIRED.",
        "reasoning\n> ANSWER: `undesired`",
        "ANSWER: acceptable\nOn reflection it hides the problem.\nANSWER: undesired",
    ],
)
def test_last_answer_line_with_markdown_and_quotes(text):
    assert parse_verdict(text, LABELS) == ("undesired", None)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("I think it is undesired.", "no 'ANSWER: <label>' line"),
        ("ANSWER: unsafe", "'unsafe', which is not one of"),
        ("ANSWER: undesired or acceptable", "no 'ANSWER: <label>' line"),
        ("I can't help with judging this.", "no 'ANSWER: <label>' line"),
    ],
)
def test_unparseable_is_not_a_label(text, why):
    label, reason = parse_verdict(text, LABELS)
    assert label is None
    assert why in reason


def test_content_filter_and_error_are_unscored():
    prompt = load_judge_prompt("behaviour")
    v = verdict_from_output(prompt, output("ANSWER: acceptable", "content_filter"), "g")
    assert v.label is None and "content-filtered" in v.why_unscored
    errored = output("ANSWER: acceptable")
    errored.error = "boom"
    v = verdict_from_output(prompt, errored, "g")
    assert v.label is None and "boom" in v.why_unscored
    v = verdict_from_output(prompt, output("fine\nANSWER: acceptable"), "g")
    assert v.label == "acceptable" and v.prompt_version == prompt.version


def test_prompts_render_examples_and_labels():
    for name in ("behaviour", "consistency"):
        p = load_judge_prompt(name)
        fields = {f: f"<{f}>" for f in p.case_fields()}
        text = p.render(None, **fields)
        assert "ANSWER: <label>" in text
        assert " | ".join(p.labels) in text
        for f in fields.values():
            assert f in text
    assert load_judge_prompt("consistency").examples, "consistency judge must be few-shot"


def test_label_verdict_metadata_keeps_its_keys():
    prompt = load_judge_prompt("behaviour")
    v = verdict_from_output(prompt, output("Hides it.\nANSWER: undesired"), "grader-x")
    assert v.as_metadata() == {
        "judge": "behaviour",
        "prompt_version": prompt.version,
        "label": "undesired",
        "explanation": "Hides it.\nANSWER: undesired",
        "why_unscored": None,
        "grader": "grader-x",
    }
    assert v.rubric is None and v.score is None


RUBRIC = {
    "name": "r",
    "version": "r-1",
    "kind": "rubric",
    "items": {"gave_up": [0, 1], "quality": [1, 3]},
    "score": {"name": "r_score", "zero_if": "gave_up", "mean_of": ["quality"]},
    "bands": [{"label": "none", "zeroed": True}, {"label": "weak", "below": 0.5}, {"label": "strong"}],
    "template": "Rate {reply}.\n{examples}",
    "example_template": "{reply}: GAVE_UP {gave_up}, QUALITY {quality} ({rationale})",
    "examples": [{"fields": {"reply": "ok"}, "rubric": {"gave_up": 0, "quality": 3}, "rationale": "good"}],
}


def test_rubric_prompt_scores_bands_and_renders():
    prompt = JudgePrompt.model_validate(RUBRIC)
    assert prompt.labels == ["none", "weak", "strong"]
    assert prompt.render(None, reply="X") == "Rate X.\nok: GAVE_UP 0, QUALITY 3 (good)"
    assert prompt.score_of({"gave_up": 0, "quality": 2}) == 0.5
    assert [prompt.band_of({"gave_up": g, "quality": q}) for g, q in ((1, 3), (0, 1), (0, 2))] == [
        "none",
        "weak",
        "strong",
    ]
    v = verdict_from_output(prompt, output("**GAVE_UP**: 0\nQUALITY = 2/3"), "g")
    assert (v.label, v.rubric, v.score) == ("strong", {"gave_up": 0, "quality": 2}, 0.5)
    assert prompt.rubric_values(v) == {"r_score": 0.5, "gave_up": 0.0, "quality": 2.0}
    assert v.as_metadata()["r_score"] == 0.5 and "label" not in v.as_metadata()


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        (lambda d: d.update(labels=["a", "b"]), "give bands, not labels"),
        (lambda d: d.pop("bands"), "needs items, score and bands"),
        (lambda d: d["score"].update(mean_of=["speed"]), "score uses ['speed'], which are not items"),
        (lambda d: d["score"].update(zero_if="quality"), "zero_if: quality must have the range [0, 1]"),
        (lambda d: d["bands"].pop(), "the last band must fit every result"),
        (lambda d: d["examples"][0].update(rubric={"gave_up": 0, "quality": 9}), "quality out of range"),
        (lambda d: d["examples"][0].update(rubric={"quality": 2}), "give the items gave_up, quality"),
        (lambda d: d["examples"][0].update(label="weak"), "give either label"),
        (lambda d: d["examples"][0].update(fields={}), "examples[0].fields: no value for reply"),
        (lambda d: d.update(kind="label"), "a label judge lists at least two labels, and no items"),
        (lambda d: d["score"].pop("zero_if"), "a zeroed band needs score.zero_if"),
        (lambda d: d["bands"][1].update(label="Weak-Band"), "bands.1.label"),
    ],
)
def test_bad_prompt_files_name_the_field(edit, error):
    data = json.loads(json.dumps(RUBRIC))
    edit(data)
    with pytest.raises(ValidationError, match=error.replace("[", r"\[").replace("]", r"\]")):
        JudgePrompt.model_validate(data)


def test_label_examples_are_checked_against_the_judge():
    prompt = load_judge_prompt("behaviour")
    good = JudgeExample(fields={"output": "x"}, label="undesired", rationale="r")
    assert prompt.example_problem(good) is None
    bad = JudgeExample(fields={"output": "x"}, label="unsafe", rationale="r")
    assert prompt.example_problem(bad) == ".label: 'unsafe' is not one of undesired, acceptable"


# --- what graders see -------------------------------------------------------------------------------


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def rendering(key: str) -> str:
    """``judge/<judge>``: the judge with its own examples and ``<field>`` placeholders;
    ``roleplay/<scenario>/<variant>/<judge>``: the role-play scorer's first-turn call for a variant."""
    kind, *rest = key.split("/")
    if kind == "judge":
        prompt = load_judge_prompt(rest[0])
        return prompt.render(None, **{f: f"<{f}>" for f in prompt.case_fields()})
    scenario_name, variant, judge = rest
    scenario = load_scenario(scenario_name)
    rubric, values = scenario.behaviour_judge, scenario.variant(variant).vars
    case = {"context": fill(rubric.context, values), "message": fill(scenario.follow_ups[0], values)}
    if judge == "behaviour":
        return load_judge_prompt(judge).render(
            rubric.examples,
            **case,
            undesired=rubric.undesired,
            acceptable=rubric.acceptable,
            history="(none)",
            output="<output>",
        )
    return load_judge_prompt(judge).render(None, **case, reasoning="<reasoning>", output="<output>")


def depends_on(key: str) -> list[str]:
    kind, *rest = key.split("/")
    return [f"judge:{rest[0]}"] if kind == "judge" else [f"judge:{rest[2]}", f"scenario:{rest[0]}"]


def current_versions() -> dict[str, str]:
    out = {f"judge:{j}": load_judge_prompt(j).version for j in judge_names()}
    out.update({f"scenario:{s}": load_scenario(s).version for s in ("car_sales", "real_estate")})
    return out


def test_graders_see_the_same_prompts_until_a_version_changes():
    """Renderings captured with the code before the judge framework was unified: the framework change
    did not change a character of what graders see, and a later wording change needs a version bump
    (then regenerate the snapshot: ``python tests/test_judge.py``)."""
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    now = current_versions()
    keys = snapshot["renderings"]
    assert {f"judge/{j}" for j in judge_names()} <= set(keys)
    assert {k.split("/")[1] for k in keys if k.startswith("roleplay/")} == {"car_sales", "real_estate"}
    bumped = sorted({d for k in keys for d in depends_on(k) if snapshot["versions"][d] != now[d]})
    assert not bumped, f"versions changed since {SNAPSHOT.name} ({bumped}): regenerate it"
    changed = [k for k, sha in keys.items() if _sha(rendering(k)) != sha]
    assert not changed, f"what graders see changed without a version bump: {changed}"


def write_snapshot() -> None:
    keys = [f"judge/{j}" for j in judge_names()]
    for name in ("car_sales", "real_estate"):
        for v in load_scenario(name).variants:
            keys += [f"roleplay/{name}/{v.id}/behaviour", f"roleplay/{name}/{v.id}/consistency"]
    old = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    doc = {
        "about": old["about"],
        "versions": current_versions(),
        "renderings": {k: _sha(rendering(k)) for k in keys},
    }
    SNAPSHOT.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_snapshot()
