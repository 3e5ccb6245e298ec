"""Runs a blocking answer stream in a worker thread and stops it when the client goes away."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Generic, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

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
    request: Request, events: Iterator[T], render: Callable[[T], str]
) -> AsyncIterator[str]:
    """Yield ``render(event)`` for each event; a client disconnect closes ``events``."""
    pump = _Pump(events)
    try:
        while True:
            more, event = await run_in_threadpool(pump.step)
            if not more or await request.is_disconnected():
                return
            yield render(event)  # type: ignore[arg-type]
    finally:
        pump.close_later()
