"""Per-client rate limits on the expensive reads: answers and searches (429 with Retry-After).

A token bucket per client: ``per_minute`` requests at once, refilled at ``per_minute`` a minute.
The client is the key's holder when the request carries the right key (one bucket, whatever
address it comes from), else its IP address (behind a reverse proxy on this machine, uvicorn
takes it from ``X-Forwarded-For``). In memory, per process: limits are a courtesy to keep one
client from starving the others, not an accounting system.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException, Request, status

from castgraph.api.auth import holds_key
from castgraph.core.settings import Settings

Clock = Callable[[], float]
MAX_CLIENTS = 10_000


class RateLimiter:
    """Token buckets by client; thread-safe; at most ``max_clients`` buckets in memory."""

    def __init__(
        self, per_minute: int, *, clock: Clock = time.monotonic, max_clients: int = MAX_CLIENTS
    ) -> None:
        if per_minute < 1 or max_clients < 1:
            raise ValueError("per_minute and max_clients must be at least 1")
        self.per_minute = per_minute
        self._rate = per_minute / 60.0  # tokens a second
        self._clock = clock
        self._max_clients = max_clients
        # client -> (tokens, last seen), least recently seen first
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, client: str) -> float:
        """Take one request for ``client``: 0.0 when allowed, else the seconds to wait."""
        with self._lock:
            now = self._clock()
            self._evict_idle(now)
            tokens, seen = self._buckets.pop(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - seen) * self._rate)
            wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self._rate
            self._buckets[client] = (tokens - 1.0 if wait == 0.0 else tokens, now)
            if len(self._buckets) > self._max_clients:
                # The least recent client starts afresh next time: lenient, never wrong.
                self._buckets.popitem(last=False)
            return wait

    def __len__(self) -> int:
        return len(self._buckets)

    def _evict_idle(self, now: float) -> None:
        # A bucket idle for a whole minute is full again, the same as no bucket: forget it.
        # Buckets are ordered by last use, so the idle ones are at the front.
        while self._buckets:
            _tokens, seen = next(iter(self._buckets.values()))
            if now - seen < 60.0:
                return
            self._buckets.popitem(last=False)


def rate_limits(settings: Settings, clock: Clock = time.monotonic) -> dict[str, RateLimiter]:
    """The app's limiters by kind (``chat``, ``search``); a limit of 0 leaves that kind out."""
    wanted = {"chat": settings.rate_limit_chat, "search": settings.rate_limit_search}
    return {kind: RateLimiter(n, clock=clock) for kind, n in wanted.items() if n > 0}


def client_id(request: Request) -> str:
    """Who the bucket belongs to: the key's holder, or the connecting address."""
    if holds_key(request):
        return "key"
    return f"ip:{request.client.host}" if request.client else "ip:unknown"


def _limited(kind: str, what: str) -> Callable[[Request], Awaitable[None]]:
    async def check(request: Request) -> None:
        limiter: RateLimiter | None = request.app.state.rate_limits.get(kind)
        if limiter is None:
            return
        wait = limiter.acquire(client_id(request))
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"too many {what} from this client (at most {limiter.per_minute} a minute): "
                f"retry in {seconds} s",
                headers={"Retry-After": str(seconds)},
            )

    check.__name__ = f"rate_limit_{kind}"
    return check


ChatRateLimit = Depends(_limited("chat", "questions"))
"""On ``POST /api/chat`` and ``POST /v1/chat/completions``: one bucket for both."""
SearchRateLimit = Depends(_limited("search", "searches"))
"""On ``GET /api/search``."""
