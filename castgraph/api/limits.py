"""Limits on what a request may send, checked before any route reads it (issue 13).

An ASGI middleware, outermost, so every route and the web UI are covered:

- a request target (path and query string) past ``CASTGRAPH_MAX_URL_BYTES`` gets 414;
- a path or query string whose percent-escapes do not decode as UTF-8 gets 400 (Starlette would
  quietly turn them into U+FFFD and search for that, or look up an id that cannot exist);
- a body declared (``Content-Length``) past ``CASTGRAPH_MAX_BODY_BYTES`` gets 413 without a byte
  of it read; a body that is not declared (chunked) is counted as it arrives and refused with 413
  once past the limit;
- a body that takes longer than ``CASTGRAPH_CLIENT_TIMEOUT_S`` to arrive gets 408 (slow request
  headers are the HTTP server's to bound: ``castgraph.api.httpserver``).

Every refusal is castgraph's JSON error body (OpenAI's envelope under ``/v1``).
"""

from __future__ import annotations

import logging
import math
import time
from urllib.parse import unquote_to_bytes

import anyio
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from castgraph.api.errors import error_body

log = logging.getLogger(__name__)


def _size(n: int) -> str:
    return f"{n // 1024**2} MiB" if n % 1024**2 == 0 else f"{n} bytes"


class RequestLimits:
    """Refuse oversized, undecodable or too slow requests before the app reads them."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_url_bytes: int, body_timeout_s: float
    ) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.max_url = max_url_bytes
        self.timeout = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            status, message = refusal
            log.info("request refused", extra={"status": status, "error": message})
            body = error_body(scope.get("path", ""), status, message)
            await JSONResponse(body, status, headers={"Connection": "close"})(scope, receive, send)
            return
        await self.app(scope, self._limited(receive), send)

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        raw_path: bytes = scope.get("raw_path") or scope.get("path", "").encode()
        query: bytes = scope.get("query_string", b"")
        if len(raw_path) + len(query) > self.max_url:
            return 414, (
                f"the URL is {len(raw_path) + len(query)} bytes long; the limit is "
                f"{self.max_url} (CASTGRAPH_MAX_URL_BYTES): send long text in a POST body"
            )
        for part, name in ((raw_path, "path"), (query.replace(b"+", b" "), "query string")):
            try:
                unquote_to_bytes(part).decode("utf-8")
            except UnicodeDecodeError as exc:
                return 400, f"the URL's {name} is not valid UTF-8 (byte {exc.start} once decoded)"
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            return 413, self._too_large(declared)
        return None

    def _too_large(self, size: int | None) -> str:
        said = f"is {size} bytes" if size is not None else "is larger than that"
        return (
            f"the request body {said}; the limit is {_size(self.max_body)} "
            "(CASTGRAPH_MAX_BODY_BYTES)"
        )

    def _limited(self, receive: Receive) -> Receive:
        """``receive`` that counts body bytes and gives up past the deadline (HTTPException:
        FastAPI re-raises it from its body reading, and castgraph's handler renders it)."""
        received, complete = 0, False
        deadline = time.monotonic() + self.timeout

        async def limited() -> Message:
            nonlocal received, complete
            if complete:  # later calls wait for the client to leave (streams): no deadline
                return await receive()
            left = deadline - time.monotonic()
            with anyio.move_on_after(max(left, 0.0)) as waited:
                message = await receive()
            if waited.cancel_called:
                raise HTTPException(
                    408,
                    f"the request body did not arrive within {_seconds(self.timeout)} "
                    "(CASTGRAPH_CLIENT_TIMEOUT_S)",
                    headers={"Connection": "close"},
                )
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if received > self.max_body:
                    raise HTTPException(413, self._too_large(None), {"Connection": "close"})
            return message

        return limited


def _seconds(value: float) -> str:
    return f"{value:g} s" if math.isfinite(value) else "the time allowed"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP server refuses a malformed one before we see it
    return None
