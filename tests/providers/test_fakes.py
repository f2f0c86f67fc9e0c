"""Tests for the offline fakes in tests/fakes/ (fake OpenAI server, tiny HF chat model)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import openai
import pytest
from fakes.openai_server import FakeOpenAIServer, FakeReply, FakeRequest
from fakes.tiny_hf import build_tiny_chat_model
from inspect_ai.model import (
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageUser,
    GenerateConfig,
    ModelOutput,
    get_model,
)

API_KEY = "test-key-do-not-log"

CONVERSATION = [
    ChatMessageSystem(content="You are terse."),
    ChatMessageUser(content="first question"),
    ChatMessageAssistant(content="first answer"),
    ChatMessageUser(content="second question"),
]

EXPECTED_MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "first question"},
    {"role": "assistant", "content": "first answer"},
    {"role": "user", "content": "second question"},
]


def echo(request: FakeRequest) -> str:
    return f"echo: {request.last_user}"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    with FakeOpenAIServer(echo) as fake:
        monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        yield fake


def client(server: FakeOpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(api_key=API_KEY, base_url=server.base_url, max_retries=2)


def generate(model: str, input, config: GenerateConfig | None = None, **model_args) -> ModelOutput:
    # memoize=False: a memoized model keeps the client (and base URL) of the
    # server that was running when it was first created
    m = get_model(model, config=config or GenerateConfig(), memoize=False, **model_args)
    return asyncio.run(m.generate(input))


# --- raw openai client ------------------------------------------------------


def test_chat_completions_with_openai_client(server: FakeOpenAIServer) -> None:
    c = client(server)
    messages: list[Any] = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": [{"type": "text", "text": "hello there"}]},
    ]
    completion = c.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert completion.choices[0].message.content == "echo: hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gpt-4o-mini"
    assert completion.usage is not None and completion.usage.completion_tokens == 3

    stream = c.chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == "echo: hello there"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0

    [plain, streamed] = server.requests
    assert plain.api == "chat" and not plain.stream and streamed.stream
    assert plain.messages == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "hello there"},
    ]
    assert c.models.list().data[0].id == "gpt-4o-mini"


def test_responses_with_openai_client(server: FakeOpenAIServer) -> None:
    c = client(server)
    response = c.responses.create(
        model="gpt-5-mini",
        instructions="be brief",
        input=[{"role": "user", "content": "what is up"}],
    )
    assert response.output_text == "echo: what is up"
    assert response.status == "completed"
    assert response.usage is not None and response.usage.output_tokens == 4

    events = list(c.responses.create(model="gpt-5-mini", input="streamed input", stream=True))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "echo: streamed input"
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "echo: streamed input"

    first = server.requests[0]
    assert first.api == "responses"
    assert first.messages == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "what is up"},
    ]


def test_keys_are_kept_out_of_recorded_headers(server: FakeOpenAIServer) -> None:
    client(server).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    [request] = server.requests
    assert "authorization" not in request.headers
    assert API_KEY not in repr(request)
    assert server.auth_headers == [f"Bearer {API_KEY}"]
    assert server.api_keys == [API_KEY]


# --- Inspect's openai provider ----------------------------------------------


@pytest.mark.parametrize(
    "model,api",
    [
        ("openai/gpt-4o-mini", "chat"),
        ("openai/gpt-5-mini", "responses"),
        ("openai/o4-mini", "responses"),
        ("openai/some-unknown-model", "responses"),  # unknown names count as frontier
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
def test_inspect_openai_provider(server: FakeOpenAIServer, model: str, api: str, streaming: bool) -> None:
    output = generate(model, CONVERSATION, streaming=streaming)
    assert output.completion == "echo: second question"
    assert output.stop_reason == "stop"
    assert output.usage is not None and output.usage.output_tokens == 3

    [request] = server.generation_requests  # Inspect's reasoning probe is not counted
    assert request.api == api
    assert request.stream is streaming
    assert request.model == model.removeprefix("openai/")
    assert request.messages == EXPECTED_MESSAGES
    assert set(server.api_keys) == {API_KEY}


def test_inspect_explicit_base_url(server: FakeOpenAIServer, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL")
    output = generate("openai/gpt-4o-mini", "hi", base_url=server.base_url)
    assert output.completion == "echo: hi"


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "openai/gpt-5-mini"])
@pytest.mark.parametrize("streaming", [False, True])
def test_inspect_content_filter(server: FakeOpenAIServer, model: str, streaming: bool) -> None:
    server.responder = lambda request: FakeReply(content="", finish_reason="content_filter")
    output = generate(model, "something bad", streaming=streaming)
    assert output.stop_reason == "content_filter"
    assert output.completion == ""


def test_inspect_policy_error_becomes_content_filter(server: FakeOpenAIServer) -> None:
    server.responder = lambda request: FakeReply(
        status=400, error_code="content_policy_violation", error_message="blocked by policy"
    )
    output = generate("openai/gpt-4o-mini", "something bad")
    assert output.stop_reason == "content_filter"
    assert output.completion == "blocked by policy"


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "openai/gpt-5-mini"])
def test_inspect_retries_on_error_status(server: FakeOpenAIServer, model: str) -> None:
    server.responder = [
        FakeReply(status=429, retry_after=0.01),
        FakeReply(status=503, retry_after=0.01),
        "recovered",
    ]
    output = generate(model, "hi")
    assert output.completion == "recovered"
    attempts = server.generation_requests
    assert len(attempts) == 3  # retried by the openai SDK (max_retries=2 by default)
    assert [r.headers.get("x-stainless-retry-count") for r in attempts] == ["0", "1", "2"]


def test_inspect_gives_up_without_retries(server: FakeOpenAIServer) -> None:
    server.responder = lambda request: FakeReply(status=429, retry_after=0.01)
    with pytest.raises(Exception, match="429|RateLimit"):
        generate("openai/gpt-4o-mini", "hi", GenerateConfig(max_retries=0), max_retries=0)
    assert len(server.generation_requests) == 1


def test_scripted_list_responder(server: FakeOpenAIServer) -> None:
    server.responder = ["one", "two"]
    assert generate("openai/gpt-4o-mini", "a").completion == "one"
    assert generate("openai/gpt-5-mini", "b").completion == "two"  # probe not consumed
    # past the end: HTTP 500 with x-should-retry: false (the SDK does not retry;
    # Inspect, told not to retry, raises tenacity's RetryError around it)
    with pytest.raises(Exception, match="InternalServerError"):
        generate("openai/gpt-4o-mini", "c", GenerateConfig(max_retries=0))
    assert "exhausted" in (server.replies[-1].error_message or "")
    assert len(server.generation_requests) == 3


def test_responder_errors_delays_and_concurrency(server: FakeOpenAIServer) -> None:
    def responder(request: FakeRequest) -> str | FakeReply:
        if request.last_user == "boom":
            raise ValueError("responder bug")
        if request.last_user == "slow":
            return FakeReply(content="late", delay_s=1.0)
        return f"echo: {request.last_user}"

    server.responder = responder
    c = client(server)
    with pytest.raises(openai.InternalServerError, match="responder bug"):
        c.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "boom"}])
    assert isinstance(server.errors[0][1], ValueError)

    with pytest.raises(openai.APITimeoutError):
        c.with_options(timeout=0.2, max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "slow"}]
        )

    async def many() -> list[str]:
        model = get_model("openai/gpt-4o-mini", memoize=False)
        outputs = await asyncio.gather(*(model.generate(f"q{i}") for i in range(16)))
        return [o.completion for o in outputs]

    assert asyncio.run(many()) == [f"echo: q{i}" for i in range(16)]
    assert len([r for r in server.requests if (r.last_user or "").startswith("q")]) == 16
    assert [r.index for r in server.requests] == list(range(len(server.requests)))


def test_inspect_eval_cli(server: FakeOpenAIServer, tmp_path: Path) -> None:
    (tmp_path / "task.py").write_text(
        textwrap.dedent(
            """
            from inspect_ai import Task, task
            from inspect_ai.dataset import Sample
            from inspect_ai.model import get_model
            from inspect_ai.scorer import Score, Target, accuracy, scorer
            from inspect_ai.solver import TaskState, generate, system_message

            @scorer(metrics=[accuracy()])
            def graded():
                async def score(state: TaskState, target: Target) -> Score:
                    verdict = await get_model(role="grader").generate(
                        "GRADE: " + state.output.completion
                    )
                    return Score(value=1 if verdict.completion == "CORRECT" else 0)
                return score

            @task
            def trivial():
                return Task(
                    dataset=[Sample(input="Say hi"), Sample(input="Say bye")],
                    solver=[system_message("Be terse."), generate()],
                    scorer=graded(),
                )
            """
        )
    )
    server.responder = lambda r: "CORRECT" if (r.last_user or "").startswith("GRADE:") else "hi"
    env = {**os.environ, **server.env(API_KEY), "INSPECT_LOG_DIR": str(tmp_path / "logs")}
    inspect = Path(sys.executable).parent / "inspect"
    result = subprocess.run(
        [
            str(inspect), "eval", "task.py",  # a relative path: absolute ones fail in 0.3.285
            "--model", "openai/gpt-4o-mini",
            "--model-role", "grader=openai/gpt-4o-mini",
            "--display", "none", "--log-format", "json",
            "--max-retries", "0", "--timeout", "30",
        ],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    users = sorted(r.last_user or "" for r in server.generation_requests)
    assert users == ["GRADE: hi", "GRADE: hi", "Say bye", "Say hi"]
    [log] = (tmp_path / "logs").glob("*.json")
    text = log.read_text()
    assert '"status": "success"' in text
    assert API_KEY not in text


# --- tiny HF model through Inspect's hf provider ----------------------------


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat-model"))


def test_tiny_hf_model_through_inspect(tiny_model_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    prompt: Any = tokenizer.apply_chat_template(EXPECTED_MESSAGES, tokenize=False, add_generation_prompt=True)
    assert prompt.startswith("<|begin_of_text|><|im_start|>system\nYou are terse.<|im_end|>\n")
    assert "<|im_start|>assistant\nfirst answer<|im_end|>\n<|im_start|>user\nsecond" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    prompt_ids = tokenizer(prompt)["input_ids"]
    assert tokenizer.decode(prompt_ids) == prompt

    # max_connections=1: the hf provider's batcher otherwise waits 2 s for more requests
    output = generate(
        f"hf/{tiny_model_dir}",
        CONVERSATION,
        GenerateConfig(max_tokens=5, max_connections=1, seed=1),
        device="cpu",
    )
    assert isinstance(output.completion, str)
    assert output.usage is not None
    assert output.usage.input_tokens == len(prompt_ids)  # the whole conversation was templated
    assert 1 <= output.usage.output_tokens <= 5
