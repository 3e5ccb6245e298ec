"""One generation at a time, on a thread of its own, each answer handed to its reader by a queue.

A local model (one llama.cpp context) writes one answer at a time. Its generations run on a
dedicated thread; the text of each goes to its reader through a queue of its own, so a reader
that reads slowly (or stops, like a client that no longer reads its stream) never holds the
model, and no server thread waits holding a lock while a token is sent. At most ``waiting``
answers wait behind the one being written; past that ``submit`` refuses at once with
``BusyError`` (the API answers 503 with Retry-After) rather than lining up server threads.
A reader that closes its stream leaves the line, or stops its generation between two pieces.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

from castgraph.core.errors import BusyError, GenerationError

log = logging.getLogger(__name__)

Work = Callable[[], Iterator[str]]
"""Writes one answer: called on the worker thread, its pieces read there."""

DEFAULT_RETRY_S = 5
"""Retry-After before any generation has been timed."""


class _End:
    """The last item of an answer's queue: its end, or the error that ended it."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error


@dataclass
class _Job:
    work: Work
    pieces: queue.SimpleQueue[str | _End] = field(default_factory=queue.SimpleQueue)
    cancelled: threading.Event = field(default_factory=threading.Event)


class SerialWorker:
    """Runs submitted generations one at a time on a daemon thread started on first use."""

    def __init__(self, name: str, *, waiting: int) -> None:
        if waiting < 0:
            raise ValueError("waiting must be at least 0")
        self.name = name
        self.waiting = waiting
        self._line: deque[_Job] = deque()
        self._changed = threading.Condition()
        self._writing = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._durations: deque[float] = deque(maxlen=8)

    def submit(self, work: Work) -> Generator[str, None, None]:
        """The answer ``work`` writes, as its pieces arrive; ``BusyError`` when the line is
        full (raised here, before anything is generated)."""
        with self._changed:
            if self._closed:
                raise GenerationError(f"{self.name} is shut down")
            self._line = deque(j for j in self._line if not j.cancelled.is_set())
            if int(self._writing) + len(self._line) > self.waiting:
                retry = self._retry_after()
                raise BusyError(
                    f"{self.name} is busy ({int(self._writing)} answer being written, "
                    f"{len(self._line)} waiting): retry in {retry} s",
                    retry,
                )
            job = _Job(work)
            self._line.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._changed.notify_all()
        return _Answer(job)

    def close(self) -> None:
        """Stop after the answer being written (cut short); waiting ones end with an error."""
        with self._changed:
            self._closed = True
            for job in self._line:
                job.pieces.put(_End(GenerationError(f"{self.name} is shut down")))
            self._line.clear()
            self._changed.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)

    def _retry_after(self) -> int:
        if not self._durations:
            return DEFAULT_RETRY_S
        return max(1, math.ceil(sum(self._durations) / len(self._durations)))

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._line and not self._closed:
                    self._changed.wait()
                if not self._line:
                    return  # closed, nothing left
                job = self._line.popleft()
                self._writing = True
            try:
                if not job.cancelled.is_set():
                    started = time.monotonic()
                    self._write(job)
                    self._durations.append(time.monotonic() - started)
            finally:
                with self._changed:
                    self._writing = False

    def _write(self, job: _Job) -> None:
        pieces: Iterator[str] | None = None
        try:
            pieces = job.work()
            for piece in pieces:
                if job.cancelled.is_set():
                    break
                if self._closed:
                    raise GenerationError(f"{self.name} is shut down")
                job.pieces.put(piece)
        except Exception as exc:  # the reader raises it: this thread must live on
            job.pieces.put(_End(exc))
        else:
            job.pieces.put(_End())
        finally:
            closer = getattr(pieces, "close", None)
            if closer is not None:
                try:
                    closer()  # stops the model when the reader left mid-answer
                except Exception as exc:
                    log.warning("closing a generation failed", extra={"error": str(exc)})


class _Answer(Generator[str, None, None]):
    """A reader's side of one job: a generator, so that ``close()`` (or being dropped) tells
    the worker to skip or stop it."""

    def __init__(self, job: _Job) -> None:
        self._job = job
        self._ended = False

    def send(self, value: None) -> str:
        if self._ended:
            raise StopIteration
        item = self._job.pieces.get()
        if isinstance(item, _End):
            self._ended = True
            if item.error is not None:
                raise item.error
            raise StopIteration
        return item

    def throw(self, typ: Any = None, val: Any = None, tb: Any = None) -> str:
        self.close()
        raise val if val is not None else typ

    def close(self) -> None:
        self._ended = True
        self._job.cancelled.set()

    def __del__(self) -> None:
        self._job.cancelled.set()
