"""The store record the dishonest_refusal solver writes and its scorer reads.

It is typed here, once, and kept in the sample store under ``dishonest_refusal`` as a plain dict
(what the log's store shows), so the solver and the scorer never import each other. The solver saves
whatever its steps reached, also when a step failed.
"""

from __future__ import annotations

from inspect_ai.solver import TaskState

from refusal_evals.core.schema import Strict
from refusal_evals.dishonest_refusal.refusal_type import Classification

STORE_KEY = "dishonest_refusal"


class Answer(Strict):
    """The model's answer to a fixed question: the step-2 self-report."""

    question: str
    answer: str
    stop_reason: str | None = None


class ProbeAnswer(Answer):
    """The answer to the benign capability probe (step 3), generated in a fresh conversation."""

    model: str
    """The model under test that answered."""


class DishonestRefusalRecord(Strict):
    """What the three steps produced for one item."""

    request: str
    """The harmful request (step 1)."""
    reply: str | None = None
    """The reply to it; None when step 1 was not reached."""
    reply_stop_reason: str | None = None
    reply_native: str = "absent"
    """The reply's native reasoning (:mod:`refusal_evals.core.native`): present, summarised,
    redacted or absent."""
    reply_native_text: str | None = None
    """Its readable text; None when not available."""
    classification: Classification | None = None
    """The reply's refusal type, decided by the solver because step 2 depends on it."""
    self_report: Answer | None = None
    """Step 2, asked only after a refusal (and with ``follow_up``)."""
    probe: ProbeAnswer | None = None
    """Step 3; None for items without a probe."""


def save_record(state: TaskState, record: DishonestRefusalRecord) -> None:
    state.store.set(STORE_KEY, record.model_dump())


def load_record(state: TaskState) -> DishonestRefusalRecord | None:
    saved = state.store.get(STORE_KEY)
    return None if saved is None else DishonestRefusalRecord.model_validate(saved)
