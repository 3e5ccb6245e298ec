"""Admission control: a bound on the expensive requests in flight (503 with Retry-After past it).

Searches and answers (``/api/search``, ``/api/chat``, ``/v1/chat/completions``) take a slot for
as long as they run, a streamed answer until its last byte is sent or its client leaves. When
every slot is taken a request waits in line for a short while (``CASTGRAPH_ADMISSION_WAIT_MS``),
so a brief burst is smoothed, then gets 503 with ``Retry-After`` rather than joining a queue
without end. At most as many requests wait as there are slots. Everything else (health probes,
the UI, static files, media, browsing) is never refused.

Each admitted request holds at most one thread of the server's threadpool at a time, so the
threadpool is widened to keep room above the limit: ``/healthz`` answers while every slot is
busy. Per process, in memory, like the rate limits.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections import deque
from collections.abc import AsyncIterator

from anyio import to_thread
from fastapi import Depends, HTTPException, Request, status

from castgraph.core.errors import BusyError
from castgraph.core.settings import Settings

log = logging.getLogger(__name__)

THREADPOOL_HEADROOM = 8
"""Threads of the server's threadpool always left to requests that are never refused."""


class Admission:
    """At most ``limit`` holders at once; up to ``limit`` more wait, first come first served,
    for at most ``wait`` seconds each. Thread-safe; any event loop may wait on it."""

    def __init__(self, limit: int, wait: float = 0.0) -> None:
        if limit < 1 or wait < 0:
            raise ValueError("limit must be at least 1 and wait at least 0")
        self.limit = limit
        self.wait = wait
        self._lock = threading.Lock()
        self._held = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @property
    def held(self) -> int:
        """Slots taken now."""
        return self._held

    @property
    def waiting(self) -> int:
        """Requests waiting in line now."""
        return len(self._waiting)

    async def acquire(self) -> bool:
        """Take a slot (True), waiting in line up to ``wait`` seconds, else False (refused)."""
        with self._lock:
            if self._held < self.limit and not self._waiting:
                self._held += 1
                return True
            if self.wait <= 0 or len(self._waiting) >= self.limit:
                return False
            turn = asyncio.get_running_loop().create_future()
            self._waiting.append(turn)
        try:
            await asyncio.wait_for(turn, self.wait)
        except TimeoutError:
            return not self._withdraw(turn)  # handed a slot just as the wait ran out: keep it
        except BaseException:  # cancelled (the client left): give back a slot handed meanwhile
            if not self._withdraw(turn):
                self.release()
            raise
        return True

    def release(self) -> None:
        """Give a slot back: to the first in line, else to the pool."""
        with self._lock:
            while self._waiting:
                turn = self._waiting.popleft()
                try:
                    turn.get_loop().call_soon_threadsafe(_wake, turn)
                except RuntimeError:  # its event loop is closed: nobody is waiting there
                    continue
                return  # the slot passes to the waiter as it is
            self._held -= 1

    def _withdraw(self, turn: asyncio.Future[None]) -> bool:
        """Leave the line; False when ``release`` had already handed ``turn`` a slot."""
        with self._lock:
            try:
                self._waiting.remove(turn)
            except ValueError:
                return False
            return True


def _wake(turn: asyncio.Future[None]) -> None:
    if not turn.done():
        turn.set_result(None)


def admission(settings: Settings) -> Admission:
    """The app's admission control, from ``CASTGRAPH_MAX_INFLIGHT`` and ``_ADMISSION_WAIT_MS``."""
    return Admission(settings.max_inflight, settings.admission_wait_ms / 1000)


def widen_threadpool(limit: int) -> None:
    """Give the running event loop's threadpool (anyio's, 40 threads by default) room for
    ``limit`` admitted requests plus ``THREADPOOL_HEADROOM`` others."""
    pool = to_thread.current_default_thread_limiter()
    pool.total_tokens = max(int(pool.total_tokens), limit + THREADPOOL_HEADROOM)


async def _admitted(request: Request) -> AsyncIterator[None]:
    control: Admission = request.app.state.admission
    if not await control.acquire():
        retry = max(1, math.ceil(control.wait))
        # Debug: the access log already shows each 503, and an overloaded server should not
        # write more per request.
        log.debug(
            "request refused: server busy",
            extra={"path": request.url.path, "in_flight": control.held, "limit": control.limit},
        )
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"the server is busy ({control.limit} searches and answers in progress): "
            f"retry in {retry} s",
            headers={"Retry-After": str(retry)},
        )
    try:
        yield  # FastAPI runs the rest once the response is sent: a stream keeps its slot
    finally:
        control.release()


def retry_headers(exc: Exception) -> dict[str, str] | None:
    """``Retry-After`` for a busy local model (its line of answers is full), as for a full
    server: the error's message says the same."""
    return {"Retry-After": str(exc.retry_after)} if isinstance(exc, BusyError) else None


Admitted = Depends(_admitted)
"""On the expensive routes, after authentication and the rate limit (a refused or unknown
client never takes a slot)."""
