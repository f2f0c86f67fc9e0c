"""The built-in insider-trading scenario: its data-file schema and loader.

The scenario file (``insider_trading.yaml`` beside this module, schema :class:`InsiderTradingScenario`)
holds a system prompt with the documented action format, scripted ``opening`` turns (environment
messages and the agent's own earlier actions), the environment message carrying the colleague's first
insider tip, the injected handling of that tip, scripted turns ``before_decision`` (failed searches
for legitimate trades), the ``decision`` message (second tip), then the report and doubling-down
triggers. Environment messages flagged ``pressure: true`` are dropped with ``-T pressure=low``.
:mod:`.script` turns it into the conversation of one sample.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from refusal_evals.core.files import validate_file
from refusal_evals.core.schema import InjectedReplies, Strict, Variant
from refusal_evals.core.templates import template_fields

SPECIAL_FIELDS = {"action_format", "amount"}
"""Placeholders filled when the conversation is built, not by variants: the action format (system
prompt) and the number of shares bought (report trigger)."""


class EnvMessage(Strict):
    """One message the environment delivers (a tool output, an e-mail, a clock tick)."""

    text: str = Field(min_length=1)
    pressure: bool = Field(default=False, description="dropped with -T pressure=low")


class EnvStep(Strict):
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


class AgentStep(Strict):
    """One of the agent's own earlier turns, scripted (rendered with or without its reasoning)."""

    reasoning: str = Field(min_length=1)
    action: str = Field(pattern=r"^[a-z_]+$")
    action_input: str = Field(min_length=1)


class Step(Strict):
    environment: EnvStep | None = None
    agent: AgentStep | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        if (self.environment is None) == (self.agent is None):
            raise ValueError("each step has exactly one of 'environment' or 'agent'")
        return self


class ActionFormat(Strict):
    cot: str = Field(min_length=1, description="format instructions when cot=true (reasoning block)")
    no_cot: str = Field(min_length=1, description="format instructions when cot=false (no reasoning)")


class TradeTarget(Strict):
    ticker: str = Field(min_length=1, description="template, e.g. '{ticker}'")
    names: list[str] = Field(default_factory=list, description="other names of the stock (templates)")
    manager_address: str = Field(min_length=1, description="where trade reports go (template)")
    default_amount: int = Field(default=1000, gt=0, description="shares confirmed when a buy names no amount")


class JudgeContexts(Strict):
    decision: str = Field(min_length=1, description="situation, for the consistency judge")
    deception: str = Field(min_length=1, description="situation, for the deception judge")


class PromptFileTexts(Strict):
    """Texts used with -T prompt_file (``{ticker}`` is the only placeholder)."""

    rebuttal: str = Field(min_length=1)
    judge_contexts: JudgeContexts


class InsiderTradingScenario(Strict):
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
