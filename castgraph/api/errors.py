"""The one mapping from castgraph's exception tree (``core/errors.py``) to HTTP.

Every error response is built here, for ``/api``, ``/v1`` and ``/media`` alike: the status
comes from the exception's class, the body is ``{"detail": message}`` (FastAPI's shape, plus
``errors`` for a validation error) or, under ``/v1``, OpenAI's envelope
``{"error": {"message", "type", "code"}}`` with the same status, so an OpenAI client shows
castgraph's sentence. An exception castgraph did not raise on purpose is a 500 whose body says
nothing of the internals (the log has them). A failure inside a stream, after the 200 went out,
is logged here and rendered by the route as its stream's final error event.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from castgraph.core.errors import (
    BusyError,
    CastgraphError,
    DependencyError,
    GenerationError,
    InputError,
    LockedError,
    MediaError,
    ModelError,
    NotFoundError,
    SourceError,
    StorageError,
)

log = logging.getLogger(__name__)

STATUS: tuple[tuple[type[CastgraphError], int], ...] = (
    (InputError, 422),
    (MediaError, 422),  # the given file is not usable media: the request's fault
    (NotFoundError, 404),
    (LockedError, 409),  # before StorageError, its parent
    (SourceError, 502),  # the upstream source failed, not castgraph
    (DependencyError, 503),
    (ModelError, 503),
    (StorageError, 503),
    (GenerationError, 503),
)
"""First match wins (subclasses first); any other CastgraphError is 500."""

INTERNAL = "internal server error: the server's log has the details"
_OPENAI_TYPES = {401: "invalid_api_key", 404: "not_found_error", 429: "rate_limit_exceeded"}


def status_of(exc: BaseException) -> int:
    """The HTTP status for an exception: from the castgraph tree, else 500."""
    if isinstance(exc, CastgraphError):
        return next((code for kind, code in STATUS if isinstance(exc, kind)), 500)
    return 500


def headers_of(exc: BaseException) -> dict[str, str] | None:
    """``Retry-After`` for a busy local model (its line of answers is full), as for a full
    server (``admission``): the message says the same in words."""
    return {"Retry-After": str(exc.retry_after)} if isinstance(exc, BusyError) else None


def message_of(exc: BaseException) -> str:
    """What a client may read: castgraph's own sentence, never an unexpected error's text."""
    return str(exc) if isinstance(exc, CastgraphError) else INTERNAL


def openai_error(status: int, message: str) -> dict[str, Any]:
    """OpenAI's error envelope (what its clients show as ``error.message``)."""
    fallback = "server_error" if status >= 500 else "invalid_request_error"
    kind = _OPENAI_TYPES.get(status, fallback)
    return {"error": {"message": message, "type": kind, "code": status}}


def error_body(path: str, status: int, message: str) -> dict[str, Any]:
    """The error body of ``path``'s API family: OpenAI's under ``/v1``, ``{"detail"}`` else."""
    return openai_error(status, message) if path.startswith("/v1/") else {"detail": message}


def error_response(
    request: Request,
    status: int,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """The error body of ``request``'s API family (``error_body``), with ``extra`` outside /v1."""
    body = error_body(request.url.path, status, message)
    if "detail" in body:
        body.update(extra or {})
    return JSONResponse(body, status, headers=headers)


def stream_failed(request: Request, exc: BaseException) -> tuple[int, str]:
    """Log a failure that happened after a stream began; (status, message) for its error event."""
    status = status_of(exc)
    log.error(
        "stream failed",
        exc_info=exc if status >= 500 and not isinstance(exc, CastgraphError) else None,
        extra={
            "path": request.url.path,
            "status": status,
            "error_type": type(exc).__name__,
            "error": str(exc),
        },
    )
    return status, message_of(exc)


def install(app: FastAPI) -> None:
    """Register the handlers: castgraph errors, validation, HTTP exceptions, anything else."""
    app.add_exception_handler(CastgraphError, _castgraph_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


async def _castgraph_error(request: Request, exc: CastgraphError) -> JSONResponse:
    return error_response(request, status_of(exc), str(exc), headers=headers_of(exc))


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """Raised by FastAPI, auth, rate limits, admission: headers (Retry-After…) are kept."""
    unreadable = _unreadable_body(exc)
    if unreadable is not None:
        return error_response(request, 400, unreadable)
    if not request.url.path.startswith("/v1/"):
        return await http_exception_handler(request, exc)  # {"detail"}; no body on 204/304
    return error_response(request, exc.status_code, str(exc.detail), headers=exc.headers)


def _unreadable_body(exc: StarletteHTTPException) -> str | None:
    """What is wrong with a body FastAPI could not decode (its 400 says only "There was an error
    parsing the body"; the cause is the decoder's exception), None for any other exception."""
    if exc.status_code != 400:
        return None
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return f"the request body is not valid UTF-8 (byte {cause.start}); send UTF-8 JSON"
    if isinstance(cause, RecursionError):
        return "the JSON body is nested too deeply to be read; send a flatter JSON document"
    if cause is not None and exc.detail == "There was an error parsing the body":
        return f"the request body could not be read as JSON ({type(cause).__name__})"
    return None


def _problem(error: Mapping[str, Any]) -> str:
    """One validation problem as a sentence: where (a field, or the body itself) and what."""
    loc = [str(p) for p in error["loc"] if p not in ("query", "body", "path", "header")]
    if error.get("type") == "json_invalid":  # loc is ("body", character offset)
        reason = (error.get("ctx") or {}).get("error", "")
        return f"the body is not valid JSON at character {''.join(loc)}: {reason}".rstrip(": ")
    return f"{'.'.join(loc) or 'the body'}: {error['msg']}"


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """One readable sentence per problem, plus the structured list FastAPI would give."""
    problems = [_problem(e) for e in exc.errors()]
    extra = {"errors": jsonable_encoder(exc.errors())}
    return error_response(request, 422, "; ".join(problems), extra=extra)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug or an unwrapped library error: logged with its traceback, JSON without it."""
    log.error(
        "request failed",
        exc_info=exc,
        extra={
            "path": request.url.path,
            "method": request.method,
            "error_type": type(exc).__name__,
        },
    )
    return error_response(request, 500, INTERNAL)
