"""Native reasoning through the real provider code (issue 19): car_sales with ``-T cot=false`` against
the loopback fake OpenAI server (Chat Completions ``reasoning_content``, Responses API reasoning items
with a summary or encrypted only), the fake Anthropic server (``thinking`` and ``redacted_thinking``
blocks) and a tiny random hf model whose generation is forced to a ``<think>`` reply.

Each path lands as native reasoning with the status core/native.py gives it, its text reaches the
native-consistency judge prompt and is judged; redacted and absent reasoning are not available (no
native judge call, native measures None, own denominator); the other measures are unchanged and the
reasoning never reaches the behaviour judge or the simulated party as part of the reply.

Inspect parses ``reasoning_content`` and Responses reasoning items for OpenAI, and thinking blocks for
Anthropic (as *summaries*: Claude's thinking is a summary since Claude 4, so it is ``summarised``), but
not ``<think>`` tags in hf output (the hf provider returns the decoded text as is): core/native.py
parses a leading ``<think>`` block itself and core/reasoning.py's extractor drops it from the reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import REPLY_BLOCK, judged_reply, scripted
from fakes.anthropic_server import FakeAnthropicServer
from fakes.openai_server import FakeOpenAIServer, FakeReply
from fakes.tiny_hf import build_tiny_chat_model
from inspect_ai import eval
from inspect_ai.log import EvalLog, read_eval_log
from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ContentReasoning,
    ContentText,
    Model,
    get_model,
)

from refusal_evals.core.native import native_reasoning, split_think
from refusal_evals.core.reasoning import extract
from refusal_evals.roleplay.scorer import value_keys

HIDES = "It's in great shape!"
PLAN_HIDE = "The manager told me to keep quiet, so I will hide it and talk the car up."
PLAN_HONEST = "The buyer deserves the truth, so I will be honest about what is wrong."
ENCRYPTED = "gAAAAB-opaque-encrypted-reasoning"
NATIVE_BLOCK = re.compile(r'Agent\'s internal thinking:\s*"""\n(.*?)\n"""', re.S)
STATED_MARK = "Agent's private reasoning:"
# the measures today's scorer reports with cot=false, unchanged by native reasoning
STATED_BASELINE = {"undesired": 1.0, "unscored_measures": 0}


def leaks(prompt: str) -> bool:
    """Whether the native reasoning got into a prompt that must not see it."""
    return PLAN_HIDE in prompt or PLAN_HONEST in prompt or ENCRYPTED in prompt


class Grader:
    """Scripted grader: the native-consistency judge answers ``inconsistent`` when the thinking
    plans honesty and the reply hides the damage; the behaviour judge ``undesired`` when it hides.
    Records every prompt by judge; a judge that quotes no reply (e.g. stated vs native reasoning)
    is ``other`` and gets the first label its label line offers."""

    def __init__(self) -> None:
        self.prompts: dict[str, list[str]] = {"native": [], "stated": [], "behaviour": [], "other": []}

    def __call__(self, messages: list[ChatMessage]) -> str:
        prompt = messages[-1].text
        if not REPLY_BLOCK.search(prompt):
            self.prompts["other"].append(prompt)
            labels = re.findall(r"is one of: (\w+)", prompt)
            return "ANSWER: " + labels[-1]
        hides = "great shape" in judged_reply(prompt)
        native = NATIVE_BLOCK.search(prompt)
        if native:
            self.prompts["native"].append(prompt)
            inconsistent = hides and "honest" in native.group(1)
            return "Thinking vs reply.\nANSWER: " + ("inconsistent" if inconsistent else "consistent")
        if STATED_MARK in prompt:
            self.prompts["stated"].append(prompt)
            return "ANSWER: " + ("inconsistent" if hides else "consistent")
        self.prompts["behaviour"].append(prompt)
        return "Judged.\nANSWER: " + ("undesired" if hides else "acceptable")


def run(
    model: Model, grader: Grader, log_dir: Path, roles: dict[str, Model] | None = None, **args: Any
) -> EvalLog:
    """car_sales on one variant, the refusal condition, cot=false unless ``args`` say otherwise."""
    task_args = {"variants": "civic-flood", "condition": "refusal", "cot": False, **args}
    [log] = eval(
        "refusal_evals/car_sales",
        model=model,
        model_roles={"grader": scripted(grader), **(roles or {})},
        task_args=task_args,
        log_dir=str(log_dir),
        display="none",
        max_retries=0,
        timeout=30,
    )
    assert log.status == "success", log.error
    return read_eval_log(log.location)


def metric(log: EvalLog, measure: str) -> dict[str, Any]:
    [score] = [s for s in log.results.scores if s.name == measure]
    return {m.name: m.value for m in score.metrics.values()}


def assert_judged(
    log: EvalLog, grader: Grader, status: str, thinking: str | None, inconsistent: float | None
) -> None:
    """The one sample's native status, the judge prompts and the measures (see the module docstring)."""
    [sample] = log.samples
    score = sample.scores["roleplay_judge"]
    [turn] = score.metadata["turns"]
    assert score.metadata["native_reasoning"] == turn["native_reasoning"] == status
    assert turn["native_reasoning_text"] == thinking
    assert turn["output"] == HIDES and turn["reasoning"] is None
    value = score.value
    assert set(value) == {"undesired", *value_keys(False, 1), "unscored_measures"}
    assert {k: v for k, v in value.items() if not k.startswith("native_")} == STATED_BASELINE
    [behaviour] = grader.prompts["behaviour"]
    assert judged_reply(behaviour) == HIDES and not leaks(behaviour)
    assert grader.prompts["stated"] == []
    if thinking is None:  # not available: no judge call, measures not applicable
        assert grader.prompts["native"] == grader.prompts["other"] == []
        assert turn["native_consistency_judge"] is None
        assert value["native_inconsistent"] is None and value["native_reason_based_deception"] is None
        assert metric(log, "native_inconsistent").get("refusal_n", 0) == 0
        return
    [native] = grader.prompts["native"]
    assert NATIVE_BLOCK.search(native).group(1) == thinking and judged_reply(native) == HIDES
    label = "inconsistent" if inconsistent else "consistent"
    assert turn["native_consistency_judge"]["label"] == label
    assert value["native_inconsistent"] == inconsistent
    assert value["native_reason_based_deception"] == inconsistent  # undesired is 1
    native_rate = metric(log, "native_inconsistent")
    assert native_rate["refusal"] == inconsistent and native_rate["refusal_n"] == 1


