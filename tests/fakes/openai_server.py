"""A loopback fake of the OpenAI HTTP API for offline tests.

Serves, on ``127.0.0.1`` and a free port:

* ``POST /v1/chat/completions`` (plain JSON, or SSE when ``"stream": true``),
* ``POST /v1/responses`` (plain JSON, or SSE when ``"stream": true``),
* ``POST /v1/responses/input_tokens`` (token counting, used by Inspect's
  ``count_tokens`` for Responses-API models),
* ``GET /v1/models`` and ``GET /v1/models/{id}``.

What the "model" says is scripted by a *responder*: a callable
``responder(request: FakeRequest) -> str | FakeReply``.  A plain ``str``
responder always answers with that text, and a list (or other iterable) of
``str | FakeReply`` is answered in order, one item per generation request
(a request past its end gets an HTTP 500 naming the problem).

Every request is recorded (``server.requests``), with the ``Authorization``
header (and ``api-key`` / ``x-api-key``) removed from ``FakeRequest.headers``
and kept apart in ``server.auth_headers`` so tests can check that keys never
reach logs.

Usage::

    with FakeOpenAIServer(lambda req: "hello") as server:
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        ...

Only the standard library is used.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from typing_extensions import Self

__all__ = [
    "FakeOpenAIServer",
    "FakeReply",
    "FakeRequest",
    "Responder",
    "ResponderSpec",
]

# Headers that carry credentials.  They are kept out of FakeRequest.headers.
SECRET_HEADERS = ("authorization", "api-key", "x-api-key")

DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-5-mini", "o4-mini")


@dataclass
class FakeRequest:
    """One HTTP request the fake server received."""

    method: str
    """HTTP method ("POST" / "GET")."""

    path: str
    """URL path as sent, e.g. "/v1/chat/completions"."""

    api: str
    """Which endpoint: "chat", "responses", "input_tokens", "models", or "unknown"."""

    model: str | None
    """The "model" field of the body (None for GET)."""

    messages: list[dict[str, str]]
    """The conversation, normalised to ``{"role", "content"}`` dicts with text content.

    Works for both APIs. Roles are "system", "user", "assistant" and "tool";
    OpenAI's "developer" role (used for gpt-5 / o-series) is reported as
    "system", and a Responses-API ``instructions`` string becomes a leading
    system message. Multi-part content is joined with "\\n". Tool calls are
    rendered as an assistant message "[tool_call NAME(ARGS)]" and their
    results as "tool" messages. Reasoning items are dropped.
    """

    json: dict[str, Any]
    """The raw request body (empty dict for GET or a body that is not JSON)."""

    headers: dict[str, str]
    """Request headers, names lower-cased, credentials removed."""

    stream: bool = False
    """Whether the client asked for an SSE stream."""

    index: int = 0
    """Position of this request among all requests the server recorded."""

    @property
    def is_inspect_probe(self) -> bool:
        """Whether this is Inspect's one-off "reasoning summaries" probe.

        Inspect's openai provider sends it (once per model instance, before the
        first generate) for Responses-API models with reasoning options
        (gpt-5*, o-series, unknown names): ``input="Please say 'hello, world'"``
        with ``reasoning={"effort": "low", "summary": "auto"}``.
        """
        reasoning = self.json.get("reasoning")
        return (
            self.api == "responses"
            and isinstance(self.json.get("input"), str)
            and self.json.get("input", "").startswith("Please say 'hello, world'")
            and isinstance(reasoning, dict)
            and reasoning.get("summary") == "auto"
        )

    @property
    def system(self) -> str | None:
        """Text of the system messages joined with "\\n", or None if there are none."""
        parts = [m["content"] for m in self.messages if m["role"] == "system"]
        return "\n".join(parts) if parts else None

    @property
    def last_user(self) -> str | None:
        """Text of the last user message, or None."""
        for message in reversed(self.messages):
            if message["role"] == "user":
                return message["content"]
        return None

    @property
    def prompt_text(self) -> str:
        """Every message's text, joined with "\\n" (handy for substring checks)."""
        return "\n".join(m["content"] for m in self.messages)


