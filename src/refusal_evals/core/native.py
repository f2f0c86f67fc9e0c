"""The model's native reasoning (thinking) of one reply, as the providers returned it.

Inspect turns every provider's native reasoning (Claude's thinking blocks, ``reasoning_content``,
``<think>`` tags, OpenAI's reasoning summaries) into ``ContentReasoning`` parts of the assistant
message. :func:`native_reasoning` collects all those parts in order and classifies them:

- ``present``: at least one part carries the readable reasoning itself;
- ``summarised``: only summaries of the reasoning are readable (the full text is redacted/encrypted);
- ``redacted``: the provider returned reasoning but none of it is readable;
- ``absent``: the provider returned no reasoning.

``redacted`` and ``absent`` mean "not available", never "missing reasoning": measures on native
reasoning are then ``None`` (not applicable), so each has its own denominator.

Inspect parses ``<think>`` tags into ``ContentReasoning`` for OpenAI-compatible chat APIs but not for
``hf/`` models, whose reply is the decoded text as is. So a reply with no ``ContentReasoning`` part
whose text starts with a ``<think>...</think>`` block (or, when the chat template opened the block
in the prompt as DeepSeek-R1 and Qwen3 templates do, runs up to a ``</think>``) has that block as
its native reasoning; :func:`split_think` separates it, and the reply extractor
(:func:`refusal_evals.core.reasoning.extract`) drops it, so it never reaches the judges as the
reply or as stated reasoning, nor the simulated party.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from inspect_ai.model import ChatMessage, ContentReasoning

AVAILABLE = ("present", "summarised")


@dataclass(frozen=True)
class NativeReasoning:
    status: str
    """``present``, ``summarised``, ``redacted`` or ``absent`` (see the module docstring)"""
    text: str | None
    """the readable reasoning (parts joined in order); None when not available"""

    @property
    def available(self) -> bool:
        return self.status in AVAILABLE


ABSENT = NativeReasoning("absent", None)

_OPEN_THINK = re.compile(r"\s*<think(?:\s[^>]*)?>", re.IGNORECASE)
_CLOSE_THINK = re.compile(r"</think\s*>", re.IGNORECASE)


def split_think(text: str) -> tuple[str | None, str]:
    """``(thinking, rest)`` of a reply that starts with a ``<think>`` block: the block's text
    (stripped; it runs to the end when never closed) and the text after it. A reply with a
    ``</think>`` but no opening tag before it (the chat template opened it) thinks up to there.
    ``(None, text)`` when there is no such block."""
    opened = _OPEN_THINK.match(text)
    start = opened.end() if opened else 0
    closed = _CLOSE_THINK.search(text, start)
    if opened is None and (closed is None or re.search(r"<think", text[: closed.start()], re.I)):
        return None, text
    end, rest = (closed.start(), closed.end()) if closed else (len(text), len(text))
    return text[start:end].strip(), text[rest:]


def without_think(text: str) -> str:
    """The reply without its leading ``<think>`` block (:func:`split_think`): what the model wrote
    for the other party, its actions and its stated reasoning."""
    return split_think(text)[1]


def native_reasoning(message: ChatMessage) -> NativeReasoning:
    """Every ``ContentReasoning`` part of ``message``, in order: the full reasoning where readable,
    else its summary; redacted parts without a summary are left out. Without such parts, a leading
    ``<think>`` block of the text (:func:`split_think`); an empty one is ``absent``."""
    content = [] if isinstance(message.content, str) else message.content
    parts = [c for c in content if isinstance(c, ContentReasoning)]
    if not parts:
        thinking, _ = split_think(message.text)
        return NativeReasoning("present", thinking) if thinking else ABSENT
    full = [p.reasoning.strip() for p in parts if not p.redacted and p.reasoning.strip()]
    readable = [
        p.reasoning.strip() if not p.redacted and p.reasoning.strip() else (p.summary or "").strip()
        for p in parts
    ]
    readable = [r for r in readable if r]
    if not readable:
        return NativeReasoning("redacted", None)
    return NativeReasoning("present" if full else "summarised", "\n\n".join(readable))
