"""Answers from any OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, llama.cpp server).

The official ``openai`` client is imported lazily (extra ``llm``). Every failure, before the first
token or in the middle of the stream, surfaces as ``GenerationError`` with a message that names the
endpoint and the setting to check. Closing the returned iterator early closes the HTTP stream, so
a client that disconnects stops generation upstream.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

from castgraph.core.errors import DependencyError, GenerationError
from castgraph.core.models import AnswerRequest, ChatMessage

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

PLACEHOLDER_API_KEY = "not-needed"
"""Sent when no key is configured: local servers (Ollama, llama.cpp, vLLM) ignore it."""

_BASE_URL_HINT = "check CASTGRAPH_LLM_BASE_URL and that the server is running"


def _import_openai() -> Any:
    try:
        import openai
    except ImportError as exc:
        raise DependencyError("openai", "llm") from exc
    return openai


class OpenAICompatibleGenerator:
    """Streams a chat completion from ``base_url`` (ending in ``/v1``) with ``model``."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        timeout: float = 60,
        max_tokens: int = 512,
        temperature: float = 0.1,
        max_retries: int = 2,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key or PLACEHOLDER_API_KEY
        self.timeout = timeout
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.max_retries = max_retries
        self._client: openai.OpenAI | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Create the HTTP client (no request is sent: the endpoint is checked on first use)."""
        self._get_client()

    def close(self) -> None:
        """Release the client's connection pool."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def stream(self, request: AnswerRequest) -> Iterator[str]:
        """Yield the answer's text deltas; raise ``GenerationError`` when the endpoint fails."""
        return self._stream(_messages(request))

    def _get_client(self) -> openai.OpenAI:
        with self._lock:
            if self._client is None:
                module = _import_openai()
                self._client = cast(
                    "openai.OpenAI",
                    module.OpenAI(
                        base_url=self.base_url,
                        api_key=self._api_key,
                        timeout=self.timeout,
                        max_retries=self.max_retries,
                    ),
                )
            return self._client

    def _stream(self, messages: list[ChatCompletionMessageParam]) -> Iterator[str]:
        client = self._get_client()
        openai_module = _import_openai()
        try:
            chunks = client.chat.completions.create(
                model=self.model,
                messages=messages,
                stream=True,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
            )
        except openai_module.OpenAIError as exc:
            raise self._error(exc, started=False) from exc
        try:
            yield from self._deltas(chunks, openai_module)
        finally:
            chunks.close()

    def _deltas(self, chunks: Iterator[ChatCompletionChunk], openai_module: Any) -> Iterator[str]:
        finished = False
        try:
            for chunk in chunks:
                for choice in chunk.choices:
                    finished = finished or choice.finish_reason is not None
                    if choice.delta is not None and choice.delta.content:
                        yield choice.delta.content
        except (openai_module.OpenAIError, ValueError) as exc:
            raise self._error(exc, started=True) from exc
        if not finished:
            raise GenerationError(
                f"the LLM endpoint {self.base_url} ended the stream before the answer was "
                "complete (no finish_reason): the server may have stopped or crashed"
            )

    def _error(self, exc: Exception, *, started: bool) -> GenerationError:
        """A ``GenerationError`` whose message says what failed and what to check."""
        openai_module = _import_openai()
        where = f"the LLM endpoint {self.base_url}"
        when = " while streaming the answer" if started else ""
        if isinstance(exc, openai_module.APITimeoutError):
            return GenerationError(
                f"{where} timed out after {self.timeout:g}s{when}: {_BASE_URL_HINT}, "
                "or raise CASTGRAPH_LLM_TIMEOUT"
            )
        if isinstance(exc, openai_module.APIConnectionError):
            cause = _cause(exc)
            if started:
                return GenerationError(
                    f"the connection to {where} broke while streaming the answer ({cause}): "
                    "the server may have stopped or crashed"
                )
            return GenerationError(f"cannot reach {where} ({cause}): {_BASE_URL_HINT}")
        if isinstance(exc, openai_module.APIStatusError):
            return self._status_error(exc.status_code, _api_message(exc))
        if isinstance(exc, openai_module.APIError):
            return GenerationError(f"{where} failed{when}: {_api_message(exc)}")
        return GenerationError(f"{where} sent a response that could not be read{when}: {exc}")

    def _status_error(self, status: int, message: str) -> GenerationError:
        where = f"the LLM endpoint {self.base_url}"
        if status in (401, 403):
            return GenerationError(
                f"{where} refused the API key (HTTP {status}: {message}): "
                "check CASTGRAPH_LLM_API_KEY"
            )
        if status == 404:
            return GenerationError(
                f"model '{self.model}' was not found at {self.base_url} (HTTP 404: {message}): "
                "check CASTGRAPH_LLM_MODEL, and that CASTGRAPH_LLM_BASE_URL ends in /v1"
            )
        return GenerationError(f"{where} answered HTTP {status}: {message}")


def _messages(request: AnswerRequest) -> list[ChatCompletionMessageParam]:
    """The request's chat messages as the API's dicts (the default prompt when it has none)."""
    messages: Sequence[ChatMessage] = request.messages
    if not messages:
        from castgraph.retrieval.generation.prompt import build_messages

        messages = build_messages(request.question, request.language, request.blocks)
    return [
        cast("ChatCompletionMessageParam", {"role": m.role, "content": m.content}) for m in messages
    ]


def _api_message(exc: Any) -> str:
    """The server's own error message (OpenAI's ``{"error": {"message": ...}}``) or the text."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(getattr(exc, "message", "") or exc)


def _cause(exc: BaseException) -> str:
    """The innermost cause's text (``Connection refused``, a DNS error), else the error's."""
    inner: BaseException = exc
    while inner.__cause__ is not None:
        inner = inner.__cause__
    text = str(inner) or type(inner).__name__
    return text if inner is exc else f"{type(inner).__name__}: {text}"