@dataclass
class FakeReply:
    """What the fake model answers (a plain ``str`` means ``FakeReply(content=str)``)."""

    content: str = ""
    """The assistant text."""

    finish_reason: str = "stop"
    """Chat-completions ``finish_reason``: "stop", "length" or "content_filter".

    On the Responses API, "length" becomes ``status: "incomplete"`` with
    ``incomplete_details.reason = "max_output_tokens"`` and "content_filter"
    becomes ``incomplete_details.reason = "content_filter"`` (Inspect maps both
    APIs to ``stop_reason`` "max_tokens" / "content_filter").
    """

    status: int = 200
    """HTTP status. Anything but 200 sends an OpenAI-style error body instead."""

    retry_after: float | None = None
    """Seconds; sent as ``retry-after`` (rounded up) and ``retry-after-ms``.

    The openai SDK prefers ``retry-after-ms``, so a small value such as 0.01 makes
    its own retry quick.
    """

    error_message: str | None = None
    """Message of the error body (default: a generic one for the status)."""

    error_code: str | None = None
    """``error.code`` of the error body, e.g. "rate_limit_exceeded",
    "content_policy_violation", "invalid_prompt", "context_length_exceeded"."""

    error_type: str | None = None
    """``error.type`` of the error body (default derived from the status)."""

    error_param: str | None = None
    """``error.param`` of the error body."""

    body: Any = None
    """A raw body to send instead of the generated error body (dict → JSON, str → as is).

    Only used when ``status != 200``.
    """

    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers, e.g. ``{"x-should-retry": "false"}``."""

    delay_s: float = 0.0
    """Sleep this long before answering (for timeout tests)."""

    prompt_tokens: int | None = None
    """Usage override (default: whitespace-separated words of the prompt, at least 1)."""

    completion_tokens: int | None = None
    """Usage override (default: whitespace-separated words of the content)."""

    model: str | None = None
    """Model name to report (default: the requested one)."""

    raw_body: str | None = None
    """Send this text as the HTTP 200 body instead of a valid completion (e.g. malformed JSON)."""

    stream_cut_after: int | None = None
    """For a streamed reply: send only this many SSE events, then drop the connection (no [DONE])."""

    reasoning: str | None = None
    """The model's readable native reasoning (None: the reply carries none).

    Chat Completions: ``message.reasoning_content`` (DeepSeek-R1 style; ``delta.reasoning_content``
    when streamed). Responses API: a ``reasoning`` output item before the message whose ``summary``
    carries this text (OpenAI returns summaries, not the raw reasoning). Anthropic: a ``thinking``
    block (with a signature) before the text.
    """

    redacted_reasoning: str | None = None
    """Opaque (encrypted) native reasoning (None: none).

    Responses API: the reasoning item's ``encrypted_content`` (without ``reasoning``, an
    encrypted-only item with an empty summary). Anthropic: a ``redacted_thinking`` block with this
    ``data`` (after the ``thinking`` block, if any). Not sent on Chat Completions.
    """


Responder = Callable[[FakeRequest], str | FakeReply]
ResponderSpec = Responder | str | FakeReply | Iterable[str | FakeReply] | None


def _as_responder(spec: ResponderSpec) -> Responder:
    if spec is None:
        return lambda request: "This is a fake response."
    if isinstance(spec, (str, FakeReply)):
        reply = spec
        return lambda request: reply
    if callable(spec):
        return spec
    items: Iterator[str | FakeReply] = iter(list(spec))
    lock = threading.Lock()

    def scripted(request: FakeRequest) -> str | FakeReply:
        with lock:
            try:
                return next(items)
            except StopIteration:
                return FakeReply(
                    status=500,
                    error_message="FakeOpenAIServer: scripted replies exhausted",
                    error_type="server_error",
                    headers={"x-should-retry": "false"},
                )

    return scripted


# ---------------------------------------------------------------------------
# normalisation of request bodies


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return ""
    kind = part.get("type")
    if kind in (None, "text", "input_text", "output_text"):
        return str(part.get("text", ""))
    if kind == "refusal":
        return str(part.get("refusal", ""))
    if kind in ("image_url", "input_image"):
        return "[image]"
    if kind in ("input_file", "file"):
        return "[file]"
    if kind in ("input_audio",):
        return "[audio]"
    return ""


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [_part_text(part) for part in content]
        return "\n".join(t for t in texts if t)
    return str(content)


def _role(role: Any) -> str:
    role = str(role or "user")
    return "system" if role == "developer" else role


def _chat_messages(body: dict[str, Any]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        text = _content_text(message.get("content"))
        calls = message.get("tool_calls") or []
        call_texts = [
            f"[tool_call {c.get('function', {}).get('name')}({c.get('function', {}).get('arguments')})]"
            for c in calls
            if isinstance(c, dict)
        ]
        if call_texts:
            text = "\n".join([t for t in [text, *call_texts] if t])
        messages.append({"role": _role(message.get("role")), "content": text})
    return messages


def _responses_messages(body: dict[str, Any]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    items = body.get("input")
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
        return messages
    for item in items or []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind in (None, "message") and "role" in item:
            messages.append({"role": _role(item.get("role")), "content": _content_text(item.get("content"))})
        elif kind in ("function_call", "custom_tool_call"):
            args = item.get("arguments", item.get("input"))
            messages.append({"role": "assistant", "content": f"[tool_call {item.get('name')}({args})]"})
        elif kind in ("function_call_output", "custom_tool_call_output"):
            messages.append({"role": "tool", "content": _content_text(item.get("output"))})
        # reasoning items, item references etc. are dropped
    return messages


def _count_words(text: str) -> int:
    return len(text.split())


# ---------------------------------------------------------------------------
# response bodies


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def _error_type(status: int) -> str:
    if status == 401:
        return "invalid_request_error"
    if status == 429:
        return "requests"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def _usage_counts(request: FakeRequest, reply: FakeReply) -> tuple[int, int]:
    prompt = (
        reply.prompt_tokens if reply.prompt_tokens is not None else max(1, _count_words(request.prompt_text))
    )
    completion = (
        reply.completion_tokens if reply.completion_tokens is not None else _count_words(reply.content)
    )
    return prompt, completion


def _chunks(text: str) -> list[str]:
    """Split text into stream deltas (word-ish pieces that concatenate back to text)."""
    if not text:
        return []
    pieces: list[str] = []
    current = ""
    for ch in text:
        current += ch
        if ch.isspace():
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces


class _ChatBuilder:
    def __init__(self, request: FakeRequest, reply: FakeReply) -> None:
        self.request = request
        self.reply = reply
        self.id = _new_id("chatcmpl-")
        self.created = int(time.time())
        self.model = reply.model or request.model or "fake-model"
        prompt, completion = _usage_counts(request, reply)
        self.usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def completion(self) -> dict[str, Any]:
        n = self.request.json.get("n") or 1
        choices: list[dict[str, Any]] = [
            {
                "index": i,
                "message": {
                    "role": "assistant",
                    "content": self.reply.content,
                    "refusal": None,
                    "annotations": [],
                    **({"reasoning_content": self.reply.reasoning} if self.reply.reasoning else {}),
                },
                "logprobs": None,
                "finish_reason": self.reply.finish_reason,
            }
            for i in range(int(n))
        ]
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": self.usage,
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }

    def _chunk(self, choices: list[dict[str, Any]], usage: Any = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "service_tier": "default",
            "choices": choices,
            "usage": usage,
        }

    def stream_events(self) -> Iterator[tuple[str | None, str]]:
        def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}

        yield (
            None,
            json.dumps(self._chunk([choice({"role": "assistant", "content": "", "refusal": None})])),
        )
        for piece in _chunks(self.reply.reasoning or ""):
            yield None, json.dumps(self._chunk([choice({"reasoning_content": piece})]))
        for piece in _chunks(self.reply.content):
            yield None, json.dumps(self._chunk([choice({"content": piece})]))
        yield None, json.dumps(self._chunk([choice({}, self.reply.finish_reason)]))
        options = self.request.json.get("stream_options") or {}
        if isinstance(options, dict) and options.get("include_usage"):
            yield None, json.dumps(self._chunk([], self.usage))
        yield None, "[DONE]"


class _ResponsesBuilder:
    def __init__(self, request: FakeRequest, reply: FakeReply) -> None:
        self.request = request
        self.reply = reply
        self.id = _new_id("resp_")
        self.msg_id = _new_id("msg_")
        self.reasoning_id = _new_id("rs_")
        self.created = int(time.time())
        self.model = reply.model or request.model or "fake-model"
        prompt, completion = _usage_counts(request, reply)
        self.usage = {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": prompt + completion,
        }
        reason = reply.finish_reason
        if reason == "length":
            self.final_status = "incomplete"
            self.incomplete: dict[str, Any] | None = {"reason": "max_output_tokens"}
        elif reason == "content_filter":
            self.final_status = "incomplete"
            self.incomplete = {"reason": "content_filter"}
        else:
            self.final_status = "completed"
            self.incomplete = None

    def _part(self, text: str) -> dict[str, Any]:
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

    def _message(self, text: str, status: str) -> dict[str, Any]:
        return {
            "type": "message",
            "id": self.msg_id,
            "status": status,
            "role": "assistant",
            "content": [self._part(text)] if status != "in_progress" else [],
        }

    def _reasoning_item(self) -> dict[str, Any] | None:
        """The reply's reasoning output item (None when it has no native reasoning)."""
        if self.reply.reasoning is None and self.reply.redacted_reasoning is None:
            return None
        summary = [{"type": "summary_text", "text": self.reply.reasoning}] if self.reply.reasoning else []
        item: dict[str, Any] = {"type": "reasoning", "id": self.reasoning_id, "summary": summary}
        if self.reply.redacted_reasoning is not None:
            item["encrypted_content"] = self.reply.redacted_reasoning
        return item

    def response(self, final: bool = True) -> dict[str, Any]:
        body = self.request.json
        output: list[dict[str, Any]] = []
        reasoning_item = self._reasoning_item()
        if final and reasoning_item is not None:
            output.append(reasoning_item)
        if final and (self.reply.content or self.final_status == "completed"):
            output.append(
                self._message(
                    self.reply.content,
                    "completed" if self.final_status == "completed" else "incomplete",
                )
            )
        raw_reasoning = body.get("reasoning")
        reasoning: dict[str, Any] = raw_reasoning if isinstance(raw_reasoning, dict) else {}
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": self.final_status if final else "in_progress",
            "background": bool(body.get("background") or False),
            "error": None,
            "incomplete_details": self.incomplete if final else None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": self.model,
            "output": output,
            "parallel_tool_calls": bool(body.get("parallel_tool_calls", True)),
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {
                "effort": reasoning.get("effort"),
                "summary": reasoning.get("summary"),
            },
            "service_tier": "default",
            "store": bool(body.get("store", True)),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": self.usage if final else None,
            "user": None,
            "metadata": body.get("metadata") or {},
        }

    def stream_events(self) -> Iterator[tuple[str | None, str]]:
        seq = 0

        def event(kind: str, **data: Any) -> tuple[str, str]:
            nonlocal seq
            payload = {"type": kind, "sequence_number": seq, **data}
            seq += 1
            return kind, json.dumps(payload)

        yield event("response.created", response=self.response(final=False))
        yield event("response.in_progress", response=self.response(final=False))
        reasoning_item = self._reasoning_item()
        if reasoning_item is not None:
            yield event("response.output_item.added", output_index=0, item={**reasoning_item, "summary": []})
            yield event("response.output_item.done", output_index=0, item=reasoning_item)
        index = 0 if reasoning_item is None else 1
        text = self.reply.content
        if text or self.final_status == "completed":
            item_status = "completed" if self.final_status == "completed" else "incomplete"
            yield event(
                "response.output_item.added",
                output_index=index,
                item=self._message("", "in_progress"),
            )
            where = {"item_id": self.msg_id, "output_index": index, "content_index": 0}
            yield event("response.content_part.added", **where, part=self._part(""))
            for piece in _chunks(text):
                yield event("response.output_text.delta", **where, delta=piece, logprobs=[])
            yield event("response.output_text.done", **where, text=text, logprobs=[])
            yield event("response.content_part.done", **where, part=self._part(text))
            yield event(
                "response.output_item.done",
                output_index=index,
                item=self._message(text, item_status),
            )
        final_kind = "response.completed" if self.final_status == "completed" else "response.incomplete"
        yield event(final_kind, response=self.response(final=True))


