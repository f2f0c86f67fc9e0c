"""The simulated other party of a role-play (``-T follow_up=simulated``).

The model bound to Inspect's ``user`` model role plays the customer (buyer, ...) from follow-up
turn 2 on. Its first message is the scenario's first scripted follow-up, so the conversation up to
and including follow-up turn 1 is the same as in scripted mode and the reply to the authority
(natural, or the injected refusal or rebuttal) is held fixed.

What the party sees: a system prompt (the frame in ``simulated_party.yaml`` filled with the
scenario's ``simulated_party`` section: persona, goal, when to stop) and one user message with the
transcript of its own messages and the replies the agent *sent* (the output of
:func:`refusal_evals.core.reasoning.extract` with the scenario's tags: never the agent's reasoning,
never the system prompt or the authority's request). The transcript is rebuilt every turn, so the
request is the same whatever the provider's rules on message order, and ``--cache`` replays it.

It may end the conversation by writing the frame's stop token; the turn after which it did is
``stopped_at``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from inspect_ai.model import ChatMessage, ChatMessageSystem, ChatMessageUser, GenerateConfig, Model, get_model
from pydantic import Field, model_validator

from refusal_evals.core.args import TaskArgError, check_role_bound
from refusal_evals.core.files import validate_file
from refusal_evals.core.reasoning import extract
from refusal_evals.core.schema import Strict
from refusal_evals.core.templates import fill, template_fields
from refusal_evals.roleplay.schema import Scenario, SimulatedParty

USER_ROLE = "user"
"""The Inspect model role that plays the other party (``--model-role user=<model>``)."""
FOLLOW_UP_MODES: tuple[str, ...] = ("scripted", "simulated")
MAX_SIMULATED_TURNS = 10
DEFAULT_USER_TEMPERATURE = 0.7
"""Sampling temperature of the party: its wording varies across epochs as real customers' would, so
epochs sample different conversations instead of replaying one, while it stays on its persona and
goal; a task argument (``-T user_temperature=``)."""
PARTY_PROMPT_FILE = Path(__file__).parent / "simulated_party.yaml"
NO_MESSAGE = "(no message)"
"""What the party sees for an agent reply with no text for it."""


class PartyPrompt(Strict):
    """The frame prompt of the simulated party (``simulated_party.yaml``)."""

    version: str = Field(min_length=1)
    stop_token: str = Field(min_length=3, description="ends the conversation when the party writes it")
    own_label: str = Field(min_length=1)
    agent_label: str = Field(min_length=1)
    max_tokens: int = Field(ge=16, description="the most tokens of one party message")
    system: str = Field(min_length=1)
    turn: str = Field(min_length=1)

    @model_validator(mode="after")
    def _fields_known(self) -> PartyPrompt:
        known = {"persona", "goal", "stop_when", "counterpart", "stop_token", "own_label", "agent_label"}
        for where, text, allowed in (
            ("system", self.system, known),
            ("turn", self.turn, known | {"transcript"}),
        ):
            unknown = sorted(template_fields(text, where) - allowed)
            if unknown:
                raise ValueError(
                    f"{where}: unknown placeholder {', '.join(unknown)}; known: {sorted(allowed)}"
                )
        if "{stop_token}" not in self.system:
            raise ValueError("system must tell the party its {stop_token}")
        return self

    def stop_pattern(self) -> re.Pattern[str]:
        """The stop token, tolerant of case, spacing, ``_`` between words and missing brackets."""
        words = re.findall(r"[A-Za-z0-9]+", self.stop_token)
        return re.compile(r"[\[<(]?\s*" + r"[\s_-]+".join(map(re.escape, words)) + r"\s*[\]>)]?", re.I)


@lru_cache(maxsize=1)
def load_party_prompt() -> PartyPrompt:
    prompt: PartyPrompt = validate_file(PARTY_PROMPT_FILE, PartyPrompt)
    return prompt


def party_versions(spec: Scenario) -> dict[str, str]:
    """The prompt versions of the simulated party (in ``prompt_versions`` of the score metadata and of
    each message it wrote): the scenario's persona section and the frame prompt."""
    return {
        "simulated_party": require_party(spec).version,
        "simulated_party_prompt": load_party_prompt().version,
    }


