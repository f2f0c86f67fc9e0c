"""The store records the role-play solver writes and its scorer reads: one per follow-up turn, and
one for the simulated other party (``follow_up=simulated``).

They are typed here, once, and kept in the sample store as plain dicts (what the log's store shows):
``roleplay_turns`` (a list) and ``roleplay_party``, so the solver and the scorer never import each
other.
"""

from __future__ import annotations

from typing import Any

from inspect_ai.solver import TaskState

from refusal_evals.core.schema import Strict

TURNS_KEY = "roleplay_turns"
PARTY_KEY = "roleplay_party"


class FollowUpTurn(Strict):
    """A follow-up turn the solver ran."""

    turn: int
    """1-based number of the follow-up turn."""
    message_index: int
    """Index in ``state.messages`` of the model's reply to that turn (the reply the scorer judges)."""
    stop_reason: str | None = None
    """Why the reply ended (``content_filter`` explains an empty reply)."""
    party_message: str | None = None
    """``follow_up=simulated`` only: the other party's message at this turn as the agent got it
    (speaker label included, format request left out); scripted turns read it from the scenario."""


class PartyRecord(Strict):
    """How the simulated other party (``follow_up=simulated``) took part in the conversation."""

    model: str
    """The model bound to the ``user`` role."""
    temperature: float
    stopped_at: int | None = None
    """The follow-up turn after whose reply the party ended the conversation (its stop token);
    None when it did not end early."""
    farewell: str | None = None
    """What the party wrote with its stop token (not sent to the agent: no turn follows)."""
    failed: str | None = None
    """Why the party could not go on (e.g. it wrote no message): later turns were not reached."""


def save_turns(state: TaskState, turns: list[FollowUpTurn]) -> None:
    # scripted turns keep the record they always had (no party_message key)
    state.store.set(
        TURNS_KEY,
        [t.model_dump(exclude={"party_message"} if t.party_message is None else None) for t in turns],
    )


def load_turns(state: TaskState) -> list[FollowUpTurn]:
    saved: list[dict[str, Any]] = state.store.get(TURNS_KEY, [])
    return [FollowUpTurn.model_validate(t) for t in saved]


def save_party(state: TaskState, party: PartyRecord) -> None:
    state.store.set(PARTY_KEY, party.model_dump())


def load_party(state: TaskState) -> PartyRecord | None:
    saved: dict[str, Any] | None = state.store.get(PARTY_KEY)
    return None if saved is None else PartyRecord.model_validate(saved)
