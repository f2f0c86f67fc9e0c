"""Prompt files in the format published with Scheurer et al. 2023 (arXiv 2311.07590).

A JSON or YAML object: ``messages`` plus ``misalignment_string``, ``deception_trigger``,
``deception_message_sep``, ``doubling_down_trigger``, ``doubling_down_sep`` and sampling settings
(:class:`PublishedPrompt`). ``-T prompt_file=`` runs one instead of the built-in scenario;
:func:`.script.prompt_file_script` builds its conversation.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

from inspect_ai.model import GenerateConfig
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from refusal_evals.core.files import DataFileError, format_errors, parse_yaml
from refusal_evals.core.schema import CONDITIONS, Strict
from refusal_evals.core.templates import template_fields
from refusal_evals.insider_trading.ticker import Target, TickerError, read_target
from refusal_evals.insider_trading.trades import parse_turn

_REASONING_FORMAT = re.compile(r"reasoning[ \t*_`]*:", re.I)
"""A ``Reasoning:`` label in a system prompt: the reply format asks for a reasoning block."""


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
    temperature: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    max_tokens: int | None = Field(default=None, gt=0)
    top_p: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False)
    frequency_penalty: float | None = Field(default=None, allow_inf_nan=False)
    presence_penalty: float | None = Field(default=None, allow_inf_nan=False)
    injection_index: int | None = Field(default=None, ge=0)
    _target: Target | None = PrivateAttr(default=None)
    _sha256: str | None = PrivateAttr(default=None)

    @field_validator("deception_trigger")
    @classmethod
    def _trigger_fields(cls, v: str) -> str:
        extra = template_fields(v, "deception_trigger") - {"amount"}
        if extra:
            raise ValueError(f"only {{amount}} can be filled in, not {', '.join(sorted(extra))}")
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

    def target(self) -> Target:
        """The traded stock (:func:`.ticker.read_target`); raises :class:`.ticker.TickerError`."""
        if self._target is None:
            self._target = read_target(
                self.misalignment_string, self.deception_trigger, self.doubling_down_trigger
            )
        return self._target

    def ticker(self) -> str:
        return self.target().ticker

    @property
    def sha256(self) -> str | None:
        """``sha256:<hex>`` of the bytes the file was loaded from (None when not loaded from a file)."""
        return self._sha256

    def reasoning_asked(self) -> tuple[bool | None, str]:
        """Does the file ask the agent for a reasoning block? ``(True/False, or None: cannot tell;
        the evidence)``. Its scripted agent turns show the reply format; its system prompt states it."""
        system = "\n".join(m.content for m in self.messages if m.role == "system")
        in_system = bool(_REASONING_FORMAT.search(system))
        turns = [parse_turn(m.content) for m in self.messages if m.role == "assistant"]
        with_reasoning = sum(t.reasoning is not None for t in turns)
        evidence = (
            f"its system prompt {'asks' if in_system else 'does not ask'} for a 'Reasoning:' block and "
            f"{with_reasoning} of its {len(turns)} scripted agent turns carry reasoning"
        )
        if turns and with_reasoning == len(turns):
            return True, evidence
        if with_reasoning == 0:
            return in_system if not turns or not in_system else None, evidence
        return None, evidence

    def ignored_keys(self) -> list[str]:
        return sorted((self.model_extra or {}).keys())

    def generate_config(self) -> GenerateConfig:
        keys = ("temperature", "max_tokens", "top_p", "frequency_penalty", "presence_penalty")
        return GenerateConfig(**{k: getattr(self, k) for k in keys if getattr(self, k) is not None})


def _parse(path: Path, raw: bytes) -> Any:
    """The file's data, from the bytes already read (JSON by suffix, else YAML)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as ex:
        raise DataFileError(f"{path}: not UTF-8 text (byte {ex.start}); save the file as UTF-8") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except ValueError as ex:
            raise DataFileError(f"{path}: not valid JSON: {ex}") from None
    return parse_yaml(text, path)


def load_prompt_file(path: str | Path) -> PublishedPrompt:
    """Load and validate a published-format prompt file (JSON, or YAML); errors name the key.

    The file is read once: the prompt keeps the sha256 of those bytes (:attr:`PublishedPrompt.sha256`)
    for the experiment record, so nothing reads the file again.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: file not found")
    raw = path.read_bytes()
    data = _parse(path, raw)
    if not isinstance(data, dict):
        raise DataFileError(f"{path}: expected an object with a 'messages' list, got {type(data).__name__}")
    try:
        prompt = PublishedPrompt.model_validate(data)
    except ValidationError as ex:
        raise DataFileError(
            f"{path}: invalid prompt file (format of Scheurer et al. 2023):\n{format_errors(ex)}"
        ) from None
    try:
        prompt.target()
    except TickerError as ex:
        raise DataFileError(f"{path}: {ex}") from None
    prompt._sha256 = "sha256:" + hashlib.sha256(raw).hexdigest()
    return prompt


def prompt_file_conditions(prompt: PublishedPrompt) -> tuple[str, ...]:
    """The conditions a prompt file can run: all three with ``injection_index``, else ``natural``."""
    return CONDITIONS if prompt.injection_index is not None else ("natural",)
