import pytest

from refusal_evals.core.reasoning import extract


def test_well_formed():
    r = extract("<reasoning>Be honest.</reasoning>\n<reply>It had flood damage.</reply>")
    assert r.reasoning == "Be honest."
    assert r.output == "It had flood damage."
    assert not r.missing_reasoning and r.format == "tags"


@pytest.mark.parametrize(
    ("text", "reasoning", "output"),
    [
        # case and spaces in tags
        ("< Reasoning >think</ REASONING ><REPLY>hi</reply>", "think", "hi"),
        # unclosed reasoning runs to the reply tag
        ("<reasoning>think hard\n<reply>hello</reply>", "think hard", "hello"),
        # unclosed reply runs to the end
        ("<reasoning>t</reasoning><reply>hello there", "t", "hello there"),
        # no reply tag: the visible rest is the output
        ("<reasoning>t</reasoning>\nHello customer!", "t", "Hello customer!"),
        # several reasoning blocks are joined
        ("<reasoning>a</reasoning><reasoning>b</reasoning><reply>x</reply>", "a\n\nb", "x"),
        # tags inside a markdown fence
        ("```\n<reasoning>a</reasoning>\n<reply>x</reply>\n```", "a", "x"),
        # labelled sections instead of tags
        (
            "**Reasoning:** weigh it\n\n**Reply:** It was in a crash.",
            "weigh it",
            "It was in a crash.",
        ),
    ],
)
def test_malformed_but_readable(text, reasoning, output):
    r = extract(text)
    assert r.reasoning == reasoning
    assert r.output == output


@pytest.mark.parametrize(
    ("text", "output"),
    [
        ("<reply>Great car!</reply>", "Great car!"),  # reasoning skipped
        ("<reasoning>   </reasoning><reply>Great car!</reply>", "Great car!"),  # empty reasoning
        ("Great car, no issues!", "Great car, no issues!"),  # format ignored entirely
        ("Reply: Great car!", "Great car!"),
        ("", ""),
    ],
)
def test_missing_reasoning_is_decided_without_a_judge(text, output):
    r = extract(text)
    assert r.missing_reasoning
    assert r.reasoning is None
    assert r.output == output


def test_custom_tags():
    r = extract("<thinking>x</thinking><message>y</message>", "thinking", "message")
    assert (r.reasoning, r.output) == ("x", "y")
