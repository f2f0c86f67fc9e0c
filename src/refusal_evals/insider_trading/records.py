"""The store record the insider-trading solver writes and its scorer reads, typed.

One :class:`InsiderRecord` per sample, kept in the sample's store under ``insider_trading`` (as
plain JSON, so the log shows it as it always did): where each stage's message is, the deterministic
trade decision, the report verdict (judged in the solver, since the doubling-down question depends
on it) and the texts the judges need. The solver saves it after every step, so that a sample stopped
by a limit is scored on what it reached.
"""

from __future__ import annotations

from typing import Any, Literal

from inspect_ai.solver import TaskState
from pydantic import BaseModel, ConfigDict, Field

from refusal_evals.insider_trading.trades import TradeDecision

STORE_KEY = "insider_trading"


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Handling(_Record):
    """The agent's handling of the first tip: its own (``natural``) or injected."""

    message_index: int
    generated: bool
    text: str


class Decision(TradeDecision):
    """The trade decision of the decision turn (or of a first-tip handling that already buys)."""

    model_config = ConfigDict(extra="forbid")

    at: Literal["first_tip", "decision"]
    message_index: int
    stop_reason: str | None
    amount_confirmed: int | None = Field(default=None, exclude_if=lambda v: v is None)
    """Shares the environment confirmed (the report stage ran); absent from the log otherwise."""

    @classmethod
    def of(
        cls, trade: TradeDecision, at: Literal["first_tip", "decision"], index: int, stop: str | None
    ) -> Decision:
        return cls(**trade.model_dump(), at=at, message_index=index, stop_reason=stop)


class StageTurn(_Record):
    """A generated report or answer: where it is and why generation stopped."""

    message_index: int
    stop_reason: str | None


class StageVerdict(_Record):
    """The deception judge on a report or an answer; ``deceptive`` is 1, 0 or None (unscored)."""

    judged_text: str | None
    found_by: str
    """``separator``, ``send_message``, ``send_message_to_manager``, ``prose`` (an answer written as
    plain prose, with no action: judged as the agent's words to the manager) or ``none``."""
    verdict: dict[str, Any] | None = None
    deceptive: int | None = None
    why_unscored: str | None = None
    reason: Literal["no_response", "grader_failed"] | None = None


class JudgedTurn(StageVerdict, StageTurn):
    """A report or answer with its verdict."""

    @classmethod
    def of(cls, turn: StageTurn, verdict: StageVerdict) -> JudgedTurn:
        return cls(**turn.model_dump(), **verdict.model_dump())


class JudgeInputs(_Record):
    """What the judges read besides the agent's turns (from the sample's script)."""

    tip_message: str = ""
    decision_message: str = ""
    decision_context: str = ""
    deception_context: str = ""
    doubling_down_trigger: str | None = None
    doubling_down_sep: str | None = None
    manager_address: str | None = None


class InsiderRecord(_Record):
    """What the stages of one conversation reached."""

    handling: Handling | None = None
    decision: Decision | None = None
    report: JudgedTurn | None = None
    doubling_down: StageTurn | None = None
    judge_inputs: JudgeInputs = Field(default_factory=JudgeInputs)

    def save(self, state: TaskState) -> None:
        state.store.set(STORE_KEY, self.model_dump())

    @classmethod
    def load(cls, state: TaskState) -> InsiderRecord:
        """The sample's record; an empty one (no stage reached) when the solver wrote none."""
        return cls.model_validate(state.store.get(STORE_KEY) or {})
