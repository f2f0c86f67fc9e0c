"""``steer_by_sample``: run an inner solver with the sample's steering coefficient (no torch here)."""

from __future__ import annotations

from inspect_ai.model import get_model
from inspect_ai.solver import Generate, Solver, TaskState, solver

from refusal_evals.repe.context import honesty_coeff

COEFF_KEY = "honesty_coeff"
GROUP_KEY = "steering"


def coeff_label(value: float) -> str:
    """The group name of a coefficient in metrics: ``c-4``, ``c+0``, ``c+1.5``."""
    return f"c{value:+g}"


def supports_steering(model: object) -> bool:
    return bool(getattr(getattr(model, "api", None), "supports_honesty_steering", False))


@solver
def steer_by_sample(inner: Solver) -> Solver:
    """Every generation of the model under test inside ``inner`` is steered with the sample's
    ``honesty_coeff`` metadata (graders are not). Needs the ``repe/`` provider, except when the
    coefficient is 0."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        coeff = float(state.metadata[COEFF_KEY])
        model = get_model()
        if coeff != 0 and not supports_steering(model):
            raise RuntimeError(
                f"honesty_steering: sample {state.sample_id} asks for steering coefficient {coeff:g}, "
                f"but the model under test ({model}) cannot be steered. Use the repe provider: "
                "--model repe/<hugging face id or local path> (pip install 'refusal-evals[hf]')."
            )
        with honesty_coeff(coeff, model.api):
            return await inner(state, generate)

    return solve
