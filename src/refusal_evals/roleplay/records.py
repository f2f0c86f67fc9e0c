"""The store record the role-play solver writes and its scorer reads: one per follow-up turn.

It is typed here, once, and kept in the sample store under ``roleplay_turns`` as a list of plain
dicts (what the log's store shows), so the solver and the scorer never import each other.
"""

from __future__ import annotations

from typing import Any

from inspect_ai.solver import TaskState

from refusal_evals.core.schema import Strict

TURNS_KEY = "roleplay_turns"


class FollowUpTurn(Strict):
    """A follow-up turn the solver ran."""

    turn: int
    """1-based number of the follow-up turn."""
    message_index: int
    """Index in ``state.messages`` of the model's reply to that turn (the reply the scorer judges)."""
    stop_reason: str | None = None
    """Why the reply ended (``content_filter`` explains an empty reply)."""


def save_turns(state: TaskState, turns: list[FollowUpTurn]) -> None:
    state.store.set(TURNS_KEY, [t.model_dump() for t in turns])


def load_turns(state: TaskState) -> list[FollowUpTurn]:
    saved: list[dict[str, Any]] = state.store.get(TURNS_KEY, [])
    return [FollowUpTurn.model_validate(t) for t in saved]
