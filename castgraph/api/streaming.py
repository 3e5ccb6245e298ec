"""Runs a blocking answer stream in a worker thread and stops it when the client goes away.

Once a stream has begun its status (200) is sent: a failure after that (a store gone, a bug)
cannot become an error status, so ``relay`` logs it and ends the stream with the route's own
error event (``fail``) instead of cutting the connection without a word.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Generic, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from castgraph.api.errors import stream_failed

T = TypeVar("T")


class _Pump(Generic[T]):
    """Steps a blocking iterator from worker threads; ``close`` waits for the step in flight."""

    def __init__(self, events: Iterator[T]) -> None:
        self._events = events
        self._lock = threading.Lock()

    def step(self) -> tuple[bool, T | None]:
        with self._lock:
            for event in self._events:
                return True, event
            return False, None

    def close_later(self) -> None:
        """Close the iterator (stopping the model upstream) once no step is running.

        Runs in its own thread: on a disconnect the response task is being cancelled and
        cannot await anything, and the iterator may still be inside a step.
        """

        def close() -> None:
            with self._lock:
                closer = getattr(self._events, "close", None)
                if closer is not None:
                    closer()

        threading.Thread(target=close, name="castgraph-close-stream", daemon=True).start()


async def relay(
    request: Request,
    events: Iterator[T],
    render: Callable[[T], str],
    fail: Callable[[int, str], Iterable[str]],
) -> AsyncIterator[str]:
    """Yield ``render(event)`` for each event; a client disconnect closes ``events``; an
    exception from either ends the stream with ``fail(status, message)`` (and is logged)."""
    pump = _Pump(events)
    try:
        while True:
            try:
                more, event = await run_in_threadpool(pump.step)
                if not more or await request.is_disconnected():
                    return
                frame = render(event)  # type: ignore[arg-type]
            except Exception as exc:  # any failure, not only generation: the error event
                status, message = stream_failed(request, exc)
                for frame in fail(status, message):
                    yield frame
                return
            yield frame
    finally:
        pump.close_later()
