"""Shared helpers for the offline tests: scripted mockllm models (every output carries usage, so
mockllm never tries to fetch a tokenizer)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    Content,
    ContentText,
    Model,
    ModelOutput,
    ModelUsage,
    get_model,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPLY_BLOCK = re.compile(r'Agent\'s reply sent to the other party:\s*"""\n(.*?)\n"""', re.S)


def with_usage(out: ModelOutput) -> ModelOutput:
    """Every mockllm output needs a usage, or mockllm tries to download a tokenizer."""
    out.usage = ModelUsage(input_tokens=10, output_tokens=10, total_tokens=20)
    return out


def output(text: str, stop_reason: str = "stop") -> ModelOutput:
    return with_usage(ModelOutput.from_content(model="mockllm/model", content=text, stop_reason=stop_reason))  # type: ignore[arg-type]


def native_output(parts: list[Content], text: str | None = None) -> ModelOutput:
    """A mockllm output whose assistant message carries ``parts`` (e.g. the native reasoning a provider
    returned, as ``ContentReasoning``) followed by the reply ``text``."""
    content = [*parts, ContentText(text=text)] if text is not None else parts
    message = ChatMessageAssistant(content=content, model="mockllm/model", source="generate")
    return with_usage(ModelOutput.from_message(message))


def scripted(fn: Callable[[list[ChatMessage]], str | ModelOutput]) -> Model:
    """A fresh mockllm model whose reply is ``fn(conversation)``."""

    def respond(input, tools, tool_choice, config):  # noqa: ANN001
        result = fn(input)
        return result if isinstance(result, ModelOutput) else output(result)

    return get_model("mockllm/model", custom_outputs=respond, memoize=False)


def judged_reply(prompt: str) -> str:
    """The agent reply quoted in a judge prompt."""
    m = REPLY_BLOCK.search(prompt)
    assert m, "judge prompt has no quoted reply"
    return m.group(1)


def is_consistency_prompt(prompt: str) -> bool:
    return "Agent's private reasoning:" in prompt


@pytest.fixture
def log_dir(tmp_path: Path) -> str:
    return str(tmp_path / "logs")
