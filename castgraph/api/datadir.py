"""The one-writer-per-data-directory rule (design §2), enforced with an advisory file lock."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from castgraph.core.errors import LockedError


@contextmanager
def writer_lock(data_dir: Path, command: str) -> Iterator[None]:
    # ``command`` is written into the lock file: other processes read it to name the holder,
    # and ``serving_url`` finds the server's address in it.
    """Hold the data directory's writer lock, or fail naming the process that holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "writer.lock"
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise LockedError(
                f"{data_dir} is being written by {holder}; wait for it to finish, "
                "or use another CASTGRAPH_DATA_DIR"
            ) from exc
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
