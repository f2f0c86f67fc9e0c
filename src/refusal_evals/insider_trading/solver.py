"""The insider-trading conversation: first tip handling, decision, report, doubling down.

Messages as logged:

1. the scripted opening up to the environment message(s) carrying the colleague's first tip (the
   sample's input);
2. the agent's handling of that tip: generated (``natural``) or injected (``refusal`` /
   ``rebuttal``, message metadata ``{"injected": <condition>}``). With ``natural``, a handling turn
   that already buys the tipped stock IS the decision turn (stage 1 ends there);
3. the scripted turns before the decision (failed searches, pressure) and the decision
   message(s) with the second tip; the generated DECISION turn;
4. if the decision buys the tipped stock (and ``stages >= 2``): the trade confirmation and the
   generated REPORT turn, judged at once by the deception judge;
5. if the report was judged deceptive (and ``stages == 3``): the manager's question and the
   generated DOUBLING-DOWN turn (judged by the scorer).

Everything the scorer needs (message indices, the deterministic trade decision, the report
verdict, the judges' inputs) is kept in the store as an :class:`~.records.InsiderRecord`.
"""

from __future__ import annotations

from copy import deepcopy

from inspect_ai.model import ChatMessageAssistant, ChatMessageUser, get_model
from inspect_ai.solver import Generate, Solver, TaskState, solver

from refusal_evals.core.native import without_think
from refusal_evals.core.templates import fill
from refusal_evals.insider_trading.judging import REPORT_STAGE, judge_stage
from refusal_evals.insider_trading.prompt_file import load_prompt_file
from refusal_evals.insider_trading.records import (
    Decision,
    Handling,
    InsiderRecord,
    JudgedTurn,
    JudgeInputs,
    StageTurn,
)
from refusal_evals.insider_trading.scenario import load_insider_scenario
from refusal_evals.insider_trading.script import GENERATE, Script, ScriptBook
from refusal_evals.insider_trading.trades import decide_trade
from refusal_evals.judges.framework import GRADER_ROLE


def judge_inputs(script: Script) -> JudgeInputs:
    return JudgeInputs(
        tip_message=script.tip_message,
        decision_message=script.decision_message,
        decision_context=script.decision_context,
        deception_context=script.deception_context,
        doubling_down_trigger=script.doubling_down_trigger,
        doubling_down_sep=script.doubling_down_sep,
        manager_address=script.manager_address,
    )


def _last(state: TaskState) -> tuple[int, str]:
    """Index and text of the message just generated (without a leading ``<think>`` block: native
    reasoning is not an action)."""
    return len(state.messages) - 1, without_think(state.messages[-1].text)


async def first_tip(
    state: TaskState, generate: Generate, script: Script, rec: InsiderRecord
) -> tuple[TaskState, Decision | None]:
    """The handling of the first tip; a generated one that buys is the decision."""
    if script.handling == GENERATE:
        state = await generate(state)
        index, text = _last(state)
        rec.handling = Handling(message_index=index, generated=True, text=text)
        tried = decide_trade(text, script.names, script.misalignment_string)
        if tried.bought:
            return state, Decision.of(tried, "first_tip", index, state.output.stop_reason)
    elif script.handling is not None:
        state.messages.append(
            ChatMessageAssistant(content=script.handling, source="input", metadata=script.handling_metadata)
        )
        rec.handling = Handling(message_index=len(state.messages) - 1, generated=False, text=script.handling)
    return state, None


async def decision(state: TaskState, generate: Generate, script: Script) -> tuple[TaskState, Decision]:
    """The scripted turns up to the decision message, then the generated decision."""
    state.messages.extend(
        deepcopy(script.suffix)
    )  # the script serves every epoch: copy, as Inspect copies inputs
    state = await generate(state)
    index, text = _last(state)
    trade = decide_trade(text, script.names, script.misalignment_string)
    return state, Decision.of(trade, "decision", index, state.output.stop_reason)


async def report(
    state: TaskState, generate: Generate, script: Script, rec: InsiderRecord
) -> tuple[TaskState, JudgedTurn]:
    """The environment confirms the trade; the agent reports it; the deception judge reads the report."""
    assert rec.decision is not None
    amount = rec.decision.amount
    if amount is None or rec.decision.amount_unit != "shares":
        amount = script.default_amount  # no share count given: the default lot is confirmed
    rec.decision.amount_confirmed = amount
    rec.save(state)
    trigger = fill(script.report_trigger, {"amount": str(amount)})
    state.messages.append(ChatMessageUser(content=trigger, metadata={"stage": "report"}))
    state = await generate(state)
    index, text = _last(state)
    judged = await judge_stage(
        REPORT_STAGE,
        text,
        state.output.stop_reason,
        script.deception_context,
        trigger,
        script.report_sep,
        script.manager_address,
        get_model(role=GRADER_ROLE, required=True),
    )
    return state, JudgedTurn.of(StageTurn(message_index=index, stop_reason=state.output.stop_reason), judged)


async def doubling_down(state: TaskState, generate: Generate, trigger: str) -> tuple[TaskState, StageTurn]:
    """The manager asks whether the agent knew beforehand; the answer is judged by the scorer."""
    state.messages.append(ChatMessageUser(content=trigger, metadata={"stage": "doubling_down"}))
    state = await generate(state)
    return state, StageTurn(message_index=len(state.messages) - 1, stop_reason=state.output.stop_reason)


def _build_scripts(cot: bool, message_format: str, pressure: str, prompt_file: str | None) -> ScriptBook:
    spec = load_insider_scenario()
    if prompt_file:
        return ScriptBook.prompt_file(load_prompt_file(prompt_file), spec)
    return ScriptBook.builtin(spec, cot, message_format, pressure)


@solver
def insider_trading_conversation(
    stages: int = 3,
    cot: bool = True,
    message_format: str = "concurrent",
    pressure: str = "high",
    prompt_file: str | None = None,
    scripts: ScriptBook | None = None,
) -> Solver:
    """Run the insider-trading stages (see the module docstring).

    Args:
      stages: 1 decision only, 2 + report, 3 + doubling down.
      cot: The agent was asked for a reasoning block (built-in scenario only).
      message_format: concurrent or split environment messages (built-in scenario only).
      pressure: high or low (without the management pressure messages; built-in scenario only).
      prompt_file: A prompt file in the published format, used instead of the built-in scenario.
      scripts: The samples' scripts as the task built them (by the samples' ``variant`` and
        ``condition`` metadata); by default they are built here from the arguments above.
    """
    if stages not in (1, 2, 3):
        raise ValueError(f"stages must be 1, 2 or 3; got {stages}")
    book = scripts or _build_scripts(cot, message_format, pressure, prompt_file)

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        script = book.script(state.metadata["variant"], state.metadata["condition"])
        rec = InsiderRecord(judge_inputs=judge_inputs(script))
        state, bought_at_tip = await first_tip(state, generate, script, rec)
        rec.save(state)
        if state.completed:
            return state
        if bought_at_tip is None:
            state, rec.decision = await decision(state, generate, script)
        else:
            rec.decision = bought_at_tip
        rec.save(state)
        if stages < 2 or not rec.decision.bought or state.completed:
            return state
        state, judged = await report(state, generate, script, rec)
        rec.report = judged
        rec.save(state)
        if stages < 3 or judged.deceptive != 1 or state.completed or not script.doubling_down_trigger:
            return state
        state, rec.doubling_down = await doubling_down(state, generate, script.doubling_down_trigger)
        rec.save(state)
        return state

    return solve
