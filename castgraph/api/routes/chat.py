"""``POST /api/chat``: a cited answer, streamed as server-sent events or as one JSON object."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from castgraph.api.admission import Admitted
from castgraph.api.chat_schemas import ChatRequest, ChatResponse, Source
from castgraph.api.deps import AnswersDep, CatalogDep
from castgraph.api.filters import resolve_episodes
from castgraph.api.ratelimit import ChatRateLimit
from castgraph.api.schemas import DegradedOut, ErrorOut
from castgraph.api.streaming import relay
from castgraph.retrieval.answer import AnswerEvent

router = APIRouter(prefix="/api", tags=["chat"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No episode has a filter's id or prefix"},
    422: {"model": ErrorOut, "description": "Malformed request"},
    429: {"model": ErrorOut, "description": "Too many questions from this client (Retry-After)"},
    503: {
        "model": ErrorOut,
        "description": "The server is busy (Retry-After), or the LLM endpoint failed",
    },
}


@router.post(
    "/chat",
    response_model=ChatResponse,
    dependencies=[ChatRateLimit, Admitted],
    responses={
        **_ERRORS,
        200: {"content": {"text/event-stream": {}}, "description": "SSE when stream is true"},
    },
)
async def chat(
    body: ChatRequest, request: Request, answers: AnswersDep, catalog: CatalogDep
) -> Any:
    """Answer ``question`` from the episodes. SSE events: ``context`` ``{"blocks": [...]}`` (the
    numbered excerpts consulted), ``token`` ``{"text"}``, ``revised`` ``{"text", "dropped"}`` (the
    whole answer again, without claims whose figures no cited moment states), ``sources``
    ``{"sources": [...]}``, ``done`` ``{"fallback"}``, or ``error`` ``{"message", "status"}``."""
    given = body.filters.to_filters() if body.filters else None
    filters = await run_in_threadpool(resolve_episodes, catalog, given)
    prepared = await run_in_threadpool(answers.prepare, body.question, body.turns(), filters)
    if not body.stream:
        result = await run_in_threadpool(_collect, answers.generate(prepared))
        return result
    events = answers.generate(prepared)
    return StreamingResponse(
        relay(request, events, sse, sse_error),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def sse(event: AnswerEvent) -> str:
    """One server-sent event."""
    if event.kind == "token":
        data: dict[str, Any] = {"text": event.text}
    elif event.kind == "sources":
        data = {"sources": [Source.of(b).model_dump() for b in event.sources]}
    elif event.kind == "revised":
        data = {"text": event.text, "dropped": event.info.get("dropped", [])}
    elif event.kind == "context":
        data = {
            "blocks": [Source.of(b).model_dump(exclude={"context"}) for b in event.sources],
            "degraded": event.info.get("degraded", []),
        }
    elif event.kind == "error":
        data = {"message": event.text, "status": event.info.get("status", 503)}
    else:
        data = dict(event.info)
    return f"event: {event.kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def sse_error(status: int, message: str) -> list[str]:
    """The stream's last event when it fails after it began: as a generation error's."""
    return [sse(AnswerEvent("error", message, info={"status": status}))]


def _collect(events: Any) -> ChatResponse:
    from castgraph.core.errors import GenerationError

    text: list[str] = []
    sources: list[Source] = []
    degraded: list[DegradedOut] = []
    for event in events:
        if event.kind == "error":
            raise GenerationError(event.text)
        if event.kind == "context":
            degraded = [DegradedOut(**d) for d in event.info.get("degraded", [])]
        elif event.kind == "token":
            text.append(event.text)
        elif event.kind == "revised":
            text = [event.text]
        elif event.kind == "sources":
            sources = [Source.of(b) for b in event.sources]
    return ChatResponse(answer="".join(text), sources=sources, degraded=degraded)
