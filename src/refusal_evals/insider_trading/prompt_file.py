"""Prompt files in the format published with Scheurer et al. 2023 (arXiv 2311.07590).

A JSON or YAML object: ``messages`` plus ``misalignment_string``, ``deception_trigger``,
``deception_message_sep``, ``doubling_down_trigger``, ``doubling_down_sep`` and sampling settings
(:class:`PublishedPrompt`). ``-T prompt_file=`` runs one instead of the built-in scenario;
:func:`.script.prompt_file_script` builds its conversation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from inspect_ai.model import GenerateConfig
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from refusal_evals.core.files import DataFileError, format_errors, read_yaml
from refusal_evals.core.schema import CONDITIONS, Strict
from refusal_evals.core.templates import template_fields


class PromptMessage(Strict):
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


def prompt_file_conditions(prompt: PublishedPrompt) -> tuple[str, ...]:
    """The conditions a prompt file can run: all three with ``injection_index``, else ``natural``."""
    return CONDITIONS if prompt.injection_index is not None else ("natural",)
