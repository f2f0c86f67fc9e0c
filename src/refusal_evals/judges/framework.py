"""The one LLM-judge framework: prompt files, one example type, one renderer, parsing per kind, verdicts.

Every judge is a YAML file beside this module (``prompts/<name>.yaml``, schema :class:`JudgePrompt`)
with a version that is recorded in score metadata. The grader is Inspect's model role ``grader``.
A judge is of one of two kinds:

- ``label``: the grader reasons briefly, then ends with a line ``ANSWER: <label>``.
  :func:`parse_verdict` takes the last such line, tolerates case, markdown emphasis and quotes, and
  accepts only the judge's own labels.
- ``rubric``: the grader reasons briefly, then ends with one line ``<ITEM>: <value>`` per rubric item
  (``REFUSED: 0``, ``CONVINCING: 4``, ...). :func:`parse_rubric` takes the last line of each item,
  tolerates case, markdown emphasis, quotes and a trailing ``/<max>`` or ``out of <max>``, and requires
  every item with a whole number in its range. The file's ``score`` turns the items into one number
  (e.g. ``harm_score``) and its ``bands`` turn that into a label (a rubric judge's gold label).

Both kinds share :class:`JudgeExample`, :meth:`JudgePrompt.render`, :class:`Verdict` and
:func:`run_judge`.

Layout for provider caching: a template puts everything that is the same in every call of a scenario
first (instructions, labels or rubric, ``{examples}``, the ``shared_fields`` such as the scenario's
definitions), then the per-call fields (the variant's context, then the case). :meth:`JudgePrompt.
render_parts` splits a rendering there; :func:`run_judge` marks the split as a cache breakpoint for
providers that honour one (:data:`CACHE_BREAKPOINT_PROVIDERS`), and runs each call in a transcript
span named after the judge (type ``judge``), which the report uses to split grader tokens by judge.

Anything unusable (unparseable, a wrong label, an item out of range, empty,
content-filtered, errored, a refusal to judge) is a verdict with ``label=None`` and a reason, which
scorers turn into an unscored value, never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from inspect_ai.model import (
    ChatMessage,
    ChatMessageUser,
    ContentText,
    GenerateConfig,
    Model,
    ModelOutput,
    model_roles,
)
from inspect_ai.util import span
from pydantic import Field, model_validator

from refusal_evals.core.args import GRADER_ROLE  # noqa: F401  (re-exported)
from refusal_evals.core.files import validate_file
from refusal_evals.core.schema import Strict
from refusal_evals.core.templates import template_fields

PROMPTS_DIR = Path(__file__).parent / "prompts"


GRADER_CONFIG = GenerateConfig(temperature=0.0, max_tokens=1024)
"""Judges decode greedily with room for brief reasoning before the answer lines."""

JUDGE_SPAN = "judge"
"""The transcript span type of a judge call (its name is the judge's name)."""

CACHE_BREAKPOINT_PROVIDERS = ("anthropic",)
"""Providers whose grader calls send the shared prefix as its own block marked
``ContentText(cache_breakpoint=True)``: cached once, then read at the cache price by every later call
of the scenario (Inspect's ``cache_prompt``; a grader role with ``config: {cache_prompt: false}``
turns it off). Other providers get the prompt as one string: OpenAI caches a repeated prefix of
1024+ tokens by itself; local models have no such cache."""

NAN = float("nan")
_NAME = re.compile(r"^[a-z_]+$")


class JudgeExample(Strict):
    """One few-shot example, in a prompt file or in a scenario's behaviour rubric."""

    fields: dict[str, str]
    """Values for the per-case placeholders of the example template."""
    label: str | None = None
    """The answer of a label judge."""
    rubric: dict[str, int] | None = None
    """The item values of a rubric judge."""
    rationale: str = Field(min_length=1)

    @model_validator(mode="after")
    def _one_answer(self) -> JudgeExample:
        if (self.label is None) == (self.rubric is None):
            raise ValueError("give either label (a label judge's example) or rubric (a rubric judge's)")
        return self


class RubricScore(Strict):
    """How a rubric judge's items make one score in [0, 1]."""

    name: str = Field(pattern=_NAME.pattern)
    zero_if: str | None = None
    """An item with range 0-1: when it is 1 the score is 0 (e.g. the reply refused)."""
    mean_of: list[str] = Field(min_length=1)
    """Otherwise the mean of these items, each rescaled from its range to [0, 1]."""


class Band(Strict):
    """A label of a rubric judge's result; the first band that fits gives the verdict's label."""

    label: str = Field(pattern=_NAME.pattern)
    zeroed: bool = False
    """Fits when the score's ``zero_if`` item is 1."""
    below: float | None = None
    """Fits when the score is below this; a band with neither fits every result."""

    def fits(self, score: float, zeroed: bool) -> bool:
        if self.zeroed:
            return zeroed
        return self.below is None or score < self.below


class JudgePrompt(Strict):
    """A judge prompt file (``prompts/<name>.yaml``)."""

    name: str
    version: str = Field(min_length=1)
    kind: Literal["label", "rubric"]
    labels: list[str] = Field(default_factory=list)
    """A label judge's answers; for a rubric judge, filled from ``bands``."""
    shared_fields: list[str] = Field(default_factory=list)
    """Case fields that are the same in every call of a scenario or run (e.g. the scenario's
    definitions): placed before the per-call fields, they belong to the shared prefix."""
    items: dict[str, tuple[int, int]] = Field(default_factory=dict)
    """A rubric judge's items and their (min, max) whole-number ranges, in answer order."""
    score: RubricScore | None = None
    bands: list[Band] = Field(default_factory=list)
    template: str = Field(min_length=1)
    """The user message sent to the grader; ``{examples}`` receives the rendered few-shot block."""
    example_template: str = Field(min_length=1)
    """How one few-shot example is rendered (placeholders: its fields, label or items, rationale, n)."""
    examples: list[JudgeExample] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> JudgePrompt:
        if self.kind == "label":
            if self.items or self.score or self.bands or len(self.labels) < 2:
                raise ValueError("a label judge lists at least two labels, and no items, score or bands")
        else:
            self._check_rubric()
        bad = [lbl for lbl in self.labels if not _NAME.fullmatch(lbl)]
        if bad:
            raise ValueError(f"labels must be lower-case words, got {bad}")
        self._check_layout()
        template_fields(self.example_template, "example_template")
        for i, ex in enumerate(self.examples):
            problem = self.example_problem(ex)
            if problem:
                raise ValueError(f"examples[{i}]{problem}")
        return self

    def _check_layout(self) -> None:
        """Everything shared by a scenario's calls comes before the first per-call field."""
        fields = template_fields(self.template, "template")
        if unknown := [f for f in self.shared_fields if f not in fields]:
            raise ValueError(f"shared_fields: {unknown} are not placeholders of the template")
        split = self._split_at()
        tail = self.template[split:]
        late = sorted(f for f in {"examples", *self.shared_fields} & fields if f"{{{f}}}" in tail)
        if late:
            raise ValueError(
                f"template: put {', '.join('{' + f + '}' for f in late)} before the first per-call field "
                f"({tail.split('}')[0]}}}), so that a scenario's calls share a prefix"
            )

    def per_call_fields(self) -> set[str]:
        """Case fields that change from call to call (the variant's context, the case)."""
        return self.case_fields() - set(self.shared_fields)

    def _split_at(self) -> int:
        """Where the template's first per-call placeholder starts (its length when there is none)."""
        starts = [self.template.find(f"{{{f}}}") for f in self.per_call_fields()]
        return min((s for s in starts if s >= 0), default=len(self.template))

    def _check_rubric(self) -> None:
        if self.labels:
            raise ValueError("a rubric judge's labels are its bands' labels: give bands, not labels")
        if not self.items or self.score is None or not self.bands:
            raise ValueError("a rubric judge needs items, score and bands")
        for item, (lo, hi) in self.items.items():
            if not _NAME.fullmatch(item) or lo >= hi:
                raise ValueError(f"items.{item}: a lower-case name with a range [min, max], min < max")
        used = [*self.score.mean_of, *([self.score.zero_if] if self.score.zero_if else [])]
        if unknown := [i for i in used if i not in self.items]:
            raise ValueError(f"score uses {unknown}, which are not items ({', '.join(self.items)})")
        if self.score.zero_if and self.items[self.score.zero_if] != (0, 1):
            raise ValueError(f"score.zero_if: {self.score.zero_if} must have the range [0, 1]")
        if any(b.zeroed for b in self.bands) and not self.score.zero_if:
            raise ValueError("bands: a zeroed band needs score.zero_if")
        last = self.bands[-1]
        if last.zeroed or last.below is not None:
            raise ValueError("bands: the last band must fit every result (no zeroed, no below)")
        self.labels = [b.label for b in self.bands]

    def example_problem(self, ex: JudgeExample) -> str | None:
        """What is wrong with a few-shot example for this judge (``None`` when it fits)."""
        if self.kind == "label" and ex.label not in self.labels:
            return f".label: {ex.label!r} is not one of {', '.join(self.labels)}"
        if self.kind == "rubric":
            if ex.rubric is None or list(ex.rubric) != list(self.items):
                return f".rubric: give the items {', '.join(self.items)}, in this order"
            out = [k for k, v in ex.rubric.items() if not self.items[k][0] <= v <= self.items[k][1]]
            if out:
                return f".rubric: {', '.join(out)} out of range"
        known = {*ex.fields, *self.items, "label", "rationale", "n"}
        missing = template_fields(self.example_template, "example_template") - known
        return f".fields: no value for {', '.join(sorted(missing))}" if missing else None

    def case_fields(self) -> set[str]:
        return template_fields(self.template, "template") - {"examples", "labels"}

    def render(self, examples: list[JudgeExample] | None = None, **fields: str) -> str:
        """The grader's prompt for one case: ``examples`` (default: the file's own) and the case fields."""
        return "".join(self.render_parts(examples, **fields))

    def render_parts(self, examples: list[JudgeExample] | None = None, **fields: str) -> tuple[str, str]:
        """:meth:`render` in two parts: the prefix shared by every call of a scenario (up to the first
        per-call field), and the rest."""
        missing = self.case_fields() - set(fields)
        if missing:
            raise ValueError(f"judge {self.name}: no value for {', '.join(sorted(missing))}")
        shots = self.examples if examples is None else examples
        rendered = "\n\n".join(
            self.example_template.format_map(
                {**ex.fields, **(ex.rubric or {}), "label": ex.label, "rationale": ex.rationale, "n": str(n)}
            )
            for n, ex in enumerate(shots, start=1)
        )
        values = {**fields, "examples": rendered, "labels": " | ".join(self.labels)}
        split = self._split_at()
        return self.template[:split].format_map(values), self.template[split:].format_map(values)

    def score_of(self, rubric: dict[str, int]) -> float:
        """A rubric judge's score of a parsed rubric (see :class:`RubricScore`)."""
        assert self.score is not None, f"judge {self.name} is not a rubric judge"
        if self.score.zero_if and rubric[self.score.zero_if]:
            return 0.0
        ranges = {i: self.items[i] for i in self.score.mean_of}
        parts = [(rubric[i] - lo) / (hi - lo) for i, (lo, hi) in ranges.items()]
        return sum(parts) / len(parts)

    def band_of(self, rubric: dict[str, int]) -> str:
        """The label of a parsed rubric: the first band that fits."""
        zeroed = bool(self.score and self.score.zero_if and rubric[self.score.zero_if])
        score = self.score_of(rubric)
        return next(b.label for b in self.bands if b.fits(score, zeroed))

    def rubric_values(self, verdict: Verdict | None = None) -> dict[str, float]:
        """A rubric judge's values: its score, then each item; NaN without a usable verdict."""
        assert self.score is not None, f"judge {self.name} is not a rubric judge"
        rubric = verdict.rubric if verdict else None
        if rubric is None:
            return {self.score.name: NAN, **{k: NAN for k in self.items}}
        return {self.score.name: self.score_of(rubric), **{k: float(v) for k, v in rubric.items()}}


@cache
def load_judge_prompt(name: str) -> JudgePrompt:
    prompt: JudgePrompt = validate_file(PROMPTS_DIR / f"{name}.yaml", JudgePrompt)
    return prompt


def judge_names() -> tuple[str, ...]:
    """Every judge of the package: one per prompt file."""
    return tuple(sorted(p.stem for p in PROMPTS_DIR.glob("*.yaml")))


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


def parse_rubric(text: str, items: dict[str, tuple[int, int]]) -> tuple[dict[str, int] | None, str | None]:
    """``(item values, None)`` from the last line of each item, or ``(None, why)``."""
    if not text or not text.strip():
        return None, "grader returned an empty reply"
    names = "|".join(re.escape(i) for i in items)
    line = re.compile(rf"""^[\s>*_#`"'-]*({names})[\s*_`"']*[:=](.*)$""", re.IGNORECASE | re.MULTILINE)
    last = {m.group(1).lower(): m.group(2) for m in line.finditer(text)}
    values: dict[str, int] = {}
    problems = []
    for item, (lo, hi) in items.items():
        if item not in last:
            problems.append(f"no '{item.upper()}: <{lo}-{hi}>' line")
            continue
        found = re.match(rf"""^[\s*_`"']*(\d+)(?:\s*(?:/|out\s+of)\s*{hi})?[\s*_`"'.!]*$""", last[item], re.I)
        value = int(found.group(1)) if found else None
        if value is None or not lo <= value <= hi:
            problems.append(f"{item.upper()} is {last[item].strip()!r}, expected a whole number {lo}-{hi}")
            continue
        values[item] = value
    if problems:
        return None, "grader reply unusable: " + "; ".join(problems)
    return values, None


@dataclass
class Verdict:
    """A judge's decision on one case, of either kind."""

    judge: str
    prompt_version: str
    label: str | None
    """The parsed label (a rubric judge's: its band), or None when the grader's reply is unusable."""
    explanation: str
    """The grader's reasoning (its whole reply)."""
    why_unscored: str | None = None
    grader: str = ""
    rubric: dict[str, int] | None = None
    """A rubric judge's item values (None when unusable, and for label judges)."""
    score_name: str | None = None
    """A rubric judge's score name (e.g. ``harm_score``); None for label judges."""
    score: float | None = None
    """A rubric judge's score (NaN when unusable); None for label judges."""

    def as_metadata(self) -> dict[str, Any]:
        """A label judge's: judge, prompt_version, label, explanation, why_unscored, grader; a rubric
        judge's: prompt_version, rubric, explanation, why_unscored, grader and its score (by name)."""
        common = {"explanation": self.explanation, "why_unscored": self.why_unscored, "grader": self.grader}
        if self.score_name is None:
            return {"judge": self.judge, "prompt_version": self.prompt_version, "label": self.label, **common}
        score = None if self.rubric is None else self.score
        rubric = {"prompt_version": self.prompt_version, "rubric": self.rubric}
        return {**rubric, **common, self.score_name: score}


def require_grader() -> None:
    """A clear error when no model is bound to the ``grader`` role (never the model under test)."""
    if GRADER_ROLE not in model_roles():
        raise RuntimeError(
            f"no '{GRADER_ROLE}' model bound: this scorer needs one. Pass --model-role "
            f"{GRADER_ROLE}=<model> to `inspect eval` or `inspect score`, or "
            f"model_roles={{'{GRADER_ROLE}': ...}} to eval() / score()."
        )


async def run_judge(
    prompt: JudgePrompt,
    examples: list[JudgeExample] | None,
    grader: Model,
    **fields: str,
) -> Verdict:
    """Ask ``grader`` (the model bound to the ``grader`` role) for a verdict on one case, in a
    transcript span named after the judge; the shared prefix is a cache breakpoint where the grader's
    provider honours one (:data:`CACHE_BREAKPOINT_PROVIDERS`)."""
    shared, rest = prompt.render_parts(examples, **fields)
    message: str | list[ChatMessage] = shared + rest
    if shared and rest and str(grader).split("/")[0] in CACHE_BREAKPOINT_PROVIDERS:
        parts = [ContentText(text=shared, cache_breakpoint=True), ContentText(text=rest)]
        message = [ChatMessageUser(content=list(parts))]
    async with span(prompt.name, type=JUDGE_SPAN):
        output: ModelOutput = await grader.generate(message, config=GRADER_CONFIG)
    return verdict_from_output(prompt, output, str(grader))


def verdict_from_output(prompt: JudgePrompt, output: ModelOutput, grader: str) -> Verdict:
    text = output.completion or ""
    verdict = Verdict(
        judge=prompt.name,
        prompt_version=prompt.version,
        label=None,
        explanation=text,
        grader=grader,
        score_name=prompt.score.name if prompt.score else None,
        score=NAN if prompt.score else None,
    )
    if output.stop_reason == "content_filter":
        verdict.why_unscored = "grader reply was content-filtered"
    elif getattr(output, "error", None):
        verdict.why_unscored = f"grader error: {output.error}"
    elif prompt.kind == "label":
        verdict.label, verdict.why_unscored = parse_verdict(text, prompt.labels)
    else:
        verdict.rubric, verdict.why_unscored = parse_rubric(text, prompt.items)
        if verdict.rubric is not None:
            verdict.label = prompt.band_of(verdict.rubric)
            verdict.score = prompt.score_of(verdict.rubric)
    return verdict
