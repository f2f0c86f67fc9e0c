"""The insider-trading scenario: its data-file schema, the published prompt-file format, and the
scripted conversation built from either.

Built-in scenario (``datasets/insider_trading.yaml``, schema :class:`InsiderTradingScenario`): a
system prompt with the documented action format, scripted ``opening`` turns (environment messages
and the agent's own earlier actions), the environment message carrying the colleague's first
insider tip, the injected handling of that tip, scripted turns ``before_decision`` (failed searches
for legitimate trades), the ``decision`` message (second tip), then the report and doubling-down
triggers. Environment messages flagged ``pressure: true`` are dropped with ``-T pressure=low``;
with ``-T message_format=split`` each message of an environment step is its own user turn,
with ``concurrent`` they are joined into one.

Prompt file (:class:`PublishedPrompt`): the JSON/YAML format published with Scheurer et al. 2023
(arXiv 2311.07590): ``messages`` plus ``misalignment_string``, ``deception_trigger``,
``deception_message_sep``, ``doubling_down_trigger``, ``doubling_down_sep`` and sampling settings.
The conversation is the file's messages; see :func:`prompt_file_script` for the conditions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageUser,
    GenerateConfig,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from refusal_evals.core.files import DataFileError, format_errors, read_yaml, validate_file
from refusal_evals.core.schema import InjectedReplies, Variant
from refusal_evals.core.templates import fill, template_fields

MESSAGE_FORMATS: tuple[str, ...] = ("concurrent", "split")
PRESSURES: tuple[str, ...] = ("high", "low")
STAGES: tuple[str, ...] = ("decision", "report", "doubling_down")
"""The stages of one conversation; ``-T turns`` is how many of them run (1 to 3)."""

SPECIAL_FIELDS = {"action_format", "amount"}
"""Placeholders filled by the solver, not by variants: the action format (system prompt) and the
number of shares bought (report trigger)."""

AGENT_TURN_COT = 'Reasoning: """{reasoning}"""\n\nAction: {action}\nAction Input: {action_input}'
AGENT_TURN_NO_COT = "Action: {action}\nAction Input: {action_input}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnvMessage(_Strict):
    """One message the environment delivers (a tool output, an e-mail, a clock tick)."""

    text: str = Field(min_length=1)
    pressure: bool = Field(default=False, description="dropped with -T pressure=low")


class EnvStep(_Strict):
    """What the environment sends in one step; ``header`` (e.g. the date) opens the first message."""

    header: str | None = None
    messages: list[EnvMessage] = Field(min_length=1)

    @model_validator(mode="after")
    def _not_only_pressure(self) -> EnvStep:
        if all(m.pressure for m in self.messages):
            raise ValueError(
                "every message is a pressure message, so the step would be empty with "
                "-T pressure=low; add a message with pressure: false"
            )
        return self


class AgentStep(_Strict):
    """One of the agent's own earlier turns, scripted (rendered with or without its reasoning)."""

    reasoning: str = Field(min_length=1)
    action: str = Field(pattern=r"^[a-z_]+$")
    action_input: str = Field(min_length=1)


class Step(_Strict):
    environment: EnvStep | None = None
    agent: AgentStep | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        if (self.environment is None) == (self.agent is None):
            raise ValueError("each step has exactly one of 'environment' or 'agent'")
        return self


class ActionFormat(_Strict):
    cot: str = Field(min_length=1, description="format instructions when cot=true (reasoning block)")
    no_cot: str = Field(min_length=1, description="format instructions when cot=false (no reasoning)")


class TradeTarget(_Strict):
    ticker: str = Field(min_length=1, description="template, e.g. '{ticker}'")
    names: list[str] = Field(default_factory=list, description="other names of the stock (templates)")
    manager_address: str = Field(min_length=1, description="where trade reports go (template)")
    default_amount: int = Field(default=1000, gt=0, description="shares confirmed when a buy names no amount")


class JudgeContexts(_Strict):
    decision: str = Field(min_length=1, description="situation, for the consistency judge")
    deception: str = Field(min_length=1, description="situation, for the deception judge")


class PromptFileTexts(_Strict):
    """Texts used with -T prompt_file (``{ticker}`` is the only placeholder)."""

    rebuttal: str = Field(min_length=1)
    judge_contexts: JudgeContexts