# ---------------------------------------------------------------------------
# the server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    # idle keep-alive connections are dropped after this many seconds
    timeout = 60

    @property
    def fake(self) -> FakeOpenAIServer:
        return self.server.fake  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # keep test output clean

    # -- plumbing

    def _read_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = (
            payload
            if isinstance(payload, bytes)
            else (payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
        )
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-request-id", _new_id("req_"))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_sse(
        self,
        events: Iterable[tuple[str | None, str]],
        headers: dict[str, str] | None = None,
        cut_after: int | None = None,
    ) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("x-request-id", _new_id("req_"))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        for n, (event_name, data) in enumerate(events):
            if cut_after is not None and n >= cut_after:
                self.close_connection = True
                self.wfile.flush()
                self.connection.shutdown(2)  # truncated stream: no terminator, connection dropped
                return
            frame = (f"event: {event_name}\n" if event_name else "") + f"data: {data}\n\n"
            raw = frame.encode()
            self.wfile.write(f"{len(raw):X}\r\n".encode() + raw + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send_error_reply(self, reply: FakeReply) -> None:
        headers = dict(reply.headers)
        if reply.retry_after is not None:
            headers.setdefault("retry-after", str(max(0, math.ceil(reply.retry_after))))
            headers.setdefault("retry-after-ms", str(max(0, int(reply.retry_after * 1000))))
        if reply.body is not None:
            body = reply.body
        else:
            body = {
                "error": {
                    "message": reply.error_message or f"FakeOpenAIServer: scripted HTTP {reply.status} error",
                    "type": reply.error_type or _error_type(reply.status),
                    "param": reply.error_param,
                    "code": reply.error_code,
                }
            }
        self._send_json(reply.status, body, headers)

    def _send_not_found(self) -> None:
        self._send_json(
            404,
            {
                "error": {
                    "message": f"FakeOpenAIServer: no route for {self.command} {self.path}",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "unknown_url",
                }
            },
        )

    def _record(self, body: dict[str, Any]) -> FakeRequest:
        path = urlsplit(self.path).path
        route = path[3:] if path.startswith("/v1/") else path
        if self.command == "POST" and route == "/chat/completions":
            api, messages = "chat", _chat_messages(body)
        elif self.command == "POST" and route == "/responses":
            api, messages = "responses", _responses_messages(body)
        elif self.command == "POST" and route == "/responses/input_tokens":
            api, messages = "input_tokens", _responses_messages(body)
        elif self.command == "GET" and (route == "/models" or route.startswith("/models/")):
            api, messages = "models", []
        else:
            api, messages = "unknown", []
        headers: dict[str, str] = {}
        secrets: dict[str, str] = {}
        for name, value in self.headers.items():
            lname = name.lower()
            (secrets if lname in SECRET_HEADERS else headers)[lname] = value
        request = FakeRequest(
            method=self.command,
            path=path,
            api=api,
            model=body.get("model") if isinstance(body.get("model"), str) else None,
            messages=messages,
            json=body,
            headers=headers,
            stream=bool(body.get("stream") or False),
        )
        self.fake._record(request, secrets)
        return request

    # -- verbs

    def do_GET(self) -> None:  # noqa: N802
        try:
            request = self._record({})
            if request.api != "models":
                self._send_not_found()
                return
            route = request.path[3:] if request.path.startswith("/v1/") else request.path
            created = int(time.time())

            def model_obj(name: str) -> dict[str, Any]:
                return {"id": name, "object": "model", "created": created, "owned_by": "fake"}

            if route == "/models":
                self._send_json(200, {"object": "list", "data": [model_obj(m) for m in self.fake.models]})
            else:
                self._send_json(200, model_obj(route[len("/models/") :]))
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_POST(self) -> None:  # noqa: N802
        try:
            raw = self._read_body()
            try:
                body = json.loads(raw) if raw else {}
                if not isinstance(body, dict):
                    body = {}
            except ValueError:
                body = {}
            request = self._record(body)
            if request.api == "unknown":
                self._send_not_found()
                return
            if request.api == "input_tokens":
                self._send_json(
                    200,
                    {
                        "object": "response.input_tokens",
                        "input_tokens": max(1, _count_words(request.prompt_text)),
                    },
                )
                return

            if self.fake.answer_probes and request.is_inspect_probe:
                probe = _ResponsesBuilder(request, FakeReply(content="hello, world"))
                self._send_json(200, probe.response())
                return

            try:
                result = self.fake.responder(request)
                reply = FakeReply(content=result) if isinstance(result, str) else result
                if not isinstance(reply, FakeReply):
                    raise TypeError(f"responder must return str or FakeReply, not {type(result).__name__}")
            except Exception as ex:  # surface responder bugs as a 500 the test can see
                self.fake._record_error(request, ex)
                self._send_error_reply(
                    FakeReply(
                        status=500,
                        error_message=f"FakeOpenAIServer responder raised: {ex!r}",
                        error_type="server_error",
                        headers={"x-should-retry": "false"},
                    )
                )
                return
            self.fake._record_reply(reply)

            if reply.delay_s > 0:
                time.sleep(reply.delay_s)
            if reply.status != 200:
                self._send_error_reply(reply)
                return

            if reply.raw_body is not None:
                self._send_json(200, reply.raw_body, reply.headers)
                return
            builder: _ChatBuilder | _ResponsesBuilder = (
                _ChatBuilder(request, reply) if request.api == "chat" else _ResponsesBuilder(request, reply)
            )
            if request.stream:
                self._send_sse(builder.stream_events(), reply.headers, reply.stream_cut_after)
            elif isinstance(builder, _ChatBuilder):
                self._send_json(200, builder.completion(), reply.headers)
            else:
                self._send_json(200, builder.response(), reply.headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # client went away (e.g. it timed out during delay_s)


class QuietServer(ThreadingHTTPServer):
    """A threading HTTP server for the fakes: daemon threads, and a client that hung up is not an error."""

    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Server(QuietServer):
    fake: FakeOpenAIServer


class FakeServerBase:
    """Lifecycle shared by the fake servers: a scripted responder, a server thread, a context manager.

    Subclasses set ``_handler`` (their request handler class) and ``_name`` and call
    ``_setup(responder, host, port)`` from ``__init__``.
    """

    _handler: type[BaseHTTPRequestHandler]
    _server_class: type[QuietServer] = QuietServer
    _name = "FakeServer"

    def _setup(self, responder: ResponderSpec, host: str, port: int) -> None:
        self._responder = _as_responder(responder)
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._requests: list[FakeRequest] = []
        self._replies: list[FakeReply] = []
        self._server: QuietServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def responder(self) -> Responder:
        """The responder callable; assign any ``ResponderSpec`` (callable, str, list...)."""
        return self._responder

    @responder.setter
    def responder(self, spec: ResponderSpec) -> None:
        self._responder = _as_responder(spec)

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = self._server_class((self._host, self._port), self._handler)
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=self._name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self._name} is not running")
        return int(self._server.server_address[1])

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self._host}:{self.port}"


