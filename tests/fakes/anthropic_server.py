"""A loopback fake of the Anthropic Messages API for offline tests (standard library only).

Serves ``POST /v1/messages`` (plain JSON, or SSE when ``"stream": true``, which Inspect's anthropic
provider uses for large ``max_tokens``), ``POST /v1/messages/count_tokens`` and ``GET /v1/models``.
Replies are scripted by a responder exactly as for :class:`fakes.openai_server.FakeOpenAIServer`
(``FakeRequest`` in, ``str | FakeReply`` out; ``api`` is ``"messages"``). ``FakeReply.reasoning``
becomes a ``thinking`` block (with a signature) and ``FakeReply.redacted_reasoning`` a
``redacted_thinking`` block, both before the text block (streamed as Anthropic streams them). Credentials
(``x-api-key`` / ``Authorization``) are kept out of ``FakeRequest.headers`` and recorded apart.

Usage::

    with FakeAnthropicServer(lambda req: "hello") as server:
        env = server.env()  # ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from .openai_server import (
    SECRET_HEADERS,
    FakeReply,
    FakeRequest,
    FakeServerBase,
    QuietServer,
    ResponderSpec,
    _count_words,
    _new_id,
)

__all__ = ["FakeAnthropicServer"]

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "content_filter": "refusal"}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict):
                if block.get("type") == "text":
                    parts.append(str(block.get("text", "")))
                elif block.get("type") == "tool_result":
                    parts.append(_text(block.get("content")))
                elif block.get("type") == "tool_use":
                    parts.append(f"[tool_call {block.get('name')}({json.dumps(block.get('input'))})]")
        return "\n".join(parts)
    return ""


def _thinking_blocks(reply: FakeReply) -> list[dict[str, Any]]:
    """The reply's native reasoning as Anthropic content blocks (``thinking``, then ``redacted_thinking``)."""
    blocks: list[dict[str, Any]] = []
    if reply.reasoning is not None:
        signature = "sig-" + _new_id("")
        blocks.append({"type": "thinking", "thinking": reply.reasoning, "signature": signature})
    if reply.redacted_reasoning is not None:
        blocks.append({"type": "redacted_thinking", "data": reply.redacted_reasoning})
    return blocks