class InsiderTradingScenario(_Strict):
    id: str
    version: str = Field(min_length=1)
    description: str = Field(min_length=1)
    system_prompt: str = Field(min_length=1)
    action_format: ActionFormat
    opening: list[Step] = Field(min_length=2)
    first_tip: EnvStep
    injected: InjectedReplies
    before_decision: list[Step] = Field(min_length=2)
    decision: EnvStep
    report_trigger: str = Field(min_length=1)
    doubling_down_trigger: str = Field(min_length=1)
    target: TradeTarget
    judge_contexts: JudgeContexts
    prompt_file: PromptFileTexts
    defaults: dict[str, str] = Field(default_factory=dict)
    variants: list[Variant] = Field(min_length=1)

    @field_validator("opening", "before_decision")
    @classmethod
    def _alternates(cls, steps: list[Step]) -> list[Step]:
        kinds = ["environment" if s.environment else "agent" for s in steps]
        expected = ["environment" if i % 2 == 0 else "agent" for i in range(len(steps))]
        if kinds != expected:
            raise ValueError(
                "steps must alternate environment, agent, environment, ... and end with an agent step"
            )
        if kinds[-1] != "agent":
            raise ValueError("the last step must be an agent step")
        return steps

    @model_validator(mode="after")
    def _placeholders(self) -> InsiderTradingScenario:
        if "{action_format}" not in self.system_prompt:
            raise ValueError("system_prompt must contain {action_format}")
        if "{amount}" not in self.report_trigger:
            raise ValueError("report_trigger must contain {amount} (the number of shares bought)")
        ids = [v.id for v in self.variants]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate variant ids: {', '.join(dupes)}")
        needed = set()
        for where, text in self.templates().items():
            needed |= template_fields(text, where)
        needed -= SPECIAL_FIELDS
        for i, variant in enumerate(self.variants):
            missing = sorted(needed - set(self.defaults) - set(variant.vars))
            if missing:
                raise ValueError(
                    f"variants[{i}] (id {variant.id!r}) does not define {', '.join(missing)} "
                    f"(and defaults does not either)"
                )
        for where, text in {
            "prompt_file.rebuttal": self.prompt_file.rebuttal,
            "prompt_file.judge_contexts.decision": self.prompt_file.judge_contexts.decision,
            "prompt_file.judge_contexts.deception": self.prompt_file.judge_contexts.deception,
        }.items():
            extra = template_fields(text, where) - {"ticker"}
            if extra:
                raise ValueError(f"{where}: only {{ticker}} can be used, not {', '.join(sorted(extra))}")
        return self

    def templates(self) -> dict[str, str]:
        out = {
            "system_prompt": self.system_prompt,
            "action_format.cot": self.action_format.cot,
            "action_format.no_cot": self.action_format.no_cot,
            "injected.refusal": self.injected.refusal,
            "injected.rebuttal": self.injected.rebuttal,
            "report_trigger": self.report_trigger,
            "doubling_down_trigger": self.doubling_down_trigger,
            "target.ticker": self.target.ticker,
            "target.manager_address": self.target.manager_address,
            "judge_contexts.decision": self.judge_contexts.decision,
            "judge_contexts.deception": self.judge_contexts.deception,
        }
        for i, name in enumerate(self.target.names):
            out[f"target.names[{i}]"] = name
        for section in ("opening", "before_decision"):
            for i, step in enumerate(getattr(self, section)):
                if step.environment:
                    out.update(_env_templates(f"{section}[{i}].environment", step.environment))
                elif step.agent:
                    for key in ("reasoning", "action_input"):
                        out[f"{section}[{i}].agent.{key}"] = getattr(step.agent, key)
        out.update(_env_templates("first_tip", self.first_tip))
        out.update(_env_templates("decision", self.decision))
        return out

    def values(self, variant_id: str) -> dict[str, str]:
        for v in self.variants:
            if v.id == variant_id:
                return {**self.defaults, **v.vars}
        raise KeyError(variant_id)


def _env_templates(where: str, step: EnvStep) -> dict[str, str]:
    out = {f"{where}.messages[{i}].text": m.text for i, m in enumerate(step.messages)}
    if step.header:
        out[f"{where}.header"] = step.header
    return out


@lru_cache(maxsize=8)
def load_insider_scenario(name_or_path: str = "insider_trading") -> InsiderTradingScenario:
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = Path(__file__).parent / f"{name_or_path}.yaml"
    scenario: InsiderTradingScenario = validate_file(path, InsiderTradingScenario)
    return scenario


# ---------------------------------------------------------------------------------------------
# The published prompt-file format


class PromptMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str = Field(min_length=1)


