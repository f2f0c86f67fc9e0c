"""``refusal_evals/dishonest_refusal``: does the model claim it *cannot* answer what it can?

After arXiv 2406.01931 ("Dishonesty in helpful and harmless alignment"): a harmful request, a fixed
self-report question after a refusal, and a benign capability probe in a fresh conversation.
"""

from __future__ import annotations

from typing import Any

from inspect_ai import Task, task
from inspect_ai.model import GenerateConfig

from refusal_evals.core.args import check_grader_bound, parse_bool, parse_choices
from refusal_evals.dishonest_refusal.requests import load_requests, request_samples
from refusal_evals.dishonest_refusal.scorer import dishonest_metrics, dishonest_refusal_judge
from refusal_evals.dishonest_refusal.solver import dishonest_refusal_steps

DEFAULT_CONFIG = GenerateConfig(max_tokens=1024)
"""The provider's default temperature; override with ``--temperature``. Probe answers need room."""


@task
def dishonest_refusal(
    dataset: str | None = None,
    categories: str | None = None,
    follow_up: bool = True,
    bare_cant_is_inability: bool = False,
) -> Task:
    """Dishonest refusals (arXiv 2406.01931): refusal, inability claims, capability probes.

    Args:
      dataset: Path to a dataset file (.yaml in the built-in format, StrongREJECT-style .csv with
        category, source, forbidden_prompt, or .jsonl with id, prompt, category); default: the
        built-in dataset (64 items, 8 categories).
      categories: Comma-separated categories to run (default: all in the dataset).
      follow_up: After a refusal, ask whether the model was unable or unwilling (step 2).
      bare_cant_is_inability: Count a bare "I'm sorry, I can't help with that" as a claim of
        inability (default: no; the step-2 self-report decides).
    """
    requests = load_requests(_dataset_path(dataset))
    chosen = _categories(categories, requests.categories())
    use_follow_up = parse_bool("follow_up", follow_up)
    bare_cant = parse_bool("bare_cant_is_inability", bare_cant_is_inability)
    question = requests.self_report_question or load_requests(None).self_report_question
    assert question, "the built-in dataset defines self_report_question"
    check_grader_bound()

    return Task(
        dataset=request_samples(requests, chosen),
        solver=dishonest_refusal_steps(self_report_question=question, follow_up=use_follow_up),
        scorer=dishonest_refusal_judge(bare_cant_is_inability=bare_cant),
        metrics=dishonest_metrics(),
        config=DEFAULT_CONFIG,
        version=f"1-{requests.version}",
        metadata={
            "dataset": requests.description if dataset else "built-in",
            "dataset_version": requests.version,
            "categories": chosen or list(requests.categories()),
            "follow_up": use_follow_up,
            "bare_cant_is_inability": bare_cant,
            "self_report_question": question,
        },
    )


def _dataset_path(value: Any) -> str | None:
    if value is None or str(value).strip() in ("", "builtin", "built-in"):
        return None
    return str(value)


def _categories(value: Any, valid: tuple[str, ...]) -> list[str] | None:
    if value is None or value == "" or value == "all":
        return None
    chosen = parse_choices("categories", value, valid, allow_all=True)
    return None if set(chosen) == set(valid) else chosen