def _block_events(index: int, block: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Stream events of one thinking / redacted_thinking block."""
    start = {**block, "thinking": "", "signature": ""} if block["type"] == "thinking" else block
    yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": start}
    if block["type"] == "thinking":
        for delta in (
            {"type": "thinking_delta", "thinking": block["thinking"]},
            {"type": "signature_delta", "signature": block["signature"]},
        ):
            yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
    yield "content_block_stop", {"type": "content_block_stop", "index": index}


def _messages(body: dict[str, Any]) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    system = _text(body.get("system"))
    if system:
        out.append({"role": "system", "content": system})
    for m in body.get("messages") or []:
        if isinstance(m, dict):
            out.append({"role": str(m.get("role", "user")), "content": _text(m.get("content"))})
    return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", _new_id("req_"))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _record(self, body: dict[str, Any]) -> FakeRequest:
        path = urlsplit(self.path).path
        route = path[3:] if path.startswith("/v1/") else path
        api = {"/messages": "messages", "/messages/count_tokens": "count_tokens"}.get(route, "unknown")
        if self.command == "GET" and route.startswith("/models"):
            api = "models"
        headers: dict[str, str] = {}
        secrets: dict[str, str] = {}
        for name, value in self.headers.items():
            (secrets if name.lower() in SECRET_HEADERS else headers)[name.lower()] = value
        request = FakeRequest(
            method=self.command,
            path=path,
            api=api,
            model=body.get("model") if isinstance(body.get("model"), str) else None,
            messages=_messages(body) if api in ("messages", "count_tokens") else [],
            json=body,
            headers=headers,
            stream=bool(body.get("stream")),
        )
        fake = self.server.fake
        with fake._lock:
            request.index = len(fake._requests)
            fake._requests.append(request)
            fake._secrets.append(secrets)
        return request

    def do_GET(self) -> None:  # noqa: N802
        self._record({})
        self._send(
            200, {"data": [{"type": "model", "id": m, "display_name": m} for m in self.server.fake.models]}
        )

    def do_POST(self) -> None:  # noqa: N802
        try:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                body = {}
            request = self._record(body if isinstance(body, dict) else {})
            if request.api == "count_tokens":
                self._send(200, {"input_tokens": max(1, _count_words(request.prompt_text))})
                return
            if request.api != "messages":
                self._error(FakeReply(status=404, error_message=f"no route for POST {self.path}"))
                return
            try:
                result = self.server.fake.responder(request)
                reply = FakeReply(content=result) if isinstance(result, str) else result
            except Exception as ex:  # surface responder bugs as a 500
                self._error(
                    FakeReply(status=500, error_message=f"FakeAnthropicServer responder raised: {ex!r}")
                )
                return
            with self.server.fake._lock:
                self.server.fake._replies.append(reply)
            if reply.delay_s > 0:
                time.sleep(reply.delay_s)
            if reply.status != 200:
                self._error(reply)
            elif reply.raw_body is not None:
                self._send(200, reply.raw_body, reply.headers)
            elif request.stream:
                self._stream(request, reply)
            else:
                self._send(200, self._message(request, reply), reply.headers)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _error(self, reply: FakeReply) -> None:
        headers = dict(reply.headers)
        if reply.retry_after is not None:
            headers.setdefault("retry-after", str(max(0, int(reply.retry_after + 0.999))))
        body = reply.body or {
            "type": "error",
            "error": {
                "type": reply.error_type or ERROR_TYPES.get(reply.status, "api_error"),
                "message": reply.error_message or f"FakeAnthropicServer: scripted HTTP {reply.status} error",
            },
        }
        self._send(reply.status, body, headers)

    @staticmethod
    def _usage(request: FakeRequest, reply: FakeReply) -> tuple[int, int]:
        inp = (
            reply.prompt_tokens
            if reply.prompt_tokens is not None
            else max(1, _count_words(request.prompt_text))
        )
        out = reply.completion_tokens if reply.completion_tokens is not None else _count_words(reply.content)
        return inp, out

    def _message(self, request: FakeRequest, reply: FakeReply, final: bool = True) -> dict[str, Any]:
        inp, out = self._usage(request, reply)
        return {
            "id": _new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": reply.model or request.model or "claude-fake",
            "content": [*_thinking_blocks(reply), {"type": "text", "text": reply.content}] if final else [],
            "stop_reason": STOP_REASONS.get(reply.finish_reason, reply.finish_reason) if final else None,
            "stop_sequence": None,
            "usage": {"input_tokens": inp, "output_tokens": out if final else 1},
        }

    def _events(self, request: FakeRequest, reply: FakeReply) -> Iterator[tuple[str, dict[str, Any]]]:
        _, out = self._usage(request, reply)
        yield (
            "message_start",
            {"type": "message_start", "message": self._message(request, reply, final=False)},
        )
        thinking = _thinking_blocks(reply)
        for index, block in enumerate(thinking):
            yield from _block_events(index, block)
        index = len(thinking)
        yield (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "text", "text": ""},
            },
        )
        text = reply.content
        for i in range(0, len(text), 16):
            delta = {"type": "text_delta", "text": text[i : i + 16]}
            yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
        yield (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": STOP_REASONS.get(reply.finish_reason, reply.finish_reason),
                    "stop_sequence": None,
                },
                "usage": {"output_tokens": out},
            },
        )
        yield "message_stop", {"type": "message_stop"}

    def _stream(self, request: FakeRequest, reply: FakeReply) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        for n, (event, data) in enumerate(self._events(request, reply)):
            if reply.stream_cut_after is not None and n >= reply.stream_cut_after:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            frame = f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()
            self.wfile.write(f"{len(frame):X}\r\n".encode() + frame + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Server(QuietServer):
    fake: FakeAnthropicServer


class FakeAnthropicServer(FakeServerBase):
    """The fake Messages API server; a context manager (``start()`` / ``stop()`` also work)."""

    _name = "FakeAnthropicServer"
    _handler = _Handler
    _server_class = _Server

    def __init__(
        self,
        responder: ResponderSpec = "Hello from FakeAnthropicServer.",
        models: tuple[str, ...] = ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-3-5-haiku-latest"),
        host: str = "127.0.0.1",
    ) -> None:
        self.models = models
        self._setup(responder, host, 0)
        self._secrets: list[dict[str, str]] = []

    @property
    def base_url(self) -> str:
        """Root URL (the anthropic SDK appends ``/v1/messages`` itself)."""
        assert self._server is not None, "server not started"
        return self.root_url

    def env(self, api_key: str = "test-key") -> dict[str, str]:
        return {"ANTHROPIC_API_KEY": api_key, "ANTHROPIC_BASE_URL": self.base_url}

    @property
    def requests(self) -> list[FakeRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def generation_requests(self) -> list[FakeRequest]:
        return [r for r in self.requests if r.api == "messages"]

    @property
    def api_keys(self) -> list[str | None]:
        with self._lock:
            return [
                s.get("x-api-key") or (s.get("authorization") or "").removeprefix("Bearer ") or None
                for s in self._secrets
            ]

    @property
    def replies(self) -> list[FakeReply]:
        with self._lock:
            return list(self._replies)
