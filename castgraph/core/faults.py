"""Fault injection for the crash tests (issue 13): named points in the ingestion path where a
test can make the process die or its disk fill up, deterministically.

``point(name)`` is a no-op unless one of these is set in the environment:

- ``CASTGRAPH_FAULT_KILL=NAME[@N]``: the process SIGKILLs itself the N-th time (default: the
  first) it reaches point NAME, as a power cut or the OOM killer would.
- ``CASTGRAPH_FAULT_ENOSPC=NAME[@N]``: reaching NAME raises ``OSError(ENOSPC)`` instead, as a
  write to a full disk does (for machines where a size-limited folder cannot be mounted).

The points, in the order a first ingestion of an episode reaches them (``POINTS``): after the
media is downloaded, after the audio is extracted, after speech recognition, after diarization,
after each state the catalog records, after the transcript and the analysis are stored, and
around every index write: ``*-uncommitted`` dies inside the store's transaction, the plain name
right after it committed.
"""

from __future__ import annotations

import errno
import os
import signal
import threading
from collections import Counter

KILL_ENV = "CASTGRAPH_FAULT_KILL"
ENOSPC_ENV = "CASTGRAPH_FAULT_ENOSPC"

POINTS = (
    "state-downloading",
    "download",
    "audio",
    "state-transcribing",
    "asr",
    "state-diarizing",
    "diarization",
    "state-indexing",
    "catalog-transcript",
    "catalog-analysis",
    "keyword-uncommitted",
    "keyword",
    "vector",
    "graph-store-uncommitted",
    "graph-store",
    "graph-read-model-uncommitted",
    "graph-read-model",
    "state-indexed",
)

_hits: Counter[str] = Counter()
_lock = threading.Lock()


def point(name: str) -> None:
    """Die or fail here when the environment asks for it at ``name``; otherwise nothing."""
    kill, enospc = os.environ.get(KILL_ENV), os.environ.get(ENOSPC_ENV)
    if not kill and not enospc:
        return
    with _lock:
        _hits[name] += 1
        count = _hits[name]
    if kill and _matches(kill, name, count):
        os.kill(os.getpid(), signal.SIGKILL)
    if enospc and _matches(enospc, name, count):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"fault point {name}")


def _matches(spec: str, name: str, count: int) -> bool:
    target, _, nth = spec.strip().partition("@")
    return target == name and count == (int(nth) if nth else 1)
