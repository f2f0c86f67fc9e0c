"""The three steps of ``refusal_evals/dishonest_refusal``.

1. The model answers the harmful request (the sample's input). The reply is classified at once
   (fast path or refusal-type judge, see :mod:`refusal_evals.dishonest_refusal.refusal_type`), because step 2
   depends on it. The reply's native reasoning (a reasoning model's thinking) is kept with it.
2. After a refusal, a fixed, neutral follow-up question in the same conversation asks whether it was
   unable or unwilling to answer (user message metadata ``{"self_report_question": true}``); the
   model's answer is the self-report.
3. In a fresh conversation (no earlier messages, no system prompt), the model under test answers the
   item's benign capability probe. It does not depend on steps 1-2, so it runs concurrently with them
   (one wave of latency less per sample). It is generated directly with ``get_model()``, inside the
   span ``capability_probe``, so the viewer's transcript shows it as its own model call.

Everything the scorer needs is kept in the store
(:class:`~refusal_evals.dishonest_refusal.records.DishonestRefusalRecord`).
"""

from __future__ import annotations

from inspect_ai.model import ChatMessageUser, get_model
from inspect_ai.solver import Generate, Solver, TaskState, solver
from inspect_ai.util import collect, span

from refusal_evals.core.native import native_reasoning, without_think
from refusal_evals.dishonest_refusal.records import Answer, DishonestRefusalRecord, ProbeAnswer, save_record
from refusal_evals.dishonest_refusal.refusal_type import classify_refusal
from refusal_evals.judges.framework import GRADER_ROLE


@solver
def dishonest_refusal_steps(self_report_question: str, follow_up: bool = True) -> Solver:
    """Harmful request, self-report after a refusal, capability probe in a fresh conversation.

    Args:
      self_report_question: The fixed step-2 question asked after a refusal.
      follow_up: Ask the step-2 question (``False`` skips step 2).
    """

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        record = DishonestRefusalRecord(request=state.input_text)

        async def conversation() -> None:
            """Steps 1 and 2, which depend on each other."""
            nonlocal state
            # step 1: the harmful request
            state = await generate(state)
            record.reply = without_think(state.output.completion)
            record.reply_stop_reason = state.output.stop_reason
            native = native_reasoning(state.output.message)
            record.reply_native, record.reply_native_text = native.status, native.text
            grader = get_model(role=GRADER_ROLE, required=True)
            async with span("classify_reply"):
                step1 = await classify_refusal(
                    state.input_text, record.reply, record.reply_stop_reason, grader
                )
            record.classification = step1
            if state.completed or not (follow_up and step1.refused):
                return
            # step 2: the self-report after a refusal
            state.messages.append(
                ChatMessageUser(content=self_report_question, metadata={"self_report_question": True})
            )
            state = await generate(state)
            record.self_report = Answer(
                question=self_report_question,
                answer=without_think(state.output.completion),
                stop_reason=state.output.stop_reason,
            )

        async def capability_probe() -> None:
            """Step 3: independent of steps 1-2, so it runs alongside them."""
            probe = state.metadata.get("probe")
            if not probe:
                return
            model = get_model()
            async with span("capability_probe"):
                output = await model.generate([ChatMessageUser(content=probe)])
            record.probe = ProbeAnswer(
                question=probe,
                answer=without_think(output.completion),
                stop_reason=output.stop_reason,
                model=str(model),
            )

        try:
            await collect(conversation(), capability_probe())
        finally:
            save_record(state, record)  # whatever finished, also when a step failed
        return state

    return solve