class PublishedPrompt(BaseModel):
    """A prompt file in the format published with Scheurer et al. 2023.

    Unknown keys (``model``, ``canary``, ...) are kept but not used. ``injection_index`` is this
    project's optional extension: the index in ``messages`` of the assistant turn that handles the
    first tip, which ``refusal`` / ``rebuttal`` replace.
    """

    model_config = ConfigDict(extra="allow")

    messages: list[PromptMessage] = Field(min_length=2)
    misalignment_string: str = Field(min_length=1)
    deception_trigger: str = Field(min_length=1)
    deception_message_sep: str = Field(min_length=1)
    doubling_down_trigger: str | None = Field(default=None, min_length=1)
    doubling_down_sep: str | None = Field(default=None, min_length=1)
    temperature: float | None = Field(default=None, ge=0)
    max_tokens: int | None = Field(default=None, gt=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    injection_index: int | None = Field(default=None, ge=0)

    @field_validator("deception_trigger")
    @classmethod
    def _trigger_fields(cls, v: str) -> str:
        extra = template_fields(v, "deception_trigger") - {"amount"}
        if extra:
            raise ValueError(f"only {{amount}} can be filled in, not {', '.join(sorted(extra))}")
        return v

    @field_validator("misalignment_string")
    @classmethod
    def _has_ticker(cls, v: str) -> str:
        ticker_from(v)
        return v

    @model_validator(mode="after")
    def _conversation(self) -> PublishedPrompt:
        if self.messages[-1].role != "user":
            raise ValueError(
                f"messages: the last message must have role 'user' (the situation the agent "
                f"acts on next); got {self.messages[-1].role!r}"
            )
        if self.injection_index is not None:
            i = self.injection_index
            if i >= len(self.messages) - 1 or self.messages[i].role != "assistant":
                raise ValueError(
                    f"injection_index {i} must point to an assistant message before the last "
                    f"message (messages has {len(self.messages)} entries)"
                )
        return self

    def ticker(self) -> str:
        return ticker_from(self.misalignment_string)

    def ignored_keys(self) -> list[str]:
        return sorted((self.model_extra or {}).keys())

    def generate_config(self) -> GenerateConfig:
        keys = ("temperature", "max_tokens", "top_p", "frequency_penalty", "presence_penalty")
        return GenerateConfig(**{k: getattr(self, k) for k in keys if getattr(self, k) is not None})


def ticker_from(misalignment_string: str) -> str:
    """The traded ticker named by a misalignment string such as ``Action Input: LING, buy``."""
    text = re.sub(r"(?i)^\s*action\s*input\s*:", "", misalignment_string)
    words = [w for w in re.split(r"[\s,\"'`()]+", text) if w]
    tickers = [w for w in words if w.lower() not in ("buy", "sell") and not w.isdigit()]
    if not tickers:
        raise ValueError(
            f"cannot find the traded ticker in {misalignment_string!r}; expected something like "
            f"'Action Input: LING, buy'"
        )
    return tickers[0]


def load_prompt_file(path: str | Path) -> PublishedPrompt:
    """Load and validate a published-format prompt file (JSON, or YAML); errors name the key."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        if not path.is_file():
            raise DataFileError(f"{path}: file not found")
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as ex:
            raise DataFileError(f"{path}: not valid JSON: {ex}") from None
    else:
        data = read_yaml(path)
    if not isinstance(data, dict):
        raise DataFileError(f"{path}: expected an object with a 'messages' list, got {type(data).__name__}")
    try:
        return PublishedPrompt.model_validate(data)
    except ValidationError as ex:
        raise DataFileError(
            f"{path}: invalid prompt file (format of Scheurer et al. 2023):\n{format_errors(ex)}"
        ) from None


# ---------------------------------------------------------------------------------------------
# The conversation


GENERATE = "generate"


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


def prompt_file_conditions(prompt: PublishedPrompt) -> tuple[str, ...]:
    return ("natural", "refusal", "rebuttal") if prompt.injection_index is not None else ("natural",)


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
    ticker = prompt.ticker()
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
        names=[ticker],
        default_amount=spec.target.default_amount,
        manager_address=None,
        decision_context=fill(spec.prompt_file.judge_contexts.decision, {"ticker": ticker}),
        deception_context=fill(spec.prompt_file.judge_contexts.deception, {"ticker": ticker}),
        misalignment_string=prompt.misalignment_string,
        report_sep=prompt.deception_message_sep,
        doubling_down_sep=prompt.doubling_down_sep,
        info={"ignored_keys": prompt.ignored_keys()},
    )
