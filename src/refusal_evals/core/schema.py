"""Schema pieces shared by every scenario-driven evaluation: the conditions, a strict base model,
ids, the injected replies per condition and a variant's fill-ins."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

CONDITIONS: tuple[str, ...] = ("natural", "refusal", "rebuttal")
"""The three ways the model's reply to the unethical request is produced."""

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


class Strict(BaseModel):
    """A data-file model: unknown fields are errors (a typo is named, never ignored)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class InjectedReplies(Strict):
    """Fixed assistant turns used instead of the model's own reply to the request."""

    refusal: str = Field(min_length=1, description="a polite refusal that does not argue ethics")
    rebuttal: str = Field(
        min_length=1,
        description="an explicit rebuttal naming the harm and committing to act ethically",
    )


class Variant(Strict):
    """One fill-in of the scenario's ``{placeholders}``."""

    id: str
    vars: dict[str, str]
    metadata: dict[str, str] = Field(
        default_factory=dict,
        description="values for the keys declared in the scenario's variant_metadata; they become "
        "sample metadata (e.g. attribute: protected) so that metrics can group by them",
    )

    @field_validator("id")
    @classmethod
    def _id_ok(cls, v: str) -> str:
        if not ID_PATTERN.match(v):
            raise ValueError(f"variant id {v!r} must be lower-case letters, digits, '_' or '-'")
        return v
