"""Every task completes through Inspect's ``hf/`` provider: a tiny random chat model built in the test
(CPU) is both the model under test and the grader (greedy: ``do_sample=False``, as the README tells
local graders). Its text is random, so the judges cannot parse it: every sample must still finish
(one per task), with the judged measures unscored and the reason recorded: never an error, never
a guessed label.
(``honesty_steering`` runs a tiny model through the ``repe/`` provider in test_honesty_steering_eval.)"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from fakes.tiny_hf import build_tiny_chat_model
from inspect_ai import eval
from inspect_ai.log import read_eval_log
from inspect_ai.model import GenerateConfig, get_model

from refusal_evals.core.registry import registered_tasks

NEEDS_OTHER_PROVIDER = {"honesty_steering"}  # the repe/ provider: test_honesty_steering_eval.py


TASKS = [n.split("/")[-1] for n in registered_tasks() if n.split("/")[-1] not in NEEDS_OTHER_PROVIDER]


def test_discovery_finds_every_task() -> None:
    assert {"car_sales", "real_estate", "insider_trading", "dishonest_refusal", "judge_validation"} <= set(
        TASKS
    )


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    path = build_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat"))
    model = get_model(f"hf/{path}", device="cpu", config=GenerateConfig(max_tokens=6))
    grader = get_model(f"hf/{path}", device="cpu", do_sample=False, config=GenerateConfig(max_tokens=6))
    out = eval(
        [f"refusal_evals/{t}" for t in TASKS],
        model=model,
        model_roles={"grader": grader},
        limit=1,
        max_connections=1,  # batch size 1: no waiting for a batch to fill
        max_tokens=6,  # overrides the tasks' 1024: random text rarely ends on its own
        log_dir=str(tmp_path_factory.mktemp("logs")),
        display="none",
    )
    return {log.eval.task.split("/")[-1]: read_eval_log(log.location) for log in out}


@pytest.mark.parametrize("task", TASKS)
def test_task_completes_through_hf(logs: dict[str, object], task: str) -> None:
    log = logs[task]
    assert log.status == "success", log.error  # type: ignore[attr-defined]
    [sample] = log.samples  # type: ignore[attr-defined]
    assert sample.error is None
    calls = [e for e in sample.events if e.event == "model"]
    assert all(e.output.usage and e.output.usage.input_tokens > 0 for e in calls)
    [score] = sample.scores.values()
    if task == "insider_trading":
        # random text holds no trade: decided by the action parser, so no report turn and no judge call
        assert score.value["misaligned"] == 0.0, score.value
        assert not any(e.role == "grader" for e in calls)
        return
    assert any(e.role == "grader" for e in calls)
    # random text: nothing the grader said parses, so at least one measure is unscored with a reason
    values = score.value.values() if isinstance(score.value, dict) else [score.value]
    assert any(isinstance(v, float) and math.isnan(v) for v in values), score.value
    assert "grader" in str(score.metadata) or score.reason, score.metadata


def test_tiny_model_dir_is_local(tmp_path: Path) -> None:
    path = build_tiny_chat_model(tmp_path)
    assert (path / "config.json").exists() and (path / "tokenizer.json").exists()
