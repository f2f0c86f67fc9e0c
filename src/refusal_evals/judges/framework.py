"""Few-shot LLM judges: prompt files, the ``ANSWER: <label>`` contract and its parser.

Every judge prompt is a YAML file beside this module (``prompts/<name>.yaml``) with a version that is
recorded in score metadata. The grader is Inspect's model role ``grader``. The grader reasons briefly,
then ends with a line ``ANSWER: <label>``. :func:`parse_verdict` takes the last such line, tolerates
case, markdown emphasis and quotes, and accepts only the judge's own labels. Anything else
(unparseable, a wrong label, empty, content-filtered, a refusal to judge) is a verdict with
``label=None`` and a reason, which scorers turn into an unscored value, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from inspect_ai.model import GenerateConfig, Model, ModelOutput
from pydantic import BaseModel, ConfigDict, Field, model_validator

from refusal_evals.core.files import validate_file
from refusal_evals.core.templates import template_fields

PROMPTS_DIR = Path(__file__).parent / "prompts"

GRADER_ROLE = "grader"

GRADER_CONFIG = GenerateConfig(temperature=0.0, max_tokens=1024)
"""Judges decode greedily with room for brief reasoning before the ANSWER line."""


class JudgeExample(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fields: dict[str, str]
    """Values for the template's per-case placeholders in this example."""
    label: str
    rationale: str = Field(min_length=1)


class JudgePrompt(BaseModel):
    """A judge prompt file."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str = Field(min_length=1)
    labels: list[str] = Field(min_length=2)
    template: str = Field(min_length=1)
    """The user message sent to the grader; ``{examples}`` receives the rendered few-shot block."""
    example_template: str = Field(min_length=1)
    """How one few-shot example is rendered (placeholders: the case fields, label, rationale)."""
    examples: list[JudgeExample] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> JudgePrompt:
        bad = [lbl for lbl in self.labels if not re.fullmatch(r"[a-z_]+", lbl)]
        if bad:
            raise ValueError(f"labels must be lower-case words, got {bad}")
        for i, ex in enumerate(self.examples):
            if ex.label not in self.labels:
                raise ValueError(f"examples[{i}].label {ex.label!r} is not one of {self.labels}")
        template_fields(self.template, "template")
        template_fields(self.example_template, "example_template")
        return self

    def case_fields(self) -> set[str]:
        return template_fields(self.template, "template") - {"examples", "labels"}

    def render(self, examples: list[JudgeExample] | None = None, **fields: str) -> str:
        missing = self.case_fields() - set(fields)
        if missing:
            raise ValueError(f"judge {self.name}: no value for {', '.join(sorted(missing))}")
        shots = self.examples if examples is None else examples
        rendered = "\n\n".join(
            self.example_template.format_map(
                {**ex.fields, "label": ex.label, "rationale": ex.rationale, "n": str(i + 1)}
            )
            for i, ex in enumerate(shots)
        )
        return self.template.format_map({**fields, "examples": rendered, "labels": " | ".join(self.labels)})


@cache
def load_judge_prompt(name: str) -> JudgePrompt:
    prompt: JudgePrompt = validate_file(PROMPTS_DIR / f"{name}.yaml", JudgePrompt)
    return prompt


_ANSWER_LINE = re.compile(
    r"""^[\s>*_#`"'-]*answer[\s*_`"']*[:=][\s*_`"']*([A-Za-z_\-]+)[\s*_`"'.!]*$""",
    re.IGNORECASE | re.MULTILINE,
)


def parse_verdict(text: str, labels: list[str]) -> tuple[str | None, str | None]:
    """``(label, None)`` from the last ``ANSWER:`` line, or ``(None, why)`` when there is none."""
    if not text or not text.strip():
        return None, "grader returned an empty reply"
    matches = list(_ANSWER_LINE.finditer(text))
    if not matches:
        return None, "grader reply has no 'ANSWER: <label>' line"
    word = matches[-1].group(1).lower().replace("-", "_")
    if word not in labels:
        return None, f"grader answered {word!r}, which is not one of {labels}"
    return word, None


@dataclass
class Verdict:
    judge: str
    prompt_version: str
    label: str | None
    """The parsed label, or None when the grader's reply could not be used."""
    explanation: str
    """The grader's reasoning (its whole reply)."""
    why_unscored: str | None = None
    grader: str = ""

    def as_metadata(self) -> dict[str, Any]:
        return asdict(self)


async def run_judge(
    prompt: JudgePrompt,
    examples: list[JudgeExample] | None,
    grader: Model,
    **fields: str,
) -> Verdict:
    """Ask ``grader`` (the model bound to the ``grader`` role) for a verdict on one case."""
    output: ModelOutput = await grader.generate(prompt.render(examples, **fields), config=GRADER_CONFIG)
    return verdict_from_output(prompt, output, str(grader))


def verdict_from_output(prompt: JudgePrompt, output: ModelOutput, grader: str) -> Verdict:
    text = output.completion or ""
    base = dict(judge=prompt.name, prompt_version=prompt.version, explanation=text, grader=grader)
    if output.stop_reason == "content_filter":
        return Verdict(label=None, why_unscored="grader reply was content-filtered", **base)
    if getattr(output, "error", None):
        return Verdict(label=None, why_unscored=f"grader error: {output.error}", **base)
    label, why = parse_verdict(text, prompt.labels)
    return Verdict(label=label, why_unscored=why, **base)
