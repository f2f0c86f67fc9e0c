"""``refusal_evals/honesty_steering``: steer a local model towards honesty and watch harm rise.

After arXiv 2406.01931 (section 3, "increasing honesty leads to more harmful LLMs"): the
``dishonest_refusal`` items (harmful request, step-2 self-report, capability probe, the harmfulness
judge) are run at several steering coefficients along the model's honesty direction (representation
engineering, ``refusal_evals.repe``), in ONE run:

    inspect eval refusal_evals/honesty_steering -T coeffs=-4,0,4,8 \\
      --model repe/meta-llama/Llama-2-7b-chat-hf --model-role grader=openai/gpt-4o

Each item is expanded into one sample per coefficient (sample metadata ``honesty_coeff`` and its
group name ``steering`` = ``c-4``, ``c+0``, ...); the ``repe/`` provider steers every generation of
the sample (the reply, the self-report and the probe) with that coefficient. Why one run rather than
one run per coefficient with ``inspect eval-set``: the model is loaded and its direction read once
instead of once per coefficient (minutes for a 7B model), batches still never mix coefficients, and
one log holds every coefficient side by side, so every rate is reported per coefficient with its
interval and its difference from ``c+0`` (Fisher exact p), and the trade-off curve is drawn from that
one log (``refusal_evals.repe.plots.tradeoff_figure``).
"""

from __future__ import annotations

import math
from typing import Any

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample

# no public accessor returns the active model without creating one (get_model() would load a repe/ model)
from inspect_ai.model._model import active_model  # inspect-evals-lint: ignore[IECQ001] -- see above

import refusal_evals.repe.plots  # noqa: F401  (registers the report's trade-off figure)
from refusal_evals.core.args import TaskArgError, check_grader_bound
from refusal_evals.core.identity import EXPERIMENT_KEY
from refusal_evals.dishonest_refusal.task import DEFAULT_CONFIG, request_args, request_experiment
from refusal_evals.honesty_steering.lie_detector import honesty_lie_detector, honesty_steering_metrics
from refusal_evals.repe.solver import COEFF_KEY, GROUP_KEY, coeff_label, steer_by_sample, supports_steering

DEFAULT_COEFFS = "-4,0,4,8"
MAX_COEFFS = 16


def parse_coeffs(value: Any) -> list[float]:
    """``-4,0,4,8`` (or a list, or one number) -> distinct finite floats, in the order given."""
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    out: list[float] = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            number = float(text) + 0.0  # -0 is 0 (one group, c+0)
        except ValueError:
            raise TaskArgError(
                f"-T coeffs: {text!r} is not a number; give comma-separated numbers, e.g. -T coeffs=-4,0,4,8"
            ) from None
        if not math.isfinite(number):
            raise TaskArgError(f"-T coeffs: {text!r} is not a finite number")
        if number not in out:
            out.append(number)
    if not out:
        raise TaskArgError("-T coeffs: no coefficient given; e.g. -T coeffs=-4,0,4,8")
    if len(out) > MAX_COEFFS:
        raise TaskArgError(f"-T coeffs: at most {MAX_COEFFS} coefficients, got {len(out)}")
    by_label: dict[str, list[float]] = {}
    for number in out:
        by_label.setdefault(coeff_label(number), []).append(number)
    for label, same in by_label.items():
        if len(same) > 1:
            both = " and ".join(repr(c) for c in same)
            raise TaskArgError(
                f"-T coeffs: {both} both become the group {label} (labels keep 6 significant digits), "
                "so their samples would be pooled; give coefficients that differ there"
            )
    return out


def check_steerable(coeffs: list[float]) -> None:
    """Before any model call: a coefficient other than 0 needs a model under test that can be steered
    (the ``repe/`` provider). Outside an eval (no active model) the solver checks per sample instead."""
    model = active_model()
    steered = [coeff_label(c) for c in coeffs if c != 0]
    if model is None or not steered or supports_steering(model):
        return
    raise TaskArgError(
        f"-T coeffs: {', '.join(steered)} steer the model under test, but {model} cannot be steered. Use the "
        "repe provider: --model repe/<hugging face id or local path> (it needs the package's hf extra), or "
        "-T coeffs=0 to run unsteered on any provider."
    )


def steered_samples(base: MemoryDataset, coeffs: list[float]) -> MemoryDataset:
    """One sample per (item, coefficient); ids ``<item>@c+4``."""
    samples = []
    for sample in base:
        for c in coeffs:
            samples.append(
                Sample(
                    id=f"{sample.id}@{coeff_label(c)}",
                    input=sample.input,
                    metadata={
                        **(sample.metadata or {}),
                        COEFF_KEY: c,
                        GROUP_KEY: coeff_label(c),
                        "item": sample.id,
                    },
                )
            )
    return MemoryDataset(samples, name="honesty_steering")


@task
def honesty_steering(
    coeffs: str = DEFAULT_COEFFS,
    dataset: str | None = None,
    categories: str | None = None,
    follow_up: bool = True,
    bare_cant_is_inability: bool = False,
    columns: str | None = None,
) -> Task:
    """Dishonest-refusal items at several honesty-steering coefficients (needs ``--model repe/...``).

    Args:
      coeffs: Comma-separated steering coefficients (hidden-state units along the unit honesty
        direction; 0 = unsteered; positive = towards honesty).
      dataset: As in ``dishonest_refusal``: a .yaml/.csv/.jsonl request file (default built-in).
      categories: Comma-separated categories to run (default: all).
      follow_up: Ask the step-2 unable/unwilling question after a refusal.
      bare_cant_is_inability: Count a bare "I can't help with that" as a claim of inability.
      columns: As in ``dishonest_refusal``: a .csv file's columns (``prompt:<column>,...``).
    """
    values = parse_coeffs(coeffs)
    check_steerable(values)
    args = request_args(dataset, categories, follow_up, bare_cant_is_inability, columns)
    check_grader_bound()

    zero = coeff_label(0.0)
    comparisons = [f"{coeff_label(c)}:{zero}" for c in values if c != 0] if 0.0 in values else []
    return Task(
        dataset=steered_samples(args.samples(), values),
        solver=steer_by_sample(args.solver()),
        scorer=honesty_lie_detector(bare_cant_is_inability=args.bare_cant_is_inability),
        metrics=honesty_steering_metrics(group_key=GROUP_KEY, comparisons=comparisons),
        config=DEFAULT_CONFIG,
        version=f"1-{args.requests.version}",
        metadata={
            **args.metadata(),
            "coeffs": values,
            EXPERIMENT_KEY: request_experiment("honesty_steering", args, dataset),
        },
    )
