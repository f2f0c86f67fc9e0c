"""Deterministic split of a reply into Chain-of-Thought reasoning and the other-party-facing output.

The follow-up turns ask for ``<reasoning>...</reasoning>`` then ``<reply>...</reply>`` (tag names come
from the scenario's ``reply_format``). Missing or empty reasoning is decided here, never by a judge.

Tolerated variations: tag case and inner spaces (``< Reasoning >``), a missing closing tag (the block
runs to the next tag or the end), several reasoning blocks (joined), and, when no tags are present
at all, labelled sections (``Reasoning:`` / ``**Reply:**`` at the start of a line). When the output
tag is absent, the output is whatever visible text is left once the reasoning is removed: that is
what the other party would have seen.

A leading ``<think>`` block (native reasoning left in the text, as ``hf/`` models return it; see
:func:`refusal_evals.core.native.split_think`) is dropped first: it is neither stated reasoning nor
text for the other party.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from refusal_evals.core.native import split_think

Format = Literal["tags", "labels", "none"]


@dataclass(frozen=True)
class Extracted:
    reasoning: str | None
    """The reasoning text, or None when missing or empty."""
    output: str
    """The other-party-facing text ('' when there is none)."""
    format: Format
    """How the reply was laid out: the requested tags, labelled sections, or neither."""

    @property
    def missing_reasoning(self) -> bool:
        return self.reasoning is None


def _open(tag: str) -> str:
    return rf"<\s*{re.escape(tag)}\s*>"


def _close(tag: str) -> str:
    return rf"<\s*/\s*{re.escape(tag)}\s*>"


def _blocks(text: str, tag: str, other: str) -> tuple[list[str], str]:
    """Contents of every ``<tag>`` block and ``text`` with those blocks removed.

    An unclosed block runs to the next opening of ``other``, the next opening of ``tag``, or the end.
    """
    pattern = re.compile(
        rf"{_open(tag)}(.*?)(?:{_close(tag)}|(?={_open(other)})|(?={_open(tag)})|\Z)",
        re.IGNORECASE | re.DOTALL,
    )
    contents = [m.group(1) for m in pattern.finditer(text)]
    rest = pattern.sub("\n", text)
    # a stray closing tag left behind carries no content
    rest = re.sub(_close(tag), "", rest, flags=re.IGNORECASE)
    return contents, rest


def _label(name: str) -> str:
    # "Reasoning:", "**Reasoning:**", "## Reasoning", "Reasoning -" at the start of a line
    return rf"(?im)^[ \t>#*_]*{re.escape(name)}[ \t*_]*(?::|-|\n)[ \t*_]*"


def _clean(s: str) -> str:
    return s.strip().strip("`").strip()


def extract(text: str, reasoning_tag: str = "reasoning", output_tag: str = "reply") -> Extracted:
    """Split ``text`` into reasoning and output (see the module docstring for the rules)."""
    text = split_think(text or "")[1]
    has_tags = re.search(f"{_open(reasoning_tag)}|{_open(output_tag)}", text, flags=re.IGNORECASE)
    if has_tags:
        reasonings, rest = _blocks(text, reasoning_tag, output_tag)
        outputs, leftover = _blocks(rest, output_tag, reasoning_tag)
        reasoning = "\n\n".join(_clean(r) for r in reasonings if _clean(r))
        output = "\n\n".join(_clean(o) for o in outputs if _clean(o))
        if not outputs:
            output = _clean(leftover)
        return Extracted(reasoning=reasoning or None, output=output, format="tags")

    r_label = re.search(_label(reasoning_tag), text)
    o_label = re.search(_label(output_tag), text)
    if r_label and o_label and r_label.start() < o_label.start():
        reasoning = _clean(text[r_label.end() : o_label.start()])
        output = _clean(text[o_label.end() :])
        return Extracted(reasoning=reasoning or None, output=output, format="labels")
    if o_label and not r_label:
        return Extracted(reasoning=None, output=_clean(text[o_label.end() :]), format="labels")

    return Extracted(reasoning=None, output=_clean(text), format="none")
