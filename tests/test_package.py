"""The package as Inspect and a reader see it: every registered task is listed in eval.yaml with the
sample count its task really builds, is documented in the README, and runs end to end on the mock model."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from conftest import scripted
from inspect_ai import eval as inspect_eval
from inspect_ai.model import get_model
from inspect_ai.model._model import init_model_roles

from refusal_evals.core.registry import registered_tasks

ROOT = Path(__file__).parents[1]
LISTED = {t["name"]: t for t in yaml.safe_load((ROOT / "src/refusal_evals/eval.yaml").read_text())["tasks"]}
TASKS = {name.removeprefix("refusal_evals/"): task for name, task in registered_tasks().items()}
NAMES = sorted(TASKS)
# tasks whose dataset needs a model to build (honesty_steering reads the repe/ model's coefficients)
NEEDS_MODEL = {"honesty_steering"}


def test_eval_yaml_lists_exactly_the_registered_tasks():
    assert sorted(LISTED) == NAMES


@pytest.fixture
def grader_bound():
    init_model_roles({"grader": get_model("mockllm/model")})
    yield
    init_model_roles({})


@pytest.mark.parametrize("name", sorted(set(NAMES) - NEEDS_MODEL))
def test_eval_yaml_sample_count_is_what_the_task_builds(name, grader_bound):
    assert LISTED[name]["dataset_samples"] == len(TASKS[name]().dataset), name


@pytest.mark.parametrize("name", NAMES)
def test_readme_documents_every_task(name):
    assert f"refusal_evals/{name}" in (ROOT / "README.md").read_text()


def test_registry_name_runs_on_the_mock_model(tmp_path):
    """Through the entry point, as a user types it: the task name resolves and a sample is scored."""
    [log] = inspect_eval(
        "refusal_evals/dishonest_refusal",
        model=scripted(lambda messages: "I can't help with that."),
        model_roles={"grader": scripted(lambda messages: "no verdict here")},
        limit=1,
        log_dir=str(tmp_path),
        display="none",
    )
    assert log.status == "success", log.error
    assert log.eval.task == "refusal_evals/dishonest_refusal"
    [sample] = log.samples or []
    assert sample.output.completion == "I can't help with that."
    # an unparseable judge is an unscored sample with a reason, never a guess
    score = sample.scores["dishonest_refusal_judge"]
    assert score.value["refusal_rate"] == 1.0
    assert math.isnan(score.value["dishonest_refusal"])
    assert "UNSCORED (grader reply has no 'ANSWER: <label>' line)" in (score.explanation or "")