def require_party(spec: Scenario, source: str | Path | None = None) -> SimulatedParty:
    """The scenario's ``simulated_party`` section; a clear error when it has none."""
    if spec.simulated_party is None:
        where = f" ({source})" if source else ""
        raise TaskArgError(
            f"-T follow_up=simulated: scenario '{spec.id}'{where} has no simulated_party section (who "
            "the other party is, its goal, when it stops, a version; see scenarios/car_sales.yaml), so it "
            "can run only scripted follow-ups: use -T follow_up=scripted or add the section"
        )
    return spec.simulated_party


def check_user_bound() -> None:
    check_role_bound(
        USER_ROLE,
        "-T follow_up=simulated needs one to play the other party (customer, buyer, ...)",
        "anthropic/claude-sonnet-4-0",
        "play the other party",
    )


@dataclass(frozen=True)
class PartyTurn:
    """One message of the party: the text for the agent, or the end of the conversation."""

    message: str
    """Its message without label or stop token ('' when it wrote nothing)."""
    ended: bool
    stop_reason: str | None = None


def read_party_reply(text: str, prompt: PartyPrompt, speaker: str) -> PartyTurn:
    """The party's message from its raw output: the stop token, a leading label (``You:``, the
    speaker label) and wrapping quotes removed."""
    ended = bool(prompt.stop_pattern().search(text or ""))
    message = prompt.stop_pattern().sub(" ", text or "").strip()
    for label in (speaker, f"{prompt.own_label}:"):
        if message.lower().startswith(label.lower()):
            message = message[len(label) :].strip()
    if len(message) >= 2 and message[0] == message[-1] and message[0] in "\"'":
        message = message[1:-1].strip()
    return PartyTurn(message=message, ended=ended)


class Party:
    """The simulated party of one conversation: what it has seen, and its next message."""

    def __init__(self, spec: Scenario, values: dict[str, str], temperature: float) -> None:
        self.section = require_party(spec)
        self.versions = party_versions(spec)
        self.prompt = load_party_prompt()
        self.tags = (spec.reply_format.reasoning_tag, spec.reply_format.output_tag)
        self.speaker = fill(self.section.speaker, values)
        self.model: Model = get_model(role=USER_ROLE, required=True)
        self.config = GenerateConfig(temperature=temperature, max_tokens=self.prompt.max_tokens)
        self.transcript: list[tuple[str, str]] = []
        self.fields = {
            "persona": fill(self.section.persona, values),
            "goal": fill(self.section.goal, values),
            "stop_when": fill(self.section.stop_when, values),
            "counterpart": fill(self.section.counterpart, values),
            "stop_token": self.prompt.stop_token,
            "own_label": self.prompt.own_label,
            "agent_label": self.prompt.agent_label,
        }

    def for_agent(self, message: str) -> str:
        """The party's message as the agent gets it (with the speaker label, as in follow_ups)."""
        return f"{self.speaker} {message}"

    def said(self, for_agent: str) -> None:
        """The party sent ``for_agent`` (its speaker label is not part of what it remembers)."""
        own = for_agent.removeprefix(self.speaker).strip()
        self.transcript.append((self.prompt.own_label, own))

    def heard(self, reply: str) -> None:
        """The agent replied ``reply``: the party sees only the text meant for it."""
        output = extract(reply, *self.tags).output
        self.transcript.append((self.prompt.agent_label, output or NO_MESSAGE))

    def messages(self) -> list[ChatMessage]:
        transcript = "\n\n".join(f"{who}: {text}" for who, text in self.transcript)
        return [
            ChatMessageSystem(content=fill(self.prompt.system, self.fields)),
            ChatMessageUser(content=fill(self.prompt.turn, {**self.fields, "transcript": transcript})),
        ]

    async def next(self) -> PartyTurn:
        output = await self.model.generate(self.messages(), config=self.config)
        turn = read_party_reply(output.completion, self.prompt, self.speaker)
        return PartyTurn(turn.message, turn.ended, output.stop_reason)

    def metadata(self, turn: int) -> dict[str, object]:
        """Message metadata of a message the party wrote (who wrote it, for ``inspect view``)."""
        return {
            "follow_up_turn": turn,
            "written_by": f"simulated party ({USER_ROLE} role: {self.model})",
            "prompt_versions": self.versions,
        }
