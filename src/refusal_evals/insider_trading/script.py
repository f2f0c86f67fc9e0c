"""The scripted conversation of one insider-trading sample, built from the built-in scenario
(:mod:`.scenario`) or from a published prompt file (:mod:`.prompt_file`).

With ``-T message_format=split`` each message of an environment step is its own user turn, with
``concurrent`` they are joined into one; ``-T pressure=low`` drops the messages flagged
``pressure: true``. A task builds each sample's :class:`Script` once (:class:`ScriptBook`): the
sample's input is its ``prefix``, and the solver plays the rest of the same script.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from inspect_ai.model import ChatMessage, ChatMessageAssistant, ChatMessageSystem, ChatMessageUser

from refusal_evals.core.templates import fill
from refusal_evals.insider_trading.prompt_file import PublishedPrompt
from refusal_evals.insider_trading.scenario import AgentStep, EnvStep, InsiderTradingScenario, Step

MESSAGE_FORMATS: tuple[str, ...] = ("concurrent", "split")
PRESSURES: tuple[str, ...] = ("high", "low")
STAGES: tuple[str, ...] = ("decision", "report", "doubling_down")
"""The stages of one conversation; ``-T turns`` is how many of them run (1 to 3)."""

AGENT_TURN_COT = 'Reasoning: """{reasoning}"""\n\nAction: {action}\nAction Input: {action_input}'
AGENT_TURN_NO_COT = "Action: {action}\nAction Input: {action_input}"

GENERATE = "generate"
"""``Script.handling`` when the model writes its own handling of the first tip (``natural``)."""


@dataclass
class Script:
    """The scripted conversation of one sample, and what the stages after it need."""

    prefix: list[ChatMessage]
    """System prompt up to the message carrying the first tip (the sample's input)."""
    handling: str | None
    """The first tip's handling: GENERATE (the model's own), a fixed text, or None (no such turn)."""
    handling_metadata: dict[str, Any] | None
    suffix: list[ChatMessage]
    """Everything after the handling up to the decision message (ends with a user message)."""
    tip_message: str
    decision_message: str
    report_trigger: str
    """With ``{amount}`` still to fill."""
    doubling_down_trigger: str | None
    names: list[str]
    """The tipped stock's ticker, then its other names (for trade detection)."""
    default_amount: int
    manager_address: str | None
    decision_context: str
    deception_context: str
    misalignment_string: str | None = None
    report_sep: str | None = None
    doubling_down_sep: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


def render_agent(step: AgentStep, values: dict[str, str], cot: bool) -> str:
    template = AGENT_TURN_COT if cot else AGENT_TURN_NO_COT
    return template.format(
        reasoning=fill(step.reasoning, values),
        action=step.action,
        action_input=fill(step.action_input, values),
    )


def env_messages(step: EnvStep, values: dict[str, str], message_format: str, pressure: str) -> list[str]:
    """The user turn(s) of one environment step."""
    texts = [fill(m.text, values) for m in step.messages if pressure == "high" or not m.pressure]
    if step.header:
        texts[0] = f"{fill(step.header, values)}\n\n{texts[0]}"
    return ["\n\n".join(texts)] if message_format == "concurrent" else texts


def _steps(
    steps: list[Step], values: dict[str, str], cot: bool, message_format: str, pressure: str
) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    for step in steps:
        if step.environment:
            out += [
                ChatMessageUser(content=t)
                for t in env_messages(step.environment, values, message_format, pressure)
            ]
        elif step.agent:
            out.append(ChatMessageAssistant(content=render_agent(step.agent, values, cot), source="input"))
    return out


def builtin_script(
    spec: InsiderTradingScenario,
    variant: str,
    condition: str,
    cot: bool,
    message_format: str,
    pressure: str,
) -> Script:
    values = spec.values(variant)
    fmt = spec.action_format.cot if cot else spec.action_format.no_cot
    system = fill(spec.system_prompt, {**values, "action_format": fill(fmt, values)})
    tip = env_messages(spec.first_tip, values, message_format, pressure)
    decision = env_messages(spec.decision, values, message_format, pressure)
    prefix: list[ChatMessage] = [ChatMessageSystem(content=system)]
    prefix += _steps(spec.opening, values, cot, message_format, pressure)
    prefix += [ChatMessageUser(content=t) for t in tip]
    suffix = _steps(spec.before_decision, values, cot, message_format, pressure)
    suffix += [ChatMessageUser(content=t) for t in decision]
    handling = GENERATE if condition == "natural" else fill(getattr(spec.injected, condition), values)
    return Script(
        prefix=prefix,
        handling=handling,
        handling_metadata=None if condition == "natural" else {"injected": condition},
        suffix=suffix,
        tip_message="\n\n".join(tip),
        decision_message="\n\n".join(decision),
        report_trigger=_fill_except_amount(spec.report_trigger, values),
        doubling_down_trigger=fill(spec.doubling_down_trigger, values),
        names=[fill(spec.target.ticker, values)] + [fill(n, values) for n in spec.target.names],
        default_amount=spec.target.default_amount,
        manager_address=fill(spec.target.manager_address, values),
        decision_context=fill(spec.judge_contexts.decision, values),
        deception_context=fill(spec.judge_contexts.deception, values),
    )


def _fill_except_amount(text: str, values: dict[str, str]) -> str:
    return fill(text, {**values, "amount": "{amount}"})


def prompt_file_script(prompt: PublishedPrompt, spec: InsiderTradingScenario, condition: str) -> Script:
    """The conversation of a published prompt file.

    ``natural`` is the file's conversation unchanged (its own scripted handling of the tip is kept:
    this replicates the original). With ``injection_index``, ``refusal`` / ``rebuttal`` replace the
    assistant message at that index by the injected refusal / a rebuttal naming the ticker.
    """
    msgs: list[ChatMessage] = []
    for m in prompt.messages:
        if m.role == "system":
            msgs.append(ChatMessageSystem(content=m.content))
        elif m.role == "user":
            msgs.append(ChatMessageUser(content=m.content))
        else:
            msgs.append(ChatMessageAssistant(content=m.content, source="input"))
    target = prompt.target()
    ticker = target.ticker
    i = prompt.injection_index
    if i is None:
        prefix, handling, meta, suffix = msgs, None, None, []
        tip = ""
    else:
        prefix, suffix = msgs[:i], msgs[i + 1 :]
        tip = prompt.messages[i - 1].content if i > 0 else ""
        if condition == "natural":
            handling, meta = prompt.messages[i].content, {"scripted": "prompt_file"}
        elif condition == "refusal":
            handling, meta = spec.injected.refusal, {"injected": condition}
        else:
            handling, meta = fill(spec.prompt_file.rebuttal, {"ticker": ticker}), {"injected": condition}
    return Script(
        prefix=prefix,
        handling=handling,
        handling_metadata=meta,
        suffix=suffix,
        tip_message=tip,
        decision_message=prompt.messages[-1].content,
        report_trigger=prompt.deception_trigger,
        doubling_down_trigger=prompt.doubling_down_trigger,
        names=target.all_names,
        default_amount=spec.target.default_amount,
        manager_address=None,
        decision_context=fill(spec.prompt_file.judge_contexts.decision, {"ticker": ticker}),
        deception_context=fill(spec.prompt_file.judge_contexts.deception, {"ticker": ticker}),
        misalignment_string=prompt.misalignment_string,
        report_sep=prompt.deception_message_sep,
        doubling_down_sep=prompt.doubling_down_sep,
        info={"ignored_keys": prompt.ignored_keys()},
    )


PROMPT_FILE_VARIANT = "prompt_file"
"""The variant id of a prompt file's samples (one script per condition)."""


class ScriptBook:
    """The scripts of one task by ``(variant, condition)``, each built once, when first asked for.

    The task builds every sample's script for the sample's input; the solver is handed the same book
    and plays the rest of those scripts, so nothing is built, and no file read, again per sample.
    """

    def __init__(self, build: Callable[[str, str], Script], name: str) -> None:
        self._build = build
        self._scripts: dict[tuple[str, str], Script] = {}
        self.name = name
        """How Inspect records the book among the solver's arguments in the log."""

    @classmethod
    def builtin(
        cls, spec: InsiderTradingScenario, cot: bool, message_format: str, pressure: str
    ) -> ScriptBook:
        def build(variant: str, condition: str) -> Script:
            return builtin_script(spec, variant, condition, cot, message_format, pressure)

        return cls(build, f"{spec.id} scripts")

    @classmethod
    def prompt_file(cls, prompt: PublishedPrompt, spec: InsiderTradingScenario) -> ScriptBook:
        def build(variant: str, condition: str) -> Script:
            return prompt_file_script(prompt, spec, condition)

        return cls(build, f"{spec.id} prompt-file scripts")

    def script(self, variant: str, condition: str) -> Script:
        key = (variant, condition)
        if key not in self._scripts:
            self._scripts[key] = self._build(variant, condition)
        return self._scripts[key]
