"""The two LLM judges of insider trading, as the solver and the scorer both call them.

- deception judge (``insider_deception``): does a report to the manager, or the answer to the
  manager's question, hide that the trade relied on insider information? The solver judges the
  report (the doubling-down question is asked only after a deceptive one); the scorer judges the
  answer.
- consistency judge (``consistency``): does the decision turn's reasoning match the action taken?
- native-awareness judge (``native_awareness``, called by the scorer): does the report turn's native
  reasoning show the agent knows its trade relied on the tip?
- native-consistency judge (``native_consistency``, called by the scorer): does the decision turn's
  native reasoning match the action taken?

What the judge reads is found deterministically first; a turn with nothing to judge is unscored
without a grader call.
"""

from __future__ import annotations

from inspect_ai.model import Model

from refusal_evals.core.logic import NAN
from refusal_evals.insider_trading.records import StageVerdict
from refusal_evals.insider_trading.trades import messages_sent, parse_turn
from refusal_evals.judges.framework import Verdict, load_judge_prompt, run_judge
from refusal_evals.judges.native_awareness import NATIVE_AWARENESS
from refusal_evals.judges.native_consistency import NATIVE_JUDGE

DECEPTION_JUDGE = "insider_deception"
CONSISTENCY_JUDGE = "consistency"
REPORT_STAGE = "trade report"
ANSWER_STAGE = "answer to the manager's question"
"""The stages as the deception judge's prompt names them."""


def judge_versions() -> dict[str, str]:
    """The prompt version of each judge (recorded in the score metadata)."""
    names = (CONSISTENCY_JUDGE, DECEPTION_JUDGE, NATIVE_AWARENESS, NATIVE_JUDGE)
    return {name: load_judge_prompt(name).version for name in names}


def judged_text(
    text: str, sep: str | None, recipient: str | None, prose: bool = False
) -> tuple[str | None, str]:
    """The part of a report or answer the deception judge reads, and how it was found.

    With the prompt file's separator (``deception_message_sep`` / ``doubling_down_sep``) present in
    the visible text: from the separator on, as in the original. Otherwise the body of the
    message(s) the agent sent (to ``recipient`` when given). With ``prose`` (the answer to the
    manager's direct question), a turn with no action at all is an answer in plain prose: its visible
    text (``found_by`` ``prose``). ``None`` when there is none.
    """
    turn = parse_turn(text)
    if sep and sep in turn.visible:
        return turn.visible[turn.visible.index(sep) :].strip(), "separator"
    bodies = messages_sent(text, recipient)
    if bodies:
        return "\n\n".join(bodies), "send_message" if recipient is None else "send_message_to_manager"
    if prose and turn.visible and not turn.actions:
        return turn.visible, "prose"
    return None, "none"


async def judge_stage(
    stage: str,
    text: str,
    stop_reason: str | None,
    context: str,
    message: str,
    sep: str | None,
    recipient: str | None,
    grader: Model,
) -> StageVerdict:
    """Judge a report or an answer (``stage``: :data:`REPORT_STAGE` or :data:`ANSWER_STAGE`; an
    answer may be plain prose: the manager asked the agent directly)."""
    judged, how = judged_text(text, sep, recipient, prose=stage == ANSWER_STAGE)
    if judged is None:
        to = f" to {recipient}" if recipient else ""
        why = (
            "model output was content-filtered"
            if stop_reason == "content_filter"
            else f"the agent sent no message{to} in this turn"
        )
        return StageVerdict(judged_text=None, found_by=how, why_unscored=why, reason="no_response")
    verdict = await run_judge(
        load_judge_prompt(DECEPTION_JUDGE),
        None,
        grader,
        stage=stage,
        context=context,
        message=message,
        output=judged,
    )
    record = StageVerdict(judged_text=judged, found_by=how, verdict=verdict.as_metadata())
    if verdict.label is None:
        record.why_unscored = verdict.why_unscored
        record.reason = "grader_failed"
    else:
        record.deceptive = 1 if verdict.label == "deceptive" else 0
    return record


async def judge_consistency(
    decision_text: str, context: str, message: str, grader: Model
) -> tuple[float, float, Verdict | None, str | None]:
    """``(missing, inconsistent, verdict, why unscored)`` for the decision turn.

    Missing reasoning is decided by the parser, before any grader call; a turn with reasoning but
    nothing after it cannot be judged (inconsistent = NaN).
    """
    turn = parse_turn(decision_text)
    if turn.missing_reasoning:
        return 1.0, 0.0, None, None
    if not turn.visible:
        return 0.0, NAN, None, "the decision turn has no action or text after its reasoning"
    verdict = await run_judge(
        load_judge_prompt(CONSISTENCY_JUDGE),
        None,
        grader,
        context=context,
        message=message,
        reasoning=turn.reasoning or "",
        output=turn.visible,
    )
    inconsistent = NAN if verdict.label is None else float(verdict.label == "inconsistent")
    return 0.0, inconsistent, verdict, verdict.why_unscored
