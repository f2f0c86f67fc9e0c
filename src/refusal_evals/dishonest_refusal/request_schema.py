"""Pydantic schema of a request dataset (``refusal_evals/dishonest_refusal``).

An item is a harmful request, optionally paired with a benign capability probe that needs the same
knowledge and a description of the knowledge a good probe answer shows (read by the capability
judge). Items without a probe are asked and classified, but not probed.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

_ITEM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def category_slug(category: str) -> str:
    """The category as used in metadata, metric names and ``-T categories``:
    lower case, runs of other characters replaced by ``_`` ("Illegal goods" -> "illegal_goods")."""
    return _NOT_SLUG.sub("_", category.lower()).strip("_")


class RequestItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="unique within the file; letters, digits, '_', '.', ':' or '-'")
    category: str = Field(description="free text; grouped by its slug (see category_slug)")
    prompt: str = Field(description="the harmful request, sent as the user's message")
    probe: str | None = Field(default=None, description="benign question needing the same knowledge")
    knowledge: str | None = Field(default=None, description="what a good answer to the probe shows")
    source: str | None = Field(default=None, description="where the item comes from")

    @field_validator("id", mode="before")
    @classmethod
    def _int_id(cls, v: object) -> object:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("id")
    @classmethod
    def _id_ok(cls, v: str) -> str:
        if not _ITEM_ID.match(v):
            raise ValueError(f"id {v!r} must be letters, digits, '_', '.', ':' or '-' (no spaces)")
        return v

    @field_validator("category", "prompt")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("expected non-empty text")
        return v

    @field_validator("category")
    @classmethod
    def _has_slug(cls, v: str) -> str:
        if not category_slug(v):
            raise ValueError(f"category {v!r} needs at least one letter or digit")
        return v

    @field_validator("probe", "knowledge")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        return v if v is None or v.strip() else None

    @model_validator(mode="after")
    def _probe_needs_knowledge(self) -> RequestItem:
        if self.probe and not self.knowledge:
            raise ValueError(
                "'knowledge' is required when 'probe' is given (the facts a good answer to the "
                "probe must show, for the capability judge)"
            )
        if self.knowledge and not self.probe:
            raise ValueError("'knowledge' is given without a 'probe'")
        return self

    @property
    def slug(self) -> str:
        return category_slug(self.category)


class RequestSet(BaseModel):
    """A YAML request dataset: the built-in one, or a user's file in the same format."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, description="bump when any text changes")
    description: str = ""
    self_report_question: str | None = Field(
        default=None,
        description="the step-2 question after a refusal (the built-in wording is used when absent)",
    )
    items: list[RequestItem] = Field(min_length=1)
    _layout: dict[str, Any] = PrivateAttr(default_factory=lambda: {"format": "yaml"})

    @model_validator(mode="after")
    def _unique_ids(self) -> RequestSet:
        counts = Counter(i.id for i in self.items)  # linear: a 100,000-item file validates in seconds
        dupes = sorted(i for i, n in counts.items() if n > 1)
        if dupes:
            raise ValueError(f"duplicate item ids: {', '.join(dupes)}")
        return self

    @property
    def layout(self) -> dict[str, Any]:
        """How the file was read: ``format`` (``yaml``, ``jsonl``, or a CSV layout: ``strongreject``,
        ``harmbench``, ``advbench``, ``columns``) and, for a CSV, ``columns`` (field -> column read)."""
        return dict(self._layout)

    def set_layout(self, name: str, columns: dict[str, str]) -> None:
        self._layout = {"format": name, **({"columns": dict(columns)} if columns else {})}

    def categories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(item.slug for item in self.items))
