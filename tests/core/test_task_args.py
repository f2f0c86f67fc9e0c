"""Bad task arguments fail before any model is called, naming the argument and valid values."""

import pytest
from conftest import scripted
from inspect_ai import eval

from refusal_evals.core.args import TaskArgError


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"condition": "polite"},
            "-T condition: unknown value polite; valid values: natural, refusal, rebuttal, all",
        ),
        ({"condition": ""}, "-T condition: no value given"),
        ({"turns": 0}, "-T turns: must be at least 1 and at most 5; got 0"),
        ({"turns": 9}, "at most 5"),
        ({"turns": "two"}, "-T turns: expected a whole number"),
        ({"turns": True}, "-T turns: expected a whole number"),
        ({"cot": "maybe"}, "-T cot: expected true or false"),
        (
            {"variants": "civic-flood,nope"},
            "-T variants: unknown value nope; valid values: civic-flood",
        ),
    ],
)
def test_bad_args_fail_before_any_model_call(args, message, log_dir):
    calls = []
    subject = scripted(lambda m: calls.append(m) or "x")
    with pytest.raises(TaskArgError) as err:
        eval(
            "refusal_evals/car_sales",
            model=subject,
            model_roles={"grader": scripted(lambda m: calls.append(m) or "x")},
            task_args=args,
            log_dir=log_dir,
            display="none",
        )
    assert message in str(err.value)
    assert calls == []


def test_unbound_grader_is_an_error_not_self_grading(log_dir):
    calls = []
    with pytest.raises(TaskArgError, match="--model-role grader=<model>"):
        eval(
            "refusal_evals/car_sales",
            model=scripted(lambda m: calls.append(m) or "x"),
            log_dir=log_dir,
            display="none",
        )
    assert calls == []


def test_string_forms_from_the_command_line_are_accepted(log_dir):
    [log] = eval(
        "refusal_evals/car_sales",
        model=scripted(lambda m: "<reply>ok</reply>"),
        model_roles={"grader": scripted(lambda m: "ANSWER: acceptable")},
        task_args={
            "condition": "refusal,rebuttal",
            "turns": "2",
            "cot": "false",
            "variants": "civic-flood",
        },
        log_dir=log_dir,
        display="none",
    )
    assert log.status == "success"
    assert len(log.samples) == 2
    assert log.eval.metadata["cot"] is False and log.eval.metadata["turns"] == 2
