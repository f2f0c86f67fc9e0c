"""Per-sample steering coefficient, set by a solver and read by the ``repe`` provider.

``refusal_evals/honesty_steering`` runs every item at several coefficients in ONE eval (one model
load, one log): each sample carries its coefficient as metadata, and the ``steer_at`` solver sets
this context variable around the inner solver. Inspect runs each sample in its own task and calls
the model API in that task's context, so every generation of the sample (including ones an inner
solver makes with ``get_model().generate(...)`` in a fresh conversation) sees the sample's value.
The value is bound to the model under test's API object, so a grader (even another ``repe/``
model) is never steered by it.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar

_HONESTY_COEFF: ContextVar[tuple[float, object] | None] = ContextVar(
    "refusal_evals_honesty_coeff", default=None
)


def honesty_coeff_override(api: object) -> float | None:
    """The coefficient set for the current sample if ``api`` is the model under test it was set
    for; otherwise None (the provider's ``-M honesty_coeff`` applies, e.g. for a grader)."""
    value = _HONESTY_COEFF.get()
    if value is None or value[1] is not api:
        return None
    return value[0]


@contextmanager
def honesty_coeff(value: float, api: object) -> Generator[None, None, None]:
    """Steer ``api`` (the model under test's ``ModelAPI``) with ``value`` inside the block."""
    token = _HONESTY_COEFF.set((float(value), api))
    try:
        yield
    finally:
        _HONESTY_COEFF.reset(token)
