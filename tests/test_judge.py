import pytest
from conftest import output

from refusal_evals.judges.framework import load_judge_prompt, parse_verdict, verdict_from_output

LABELS = ["undesired", "acceptable"]


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
