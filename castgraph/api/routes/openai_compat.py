"""``POST /v1/chat/completions`` and ``GET /v1/models``: castgraph as an OpenAI-compatible model.

The last user message is the question, earlier user/assistant messages are the history; system
messages from the client are ignored (castgraph's own rules apply). The cited moments are appended
to the answer as a list of links, absolute (against CASTGRAPH_PUBLIC_URL, else the request's base
URL): a chat client shows them outside castgraph, where ``/media/…`` would lead nowhere.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from castgraph.api.admission import Admitted
from castgraph.api.chat_schemas import CompletionRequest
from castgraph.api.deps import AnswersDep, SettingsDep
from castgraph.api.errors import openai_error
from castgraph.api.media import absolute_link
from castgraph.api.ratelimit import ChatRateLimit
from castgraph.api.streaming import relay
from castgraph.core.errors import GenerationError, InputError
from castgraph.core.models import ChatMessage, ContextBlock
from castgraph.core.timefmt import clock
from castgraph.retrieval.answer import AnswerEvent

router = APIRouter(prefix="/v1", tags=["openai-compatible"])
MODEL = "castgraph"
_DONE = "data: [DONE]\n\n"


@router.get("/models")
async def models() -> dict[str, Any]:
    """The one model castgraph serves."""
    return {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "castgraph"}]}


@router.post(
    "/chat/completions",
    dependencies=[ChatRateLimit, Admitted],
    responses={  # bodies in OpenAI's envelope (castgraph.api.openapi_doc)
        429: {"description": "Too many questions from this client (Retry-After)"},
        503: {"description": "The server is busy, or the answer model is unavailable"},
    },
)
async def completions(
    body: CompletionRequest, request: Request, answers: AnswersDep, settings: SettingsDep
) -> Any:
    """A cited answer in OpenAI's chat completion format (``stream`` for SSE chunks)."""
    base = settings.public_url or str(request.base_url)
    # Errors before the stream begins go to the app's handlers: the same status as /api, in
    # OpenAI's envelope (castgraph.api.errors).
    question, history = _conversation(body)
    prepared = await run_in_threadpool(answers.prepare, question, history)
    if not body.stream:
        text = await run_in_threadpool(_collect, answers.generate(prepared), base)
        return _completion(body.model, text)
    chunks = _chunks(body.model, answers.generate(prepared), base)
    return StreamingResponse(
        relay(request, chunks, str, error_chunks), media_type="text/event-stream"
    )


def error_chunks(status: int, message: str) -> list[str]:
    """How a stream that already began ends on a failure: an error chunk in OpenAI's envelope,
    then ``[DONE]``, so a client's read loop ends as usual and shows the message."""
    return [f"data: {json.dumps(openai_error(status, message), ensure_ascii=False)}\n\n", _DONE]


def _conversation(body: CompletionRequest) -> tuple[str, list[ChatMessage]]:
    turns = [m for m in body.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
        raise InputError("the last message must be a non-empty user message: the question")
    history = [ChatMessage(m.role, m.text()) for m in turns[:-1]]
    return turns[-1].text(), history


def sources_text(sources: tuple[ContextBlock, ...], base: str) -> str:
    """The cited moments as a list of links (``/media`` ones made absolute), after the answer."""
    if not sources:
        return ""
    # Each line is the cited moment (its own second and speaker), not the block's start.
    lines = [
        f"[{b.number}] {b.citation.title} — {b.citation.speaker or '?'} — "
        f"{clock(b.citation.start)} — {absolute_link(b.citation.link, base)}"
        for b in sources
    ]
    return "\n\nSources:\n" + "\n".join(lines)


def revision_note(dropped: object) -> str:
    """Streamed text cannot be taken back: say which claims the post-check withdrew."""
    claims = [str(c) for c in dropped] if isinstance(dropped, list) else []
    return (
        "\n\n(Withdrawn, the cited moments do not state these figures: " + " | ".join(claims) + ")"
    )


def _collect(events: Iterator[AnswerEvent], base: str) -> str:
    text: list[str] = []
    for event in events:
        if event.kind == "error":
            raise GenerationError(event.text)
        if event.kind == "token":
            text.append(event.text)
        elif event.kind == "revised":
            text = [event.text]
        elif event.kind == "sources":
            text.append(sources_text(event.sources, base))
    return "".join(text)


def _completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def _chunks(model: str, events: Iterator[AnswerEvent], base: str) -> Iterator[str]:
    ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        payload = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        for event in events:
            if event.kind == "token":
                yield chunk({"content": event.text})
            elif event.kind == "revised":
                yield chunk({"content": revision_note(event.info.get("dropped", []))})
            elif event.kind == "sources" and event.sources:
                yield chunk({"content": sources_text(event.sources, base)})
            elif event.kind == "error":
                status = event.info.get("status")
                yield from error_chunks(status if isinstance(status, int) else 503, event.text)
                return
        yield chunk({}, "stop")
        yield _DONE
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
