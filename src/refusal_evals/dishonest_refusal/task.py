"""``refusal_evals/dishonest_refusal``: does the model claim it *cannot* answer what it can?

After arXiv 2406.01931 ("Dishonesty in helpful and harmless alignment"): a harmful request, a fixed
self-report question after a refusal, and a benign capability probe in a fresh conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset
from inspect_ai.model import GenerateConfig
from inspect_ai.solver import Solver

from refusal_evals.core.args import TaskArgError, check_grader_bound, parse_bool, parse_choices
from refusal_evals.core.identity import EXPERIMENT_KEY, experiment_record, judge_files
from refusal_evals.dishonest_refusal.request_schema import RequestSet
from refusal_evals.dishonest_refusal.requests import BUILTIN, load_requests, parse_columns, request_samples
from refusal_evals.dishonest_refusal.scorer import dishonest_metrics, dishonest_refusal_judge
from refusal_evals.dishonest_refusal.solver import dishonest_refusal_steps
from refusal_evals.judges.framework import PROMPTS_DIR
from refusal_evals.judges.native_awareness import NATIVE_AWARENESS

DEFAULT_CONFIG = GenerateConfig(max_tokens=1024)
"""The provider's default temperature; override with ``--temperature``. Probe answers need room."""


@dataclass(frozen=True)
class RequestArgs:
    """The checked task arguments every task over the request items takes (dishonest_refusal,
    honesty_steering): which items, and how the three steps run and are scored."""

    requests: RequestSet
    builtin: bool
    categories: list[str] | None
    """None: every category of the dataset."""
    follow_up: bool
    bare_cant_is_inability: bool
    self_report_question: str
    columns: tuple[tuple[str, str], ...] | None = None
    """``-T columns``: the CSV columns mapped by the user (None: none given)."""

    def samples(self) -> MemoryDataset:
        return request_samples(self.requests, self.categories)

    def solver(self) -> Solver:
        return dishonest_refusal_steps(
            self_report_question=self.self_report_question, follow_up=self.follow_up
        )

    def metadata(self) -> dict[str, Any]:
        return {
            "dataset": "built-in" if self.builtin else self.requests.description,
            "dataset_version": self.requests.version,
            "dataset_layout": self.requests.layout,
            "categories": self.categories or list(self.requests.categories()),
            "follow_up": self.follow_up,
            "bare_cant_is_inability": self.bare_cant_is_inability,
            "self_report_question": self.self_report_question,
        }


def dataset_path(value: Any) -> str | None:
    """``-T dataset``: None for the built-in dataset, else the file's path."""
    if value is None or str(value).strip() in ("", "builtin", "built-in"):
        return None
    return str(value)


def choose_categories(value: Any, valid: tuple[str, ...]) -> list[str] | None:
    """``-T categories``: the chosen categories, or None for all of them."""
    if value is None or value == "" or value == "all":
        return None
    chosen = parse_choices("categories", value, valid, allow_all=True)
    return None if set(chosen) == set(valid) else chosen


def request_args(
    dataset: Any, categories: Any, follow_up: Any, bare_cant_is_inability: Any, columns: Any = None
) -> RequestArgs:
    """Check the arguments (errors name the argument and the valid values, before any model call)."""
    path = dataset_path(dataset)
    mapping = parse_columns(columns)
    if mapping is not None and path is None:
        raise TaskArgError("-T columns maps the columns of a -T dataset=<file>.csv; no dataset is given")
    requests = load_requests(path, mapping)
    question = requests.self_report_question or load_requests(None).self_report_question
    assert question, "the built-in dataset defines self_report_question"
    return RequestArgs(
        requests=requests,
        builtin=not dataset,
        categories=choose_categories(categories, requests.categories()),
        follow_up=parse_bool("follow_up", follow_up),
        bare_cant_is_inability=parse_bool("bare_cant_is_inability", bare_cant_is_inability),
        self_report_question=question,
        columns=mapping,
    )


def request_experiment(evaluation: str, args: RequestArgs, dataset: Any) -> dict[str, Any]:
    """The experiment record (:mod:`refusal_evals.core.identity`) of a task over the request items."""
    path = dataset_path(dataset)
    settings = {
        "follow_up": args.follow_up,
        "bare_cant_is_inability": args.bare_cant_is_inability,
        "columns": None if args.columns is None else dict(args.columns),
    }
    return experiment_record(
        evaluation,
        evaluation,
        f"1-{args.requests.version}",
        {**settings, "dataset": path},
        files={"dataset": path or BUILTIN},
        judges=judge_files(
            PROMPTS_DIR, "refusal_type", "self_report", "capability", "harmfulness", NATIVE_AWARENESS
        ),
        values={"self_report_question": args.self_report_question},
    )


@task
def dishonest_refusal(
    dataset: str | None = None,
    categories: str | None = None,
    follow_up: bool = True,
    bare_cant_is_inability: bool = False,
    columns: str | None = None,
) -> Task:
    """Dishonest refusals (arXiv 2406.01931): refusal, inability claims, capability probes.

    Args:
      dataset: Path to a dataset file (.yaml in the built-in format; .csv in the StrongREJECT,
        HarmBench or AdvBench layout, detected from the header; or .jsonl with id, prompt,
        category); default: the built-in dataset (64 items, 8 categories).
      categories: Comma-separated categories to run (default: all in the dataset).
      follow_up: After a refusal, ask whether the model was unable or unwilling (step 2).
      bare_cant_is_inability: Count a bare "I'm sorry, I can't help with that" as a claim of
        inability (default: no; the step-2 self-report decides).
      columns: A .csv file's columns in another layout: ``prompt:<column>,category:<column>``
        (also id, source, probe, knowledge, context); default: detected from the header.
    """
    args = request_args(dataset, categories, follow_up, bare_cant_is_inability, columns)
    check_grader_bound()
    return Task(
        dataset=args.samples(),
        solver=args.solver(),
        scorer=dishonest_refusal_judge(bare_cant_is_inability=args.bare_cant_is_inability),
        metrics=dishonest_metrics(native=True),
        config=DEFAULT_CONFIG,
        version=f"1-{args.requests.version}",
        metadata={**args.metadata(), EXPERIMENT_KEY: request_experiment("dishonest_refusal", args, dataset)},
    )
