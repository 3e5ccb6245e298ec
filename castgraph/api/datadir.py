"""The one-writer-per-data-directory rule (design §2), enforced with an advisory file lock.

Read commands (``castgraph search``/``ask`` with no server) take the same lock while it is free,
marked as reading: the embedded Chroma database has no read-only mode (its client rewrites index
files and its SQLite even to answer a query), so only the lock's holder may open it. A writer
that finds a reader holding the lock waits for it (readers are short) instead of failing.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from castgraph.core.errors import LockedError

READING = ", reading)"
"""How a read command's entry in the lock file ends: writers wait for it rather than fail."""
READER_WAIT_S = 600.0
"""How long a writer waits for read commands to let go of the lock before it gives up."""
_POLL_S = 0.2

log = logging.getLogger(__name__)


@contextmanager
def writer_lock(
    data_dir: Path, command: str, *, reader_wait: float = READER_WAIT_S
) -> Iterator[None]:
    # ``command`` is written into the lock file: other processes read it to name the holder,
    # and ``serving_url`` finds the server's address in it.
    """Hold the data directory's writer lock, or fail naming the process that holds it
    (after waiting up to ``reader_wait`` seconds when the holder is a read command)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "writer.lock"
    deadline = time.monotonic() + reader_wait
    with path.open("a+") as handle:
        holder, told = _try_lock(handle), False
        while holder is not None:
            # An empty file is a process between taking the lock and naming itself.
            if not (holder.endswith(READING) or not holder) or time.monotonic() > deadline:
                raise LockedError(
                    f"{data_dir} is being written by {holder or 'another process'}; wait for "
                    "it to finish, or use another CASTGRAPH_DATA_DIR"
                )
            if holder and not told:
                log.info("waiting for a read command to finish", extra={"holder": holder})
                told = True
            time.sleep(_POLL_S)
            holder = _try_lock(handle)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} ({command})")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def reader_lock(data_dir: Path, command: str) -> Iterator[str | None]:
    """For a read command: hold the lock while it is free and yield None (this process may then
    open every store, Chroma included), else yield the holder's description without waiting
    (this process must then open only the stores that have a read-only mode)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "writer.lock").open("a+") as handle:
        holder = _try_lock(handle)
        if holder is not None:
            yield holder or "another process"
            return
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} ({command}{READING}")
        handle.flush()
        try:
            yield None
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _try_lock(handle: IO[str]) -> str | None:
    """Take the lock on ``handle`` (None), else the holder's entry in the file."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        return handle.read().strip()
    return None


def serving_url(data_dir: Path) -> str | None:
    """The URL of a ``castgraph serve`` holding ``data_dir``, if one does."""
    path = data_dir / "writer.lock"
    if not path.exists():
        return None
    with path.open("r") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            words = handle.read().replace("(", " ").replace(")", " ").split()
            return next((w for w in words if w.startswith(("http://", "https://"))), None)
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None