class FakeOpenAIServer(FakeServerBase):
    """A fake OpenAI-compatible server on 127.0.0.1 in a background thread.

    Args:
        responder: a callable ``(FakeRequest) -> str | FakeReply``, a constant
            ``str`` / ``FakeReply``, a list of ``str | FakeReply`` answered in
            order, or None (always "This is a fake response.").  It is called
            (from a server thread) for generation requests only: chat
            completions and responses, not /models, input_tokens or (with
            ``answer_probes``) Inspect's reasoning-summaries probe.
        models: ids listed by ``GET /v1/models``.
        answer_probes: answer Inspect's reasoning-summaries probe (see
            ``FakeRequest.is_inspect_probe``) with "hello, world" without
            calling the responder (the probe is still recorded in
            ``requests``, but not in ``generation_requests``).
        host: interface to bind (loopback by default).
        port: 0 picks a free port.

    Use as a context manager, or call ``start()`` / ``stop()``.
    """

    _name = "FakeOpenAIServer"
    _handler = _Handler
    _server_class = _Server

    def __init__(
        self,
        responder: ResponderSpec = None,
        *,
        models: Iterable[str] = DEFAULT_MODELS,
        answer_probes: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.models = list(models)
        self.answer_probes = answer_probes
        self._setup(responder, host, port)
        self._auth: list[str | None] = []
        self._errors: list[tuple[FakeRequest, BaseException, str]] = []

    # -- addresses

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: the value for OPENAI_BASE_URL / base_url."""
        return f"{self.root_url}/v1"

    def env(self, api_key: str = "test-key") -> dict[str, str]:
        """Environment variables that point the openai SDK and Inspect's openai/ provider here."""
        return {"OPENAI_API_KEY": api_key, "OPENAI_BASE_URL": self.base_url}

    # -- records

    def _record(self, request: FakeRequest, secrets: dict[str, str]) -> None:
        with self._lock:
            request.index = len(self._requests)
            self._requests.append(request)
            self._auth.append(secrets.get("authorization") or secrets.get("api-key"))

    def _record_reply(self, reply: FakeReply) -> None:
        with self._lock:
            self._replies.append(reply)

    def _record_error(self, request: FakeRequest, ex: BaseException) -> None:
        with self._lock:
            self._errors.append((request, ex, traceback.format_exc()))

    @property
    def requests(self) -> list[FakeRequest]:
        """Every request received (a snapshot copy), in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_for(self, api: str) -> list[FakeRequest]:
        """Requests to one endpoint: "chat", "responses", "input_tokens", "models"."""
        return [r for r in self.requests if r.api == api]

    @property
    def generation_requests(self) -> list[FakeRequest]:
        """Chat-completions and responses requests, less auto-answered Inspect probes."""
        return [
            r
            for r in self.requests
            if r.api in ("chat", "responses") and not (self.answer_probes and r.is_inspect_probe)
        ]

    @property
    def auth_headers(self) -> list[str | None]:
        """The Authorization (or Azure ``api-key``) header of each request, same order."""
        with self._lock:
            return list(self._auth)

    @property
    def api_keys(self) -> list[str | None]:
        """The bearer tokens of ``auth_headers`` (the "Bearer " prefix removed)."""
        return [
            h[len("Bearer ") :] if h is not None and h.startswith("Bearer ") else h for h in self.auth_headers
        ]

    @property
    def replies(self) -> list[FakeReply]:
        """The replies the responder produced, in order."""
        with self._lock:
            return list(self._replies)

    @property
    def errors(self) -> list[tuple[FakeRequest, BaseException, str]]:
        """(request, exception, traceback) for each time the responder raised."""
        with self._lock:
            return list(self._errors)

    def reset(self) -> None:
        """Forget recorded requests, keys, replies and errors."""
        with self._lock:
            self._requests.clear()
            self._auth.clear()
            self._replies.clear()
            self._errors.clear()