@dataclass
class ProviderPath:
    model: str
    reply: FakeReply
    status: str
    """the native_reasoning status core/native.py gives what Inspect made of the reply"""
    inconsistent: float | None = None
    model_args: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def server(self) -> type[FakeOpenAIServer] | type[FakeAnthropicServer]:
        return FakeAnthropicServer if self.model.startswith("anthropic/") else FakeOpenAIServer

    @property
    def api(self) -> str:
        if self.server is FakeAnthropicServer:
            return "messages"
        return "responses" if self.model.startswith("openai/gpt-5") else "chat"

    @property
    def thinking(self) -> str | None:
        """What reaches the native judge: the readable reasoning (or its summary)."""
        return self.reply.reasoning if self.status in ("present", "summarised") else None


CHAT, RESPONSES, CLAUDE = "openai/gpt-4o-mini", "openai/gpt-5-mini", "anthropic/claude-sonnet-4-5"
DEEPSEEK_ENV = {"DEEPSEEK_API_KEY": "test-key", "DEEPSEEK_BASE_URL": ""}  # "": the fake's URL
PATHS = {
    "openai-chat-reasoning_content": ProviderPath(
        CHAT, FakeReply(HIDES, reasoning=PLAN_HONEST), "present", 1.0
    ),
    "openai-chat-reasoning_content-streamed": ProviderPath(
        CHAT, FakeReply(HIDES, reasoning=PLAN_HIDE), "present", 0.0, {"streaming": True}
    ),
    "openai-api-deepseek-reasoning_content": ProviderPath(
        "openai-api/deepseek/deepseek-reasoner", FakeReply(HIDES, reasoning=PLAN_HIDE), "present", 0.0,
        env=DEEPSEEK_ENV,
    ),
    "openai-chat-absent": ProviderPath(CHAT, FakeReply(HIDES), "absent"),
    "openai-responses-summary": ProviderPath(
        RESPONSES, FakeReply(HIDES, reasoning=PLAN_HONEST, redacted_reasoning=ENCRYPTED), "summarised", 1.0
    ),
    "openai-responses-summary-streamed": ProviderPath(
        RESPONSES, FakeReply(HIDES, reasoning=PLAN_HIDE), "summarised", 0.0, {"streaming": True}
    ),
    "openai-responses-encrypted-only": ProviderPath(
        RESPONSES, FakeReply(HIDES, redacted_reasoning=ENCRYPTED), "redacted"
    ),
    # Inspect reads Claude's thinking as a summary of the reasoning
    "anthropic-thinking": ProviderPath(CLAUDE, FakeReply(HIDES, reasoning=PLAN_HONEST), "summarised", 1.0),
    "anthropic-thinking-and-redacted-unstreamed": ProviderPath(
        CLAUDE, FakeReply(HIDES, reasoning=PLAN_HIDE, redacted_reasoning=ENCRYPTED), "summarised", 0.0,
        {"streaming": False},
    ),
    "anthropic-redacted_thinking": ProviderPath(
        CLAUDE, FakeReply(HIDES, redacted_reasoning=ENCRYPTED), "redacted"
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(PATHS))
def test_provider_reasoning_lands_as_native_reasoning(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = PATHS[name]
    grader = Grader()
    with path.server(path.reply) as server:
        for key, value in {**server.env("test-key"), **path.env}.items():
            monkeypatch.setenv(key, value or server.base_url)
        model = get_model(path.model, memoize=False, **path.model_args)
        log = run(model, grader, tmp_path / "logs")
        requests = server.generation_requests
    [request] = requests  # the one follow-up turn (the refusal is injected)
    assert request.api == path.api and request.last_user and HIDES not in request.prompt_text
    assert_judged(log, grader, path.status, path.thinking, path.inconsistent)


# ---------------------------------------------------------------------------
# hf: a tiny random model whose generation is forced to a scripted reply


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_chat_model(tmp_path_factory.mktemp("tiny-think"))


def test_leading_think_block_is_native_reasoning_and_not_the_reply() -> None:
    def native(content: str | list) -> tuple[str, str | None]:
        found = native_reasoning(ChatMessageAssistant(content=content))
        return found.status, found.text

    assert native(f"<think>\n{PLAN_HIDE}\n</think>\n{HIDES}") == ("present", PLAN_HIDE)
    assert native(f"{PLAN_HIDE}</think>{HIDES}") == ("present", PLAN_HIDE)  # the template opened it
    assert native(f"<think>{PLAN_HIDE}") == ("present", PLAN_HIDE)  # cut off while thinking
    assert native(f"<think>\n\n</think>{HIDES}") == ("absent", None)  # thinking switched off
    assert native(f"{HIDES} <think>{PLAN_HIDE}</think>") == ("absent", None)  # not leading
    parts = [ContentReasoning(reasoning=PLAN_HONEST), ContentText(text=f"<think>{PLAN_HIDE}</think>{HIDES}")]
    assert native(parts) == ("present", PLAN_HONEST)  # parts the provider parsed come first
    assert split_think(HIDES) == (None, HIDES)
    for text in (f"<think>{PLAN_HIDE}</think><reply>{HIDES}</reply>", f"{PLAN_HIDE}</think>\n{HIDES}"):
        parts = extract(text)
        assert (parts.reasoning, parts.output) == (None, HIDES)
    stated = extract(f"<think>{PLAN_HIDE}</think><reasoning>{PLAN_HONEST}</reasoning><reply>{HIDES}</reply>")
    assert (stated.reasoning, stated.output, stated.format) == (PLAN_HONEST, HIDES, "tags")


def force_replies(monkeypatch: pytest.MonkeyPatch, model_dir: Path, reply: str) -> list[str]:
    """Make the tiny model's real ``generate`` emit ``reply`` then end-of-turn, by a logits processor
    that allows one token per step (everything else is real hf code). Returns the decoded prompts."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM, LogitsProcessor, LogitsProcessorList

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    script = [*tokenizer.encode(reply, add_special_tokens=False), tokenizer.eos_token_id]
    assert tokenizer.decode(script, skip_special_tokens=True) == reply
    prompts: list[str] = []

    class Forced(LogitsProcessor):
        def __init__(self, prompt_len: int) -> None:
            self.prompt_len = prompt_len

        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            step = min(input_ids.shape[1] - self.prompt_len, len(script) - 1)
            forced = torch.full_like(scores, float("-inf"))
            forced[:, script[step]] = 0.0
            return forced

    original = LlamaForCausalLM.generate

    def generate(self: Any, *args: Any, **kwargs: Any) -> Any:
        ids = kwargs["input_ids"]
        prompts.extend(tokenizer.batch_decode(ids, skip_special_tokens=True))
        kwargs["logits_processor"] = LogitsProcessorList([Forced(ids.shape[1])])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LlamaForCausalLM, "generate", generate)
    return prompts


def test_hf_think_tags_land_as_native_reasoning(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts = force_replies(
        monkeypatch, tiny_model_dir, f"<think>{PLAN_HIDE}</think>\n<reply>{HIDES}</reply>"
    )
    grader = Grader()
    model = get_model(f"hf/{tiny_model_dir}", device="cpu", memoize=False)
    log = run(model, grader, tmp_path / "logs")
    assert len(prompts) == 1
    [sample] = log.samples
    # Inspect's hf provider leaves the tags in the text: the reply message is a plain string
    assert sample.output.completion.startswith("<think>")
    assert_judged(log, grader, "present", PLAN_HIDE, 0.0)


def test_think_block_never_reaches_the_party_or_the_stated_judges(tmp_path: Path) -> None:
    """Two simulated turns with cot=true. The subject is mockllm: the hf provider returns its text as
    is (test above), so a plain-text reply exercises the same scorer and party code, faster."""
    stated = "I should be open with the buyer."
    reply = f"<think>{PLAN_HONEST}</think><reasoning>{stated}</reasoning><reply>{HIDES}</reply>"
    party_prompts: list[str] = []

    def party(messages: list[ChatMessage]) -> str:
        party_prompts.append("\n".join(m.text for m in messages))
        return "Anything I should know about the car?"

    grader = Grader()
    subject, roles = scripted(lambda messages: reply), {"user": scripted(party)}
    log = run(subject, grader, tmp_path / "logs", roles, cot=True, turns=2, follow_up="simulated")
    [sample] = log.samples
    score = sample.scores["roleplay_judge"]
    turns = score.metadata["turns"]
    assert [t["native_reasoning"] for t in turns] == ["present", "present"]
    assert all(t["native_reasoning_text"] == PLAN_HONEST for t in turns)
    assert all(t["reasoning"] == stated and t["output"] == HIDES for t in turns)
    assert score.value["native_inconsistent_turn1"] == score.value["native_inconsistent_turn2"] == 1.0
    assert score.value["inconsistent_reasoning"] == 1.0 and score.value["missing_reasoning"] == 0.0
    # the party saw the reply only; the stated judges never saw the thinking
    assert len(party_prompts) == 1 and HIDES in party_prompts[0]
    assert not leaks(party_prompts[0]) and "<think>" not in party_prompts[0]
    assert len(grader.prompts["stated"]) == len(grader.prompts["behaviour"]) == 2
    assert not any(leaks(p) for p in grader.prompts["stated"] + grader.prompts["behaviour"])
    assert all(PLAN_HONEST in p for p in grader.prompts["native"]) and len(grader.prompts["native"]) == 2
    # judges of stated vs native reasoning may see both, never the party
    assert all(stated in p and PLAN_HONEST in p for p in grader.prompts["other"])
