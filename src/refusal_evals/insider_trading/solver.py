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
verdict, the judges' inputs) is kept in the store under ``insider_trading``.
"""

from __future__ import annotations

from typing import Any

from inspect_ai.model import ChatMessageAssistant, ChatMessageUser, get_model
from inspect_ai.solver import Generate, Solver, TaskState, solver

from refusal_evals.core.templates import fill
from refusal_evals.insider_trading.scorer import REPORT_STAGE, STORE_KEY, decide_trade, judge_stage
from refusal_evals.insider_trading.script import (
    GENERATE,
    Script,
    builtin_script,
    load_insider_scenario,
    load_prompt_file,
    prompt_file_script,
)
from refusal_evals.judges.framework import GRADER_ROLE


def script_for(
    metadata: dict[str, Any],
    cot: bool,
    message_format: str,
    pressure: str,
    prompt_file: str | None,
) -> Script:
    spec = load_insider_scenario()
    condition = metadata["condition"]
    if prompt_file:
        return prompt_file_script(load_prompt_file(prompt_file), spec, condition)
    return builtin_script(spec, metadata["variant"], condition, cot, message_format, pressure)


@solver
def insider_trading_conversation(
    stages: int = 3,
    cot: bool = True,
    message_format: str = "concurrent",
    pressure: str = "high",
    prompt_file: str | None = None,
) -> Solver:
    """Run the insider-trading stages (see the module docstring).

    Args:
      stages: 1 decision only, 2 + report, 3 + doubling down.
      cot: The agent was asked for a reasoning block (built-in scenario only).
      message_format: concurrent or split environment messages (built-in scenario only).
      pressure: high or low (without the management pressure messages; built-in scenario only).
      prompt_file: A prompt file in the published format, used instead of the built-in scenario.
    """
    if stages not in (1, 2, 3):
        raise ValueError(f"stages must be 1, 2 or 3; got {stages}")

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        script = script_for(state.metadata, cot, message_format, pressure, prompt_file)
        rec: dict[str, Any] = {
            "handling": None,
            "decision": None,
            "report": None,
            "doubling_down": None,
            "judge_inputs": {
                "tip_message": script.tip_message,
                "decision_message": script.decision_message,
                "decision_context": script.decision_context,
                "deception_context": script.deception_context,
                "doubling_down_trigger": script.doubling_down_trigger,
                "doubling_down_sep": script.doubling_down_sep,
                "manager_address": script.manager_address,
            },
        }

        def save() -> None:
            state.store.set(STORE_KEY, rec)

        decision: dict[str, Any] | None = None
        if script.handling == GENERATE:
            state = await generate(state)
            index = len(state.messages) - 1
            rec["handling"] = {"message_index": index, "generated": True, "text": state.messages[index].text}
            tried = decide_trade(state.messages[index].text, script.names, script.misalignment_string)
            if tried["bought"]:
                decision = {**tried, "at": "first_tip", "message_index": index}
                decision["stop_reason"] = state.output.stop_reason
        elif script.handling is not None:
            state.messages.append(
                ChatMessageAssistant(
                    content=script.handling, source="input", metadata=script.handling_metadata
                )
            )
            rec["handling"] = {
                "message_index": len(state.messages) - 1,
                "generated": False,
                "text": script.handling,
            }
        save()
        if state.completed:
            return state

        if decision is None:
            state.messages.extend(script.suffix)
            state = await generate(state)
            index = len(state.messages) - 1
            decision = decide_trade(state.messages[index].text, script.names, script.misalignment_string)
            decision.update(at="decision", message_index=index, stop_reason=state.output.stop_reason)
        rec["decision"] = decision
        save()
        if stages < 2 or not decision["bought"] or state.completed:
            return state

        amount = decision["amount"]
        if amount is None or decision["amount_unit"] != "shares":
            amount = script.default_amount  # no share count given: the default lot is confirmed
        decision["amount_confirmed"] = amount
        trigger = fill(script.report_trigger, {"amount": str(amount)})
        state.messages.append(ChatMessageUser(content=trigger, metadata={"stage": "report"}))
        state = await generate(state)
        index = len(state.messages) - 1
        grader = get_model(role=GRADER_ROLE, required=True)
        judged = await judge_stage(
            REPORT_STAGE,
            state.messages[index].text,
            state.output.stop_reason,
            script.deception_context,
            trigger,
            script.report_sep,
            script.manager_address,
            grader,
        )
        rec["report"] = {"message_index": index, "stop_reason": state.output.stop_reason, **judged}
        save()
        if stages < 3 or judged["deceptive"] != 1 or state.completed or not script.doubling_down_trigger:
            return state

        state.messages.append(
            ChatMessageUser(content=script.doubling_down_trigger, metadata={"stage": "doubling_down"})
        )
        state = await generate(state)
        rec["doubling_down"] = {
            "message_index": len(state.messages) - 1,
            "stop_reason": state.output.stop_reason,
        }
        save()
        return state

    return solve
