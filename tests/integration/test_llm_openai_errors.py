"""The OpenAI-compatible generator against real HTTP servers on loopback (no client mocks).

A stdlib ``http.server`` speaks the OpenAI wire format: JSON errors in OpenAI's shape, and
``chat.completion.chunk`` server-sent events in chunked transfer encoding. The request's model
name picks the server's behaviour.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Generator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from castgraph.core.errors import GenerationError
from castgraph.core.models import AnswerRequest, ChatMessage, Citation, ContextBlock

pytest.importorskip("openai", reason="openai is not installed: pip install 'castgraph[llm]'")

from castgraph.retrieval.generation.openai_compat import (
    PLACEHOLDER_API_KEY,
    OpenAICompatibleGenerator,
)
from tests.netutil import free_port, serving

pytestmark = pytest.mark.integration

TOKENS = ["Ana ", "says ", "the launch ", "is in May ", "[1]", "."]
SLOW_CHUNKS = 200
SLOW_INTERVAL = 0.05


class OpenAIWireServer(ThreadingHTTPServer):
    """Records requests and whether a streaming client went away before the end."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.disconnected = threading.Event()
        self.slow_chunks_sent = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: OpenAIWireServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows failures, not access logs."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
        if self.path != "/v1/chat/completions":
            self._error(404, f"unknown path {self.path}", "invalid_request_error")
            return
        behaviour = _BEHAVIOURS.get(str(body.get("model")), _Handler._stream_ok)
        behaviour(self)

    def _error(self, status: int, message: str, kind: str, code: str | None = None) -> None:
        payload = json.dumps({"error": {"message": message, "type": kind, "code": code}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _start_sse(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

    def _send(self, data: str) -> None:
        raw = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
        self.wfile.flush()

    def _end(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _stream_ok(self) -> None:
        self._start_sse()
        self._send(_chunk({"role": "assistant", "content": ""}))
        for token in TOKENS:
            self._send(_chunk({"content": token}))
        self._send(_chunk({}, finish_reason="stop"))
        self._send("[DONE]")
        self._end()

    def _stream_breaks(self) -> None:
        """Two tokens, then the socket closes without ending the chunked body."""
        self._start_sse()
        for token in TOKENS[:2]:
            self._send(_chunk({"content": token}))
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _stream_truncated(self) -> None:
        """A well-formed body that stops before the model finished (no finish_reason)."""
        self._start_sse()
        for token in TOKENS[:2]:
            self._send(_chunk({"content": token}))
        self._end()

    def _stream_error_event(self) -> None:
        """A token, then an error event in the middle of the stream (as vLLM sends them)."""
        self._start_sse()
        self._send(_chunk({"content": TOKENS[0]}))
        self._send(json.dumps({"error": {"message": "CUDA out of memory", "type": "server"}}))
        self._end()

    def _stream_slow(self) -> None:
        """Many tokens, slowly, until the client goes away (recorded) or the chunks run out."""
        self._start_sse()
        try:
            for i in range(SLOW_CHUNKS):
                self._send(_chunk({"content": f"t{i} "}))
                self.server.slow_chunks_sent = i + 1
                time.sleep(SLOW_INTERVAL)
            self._send(_chunk({}, finish_reason="stop"))
            self._send("[DONE]")
            self._end()
        except OSError:
            self.server.disconnected.set()
            self.close_connection = True

    def _hang(self) -> None:
        time.sleep(2.0)
        with contextlib.suppress(OSError):
            self._error(500, "too late", "server_error")


_BEHAVIOURS = {
    "unauthorized": lambda h: h._error(401, "Invalid API key", "invalid_request_error"),
    "forbidden": lambda h: h._error(403, "Project lacks access", "invalid_request_error"),
    "missing": lambda h: h._error(
        404, "The model `missing` does not exist", "invalid_request_error", "model_not_found"
    ),
    "boom": lambda h: h._error(500, "Internal failure in the engine", "server_error"),
    "breaks": _Handler._stream_breaks,
    "truncated": _Handler._stream_truncated,
    "error-event": _Handler._stream_error_event,
    "slow": _Handler._stream_slow,
    "hang": _Handler._hang,
}


def _chunk(delta: dict[str, str], finish_reason: str | None = None) -> str:
    return json.dumps(
        {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": "test",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
    )


@pytest.fixture
def server() -> Iterator[OpenAIWireServer]:
    httpd = OpenAIWireServer()
    with serving(httpd):
        yield httpd


def _request() -> AnswerRequest:
    citation = Citation(
        "ep1",
        "Launch talk",
        "https://example.org/v",
        "https://example.org/v#t=12",
        "Ana",
        12.0,
        20.0,
        "The launch is planned for May.",
    )
    messages = (
        ChatMessage("system", "Answer from the numbered excerpts and cite them as [n]."),
        ChatMessage("user", "[1] Ana (00:12): The launch is planned for May.\n\nWhen is it?"),
    )
    return AnswerRequest("When is the launch?", "en", (ContextBlock(1, citation),), messages)


def _generator(base_url: str, model: str, **kwargs: Any) -> OpenAICompatibleGenerator:
    return OpenAICompatibleGenerator(base_url, model, max_retries=0, **kwargs)


def _answer(generator: OpenAICompatibleGenerator) -> str:
    return "".join(generator.stream(_request()))


def test_streams_tokens_of_a_valid_sse_sequence(server: OpenAIWireServer) -> None:
    generator = _generator(server.base_url, "ok", max_tokens=64, temperature=0.0)
    assert _answer(generator) == "".join(TOKENS)
    headers, body = server.requests[-1]
    assert headers["authorization"] == f"Bearer {PLACEHOLDER_API_KEY}"
    assert body["stream"] is True
    assert body["model"] == "ok"
    assert body["max_tokens"] == 64
    assert body["messages"] == [{"role": m.role, "content": m.content} for m in _request().messages]


def test_sends_the_configured_api_key(server: OpenAIWireServer) -> None:
    generator = _generator(server.base_url, "ok", api_key="sk-test-123")
    assert _answer(generator) == "".join(TOKENS)
    assert server.requests[-1][0]["authorization"] == "Bearer sk-test-123"


def test_connection_refused_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(GenerationError) as caught:
        _answer(_generator(url, "ok"))
    message = str(caught.value)
    assert url in message
    assert "CASTGRAPH_LLM_BASE_URL" in message
    assert "running" in message


@pytest.mark.parametrize(("model", "status"), [("unauthorized", 401), ("forbidden", 403)])
def test_auth_errors_point_at_the_api_key(
    server: OpenAIWireServer, model: str, status: int
) -> None:
    with pytest.raises(GenerationError) as caught:
        _answer(_generator(server.base_url, model))
    assert "CASTGRAPH_LLM_API_KEY" in str(caught.value)
    assert f"HTTP {status}" in str(caught.value)


def test_unknown_model_is_named(server: OpenAIWireServer) -> None:
    with pytest.raises(GenerationError) as caught:
        _answer(_generator(server.base_url, "missing"))
    message = str(caught.value)
    assert "model 'missing' was not found" in message
    assert "does not exist" in message  # the server's own message


def test_server_error_carries_status_and_message(server: OpenAIWireServer) -> None:
    with pytest.raises(GenerationError) as caught:
        _answer(_generator(server.base_url, "boom"))
    assert "HTTP 500" in str(caught.value)
    assert "Internal failure in the engine" in str(caught.value)


def test_wrong_path_is_a_clear_404(server: OpenAIWireServer) -> None:
    base = server.base_url.removesuffix("/v1")
    with pytest.raises(GenerationError, match="ends in /v1"):
        _answer(_generator(base, "ok"))


@pytest.mark.parametrize("model", ["breaks", "truncated", "error-event"])
def test_stream_failing_midway_is_a_generation_error(server: OpenAIWireServer, model: str) -> None:
    received: list[str] = []
    with pytest.raises(GenerationError) as caught:
        received.extend(_generator(server.base_url, model).stream(_request()))
    assert server.base_url in str(caught.value)
    if model == "error-event":
        assert "CUDA out of memory" in str(caught.value)


def test_tokens_before_a_midway_break_were_yielded(server: OpenAIWireServer) -> None:
    received: list[str] = []
    with pytest.raises(GenerationError, match="while streaming"):
        for piece in _generator(server.base_url, "breaks").stream(_request()):
            received.append(piece)
    assert received == TOKENS[:2]


def test_timeout_is_a_generation_error(server: OpenAIWireServer) -> None:
    with pytest.raises(GenerationError, match=r"timed out after 0\.5s"):
        _answer(_generator(server.base_url, "hang", timeout=0.5))


def test_closing_the_iterator_closes_the_connection(server: OpenAIWireServer) -> None:
    stream = _generator(server.base_url, "slow").stream(_request())
    assert isinstance(stream, Generator)
    assert [next(stream), next(stream)] == ["t0 ", "t1 "]
    stream.close()
    assert server.disconnected.wait(timeout=10), "the server never saw the client go away"
    assert server.slow_chunks_sent < SLOW_CHUNKS


def test_nothing_is_sent_until_iteration_starts(server: OpenAIWireServer) -> None:
    generator = _generator(server.base_url, "ok")
    generator.load()
    stream = generator.stream(_request())
    assert server.requests == []
    assert "".join(stream) == "".join(TOKENS)
    generator.close()
