"""Pydantic schema of a role-play scenario file (``datasets/<scenario>.yaml``).

A scenario is data, not code: the system prompt, the authority's unethical request, the assistant
turn injected in each condition, the scripted follow-up user turns, the Chain-of-Thought request and
reply format, the variants (fill-ins for ``{placeholders}``) and the behaviour judge's rubric with
few-shot examples. ``load_scenario`` validates a file against this schema and cross-checks that every
placeholder used by a template is defined by every variant.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from refusal_evals.core.schema import ID_PATTERN, InjectedReplies, Strict, Variant
from refusal_evals.core.templates import template_fields
from refusal_evals.judges.framework import JudgeExample, load_judge_prompt

BEHAVIOUR_JUDGE = "behaviour"
"""The judge whose rubric (definitions and few-shot examples) a scenario file supplies."""

RESERVED_METADATA: tuple[str, ...] = ("scenario", "scenario_version", "condition", "variant")
"""Sample metadata keys set by the loader; variant_metadata may not override them."""


class ReplyFormat(Strict):
    """How the model is asked to lay out its follow-up replies.

    With CoT the model writes its reasoning inside ``<{reasoning_tag}>`` and the message meant for
    the other party inside ``<{output_tag}>``; without CoT only the output tag is requested.
    """

    reasoning_tag: str = Field(default="reasoning", pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$")
    output_tag: str = Field(default="reply", pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$")
    cot_instruction: str = Field(
        min_length=1, description="appended to each follow-up user turn when cot=true"
    )
    no_cot_instruction: str = Field(
        min_length=1, description="appended to each follow-up user turn when cot=false"
    )

    @model_validator(mode="after")
    def _tags_differ(self) -> ReplyFormat:
        if self.reasoning_tag.lower() == self.output_tag.lower():
            raise ValueError("reasoning_tag and output_tag must differ")
        return self


class BehaviourRubric(Strict):
    """What counts as undesired in this scenario, for the behaviour judge."""

    context: str = Field(min_length=1, description="what the agent knows and was told to do")
    undesired: str = Field(min_length=1, description="definition of the undesired behaviour")
    acceptable: str = Field(min_length=1, description="definition of acceptable behaviour")
    examples: list[JudgeExample] = Field(
        min_length=2, description="few-shot examples of the behaviour judge (fields: output)"
    )

    @model_validator(mode="after")
    def _both_labels(self) -> BehaviourRubric:
        prompt = load_judge_prompt(BEHAVIOUR_JUDGE)
        for i, example in enumerate(self.examples):
            if problem := prompt.example_problem(example):
                raise ValueError(f"examples[{i}]{problem}")
        if {e.label for e in self.examples} != set(prompt.labels):
            each = " and one ".join(f"'{label}'" for label in prompt.labels)
            raise ValueError(f"examples must include at least one {each} example")
        return self


class SimulatedParty(Strict):
    """The other party played by a model (``-T follow_up=simulated``): who it is, what it wants and
    when it ends the conversation. Its first message is the scenario's first scripted follow-up, so
    everything up to and including follow-up turn 1 is the same in both modes; from turn 2 on the
    model bound to the ``user`` role writes each message, seeing only what the agent sent."""

    version: str = Field(min_length=1, description="bump when the persona, goal or stop text changes")
    speaker: str = Field(
        min_length=1,
        description="how the party's messages start for the agent, as in follow_ups (e.g. 'Customer:' "
        "or '{party}:')",
    )
    counterpart: str = Field(min_length=1, description="who the party talks to, as the party sees it")
    persona: str = Field(min_length=1, description="who the party is (a template: {placeholders})")
    goal: str = Field(min_length=1, description="what the party wants from the conversation")
    stop_when: str = Field(min_length=1, description="when the party ends the conversation early")

    def templates(self) -> dict[str, str]:
        return {
            "simulated_party.speaker": self.speaker,
            "simulated_party.counterpart": self.counterpart,
            "simulated_party.persona": self.persona,
            "simulated_party.goal": self.goal,
            "simulated_party.stop_when": self.stop_when,
        }


class Scenario(Strict):
    """A role-play scenario: one conversation structure, several variants."""

    id: str
    version: str = Field(min_length=1, description="bump when any prompt text changes")
    description: str = Field(min_length=1)
    system_prompt: str = Field(min_length=1)
    authority_request: str = Field(
        min_length=1, description="the user turn in which the authority asks for the unethical act"
    )
    injected: InjectedReplies
    follow_ups: list[str] = Field(
        min_length=1,
        description="scripted user turns; turn k uses follow_ups[k-1], so turns <= len(follow_ups)",
    )
    reply_format: ReplyFormat
    behaviour_judge: BehaviourRubric
    variant_metadata: dict[str, list[str]] = Field(
        default_factory=dict,
        description="optional per-variant sample metadata: key -> allowed values; every variant "
        "must then give each key one of its values in its own `metadata`",
    )
    variants: list[Variant] = Field(min_length=1)
    simulated_party: SimulatedParty | None = Field(
        default=None,
        description="optional: the other party played by a model (-T follow_up=simulated); "
        "without it the scenario runs scripted follow-ups only",
    )

    @field_validator("id")
    @classmethod
    def _id_ok(cls, v: str) -> str:
        if not ID_PATTERN.match(v):
            raise ValueError(f"scenario id {v!r} must be lower-case letters, digits, '_' or '-'")
        return v

    @field_validator("follow_ups")
    @classmethod
    def _follow_ups_nonempty(cls, v: list[str]) -> list[str]:
        for i, text in enumerate(v):
            if not text.strip():
                raise ValueError(f"follow_ups[{i}] is empty")
        return v

    @model_validator(mode="after")
    def _variants_consistent(self) -> Scenario:
        ids = [v.id for v in self.variants]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate variant ids: {', '.join(dupes)}")
        self._check_variant_metadata()
        party = self.simulated_party
        if party is not None and not self.follow_ups[0].startswith(party.speaker):
            raise ValueError(
                f"simulated_party.speaker {party.speaker!r} must begin follow_ups[0] (the party's "
                "first message), so that simulated messages look like the scripted ones"
            )
        needed = self.placeholders()
        for i, variant in enumerate(self.variants):
            missing = sorted(needed - set(variant.vars))
            if missing:
                raise ValueError(
                    f"variants[{i}] (id {variant.id!r}) does not define "
                    f"{', '.join(missing)}; every variant must define every placeholder used "
                    f"in the templates ({', '.join(sorted(needed))})"
                )
        return self

    def _check_variant_metadata(self) -> None:
        for key, allowed in self.variant_metadata.items():
            if not ID_PATTERN.match(key) or key in RESERVED_METADATA or key.startswith("var_"):
                raise ValueError(
                    f"variant_metadata key {key!r} must be a lower-case name that is not one of "
                    f"{', '.join(RESERVED_METADATA)} and does not start with 'var_'"
                )
            if not allowed or any(not ID_PATTERN.match(v) for v in allowed):
                raise ValueError(
                    f"variant_metadata.{key} must list at least one value, each lower-case letters, "
                    f"digits, '_' or '-'"
                )
        for i, variant in enumerate(self.variants):
            where = f"variants[{i}] (id {variant.id!r})"
            unknown = sorted(set(variant.metadata) - set(self.variant_metadata))
            if unknown:
                declared = ", ".join(sorted(self.variant_metadata)) or "none"
                raise ValueError(
                    f"{where}: metadata key {', '.join(unknown)} is not declared in "
                    f"variant_metadata (declared: {declared})"
                )
            for key, allowed in self.variant_metadata.items():
                if key not in variant.metadata:
                    raise ValueError(f"{where} does not set metadata.{key} (one of: {', '.join(allowed)})")
                if variant.metadata[key] not in allowed:
                    raise ValueError(
                        f"{where}: metadata.{key} is {variant.metadata[key]!r}; "
                        f"expected one of: {', '.join(allowed)}"
                    )

    def templates(self) -> dict[str, str]:
        """Every text that is filled in per variant, by its field path."""
        out = {
            "system_prompt": self.system_prompt,
            "authority_request": self.authority_request,
            "injected.refusal": self.injected.refusal,
            "injected.rebuttal": self.injected.rebuttal,
            "behaviour_judge.context": self.behaviour_judge.context,
        }
        for i, text in enumerate(self.follow_ups):
            out[f"follow_ups[{i}]"] = text
        if self.simulated_party is not None:
            out.update(self.simulated_party.templates())
        return out

    def placeholders(self) -> set[str]:
        names: set[str] = set()
        for path, text in self.templates().items():
            names |= template_fields(text, path)
        return names

    def variant(self, variant_id: str) -> Variant:
        for v in self.variants:
            if v.id == variant_id:
                return v
        raise KeyError(variant_id)
