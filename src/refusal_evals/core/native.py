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
"""

from __future__ import annotations

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


def native_reasoning(message: ChatMessage) -> NativeReasoning:
    """Every ``ContentReasoning`` part of ``message``, in order: the full reasoning where readable,
    else its summary; redacted parts without a summary are left out."""
    content = [] if isinstance(message.content, str) else message.content
    parts = [c for c in content if isinstance(c, ContentReasoning)]
    if not parts:
        return ABSENT
    full = [p.reasoning.strip() for p in parts if not p.redacted and p.reasoning.strip()]
    readable = [
        p.reasoning.strip() if not p.redacted and p.reasoning.strip() else (p.summary or "").strip()
        for p in parts
    ]
    readable = [r for r in readable if r]
    if not readable:
        return NativeReasoning("redacted", None)
    return NativeReasoning("present" if full else "summarised", "\n\n".join(readable))
