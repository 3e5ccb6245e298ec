"""Reading a search's caches ahead, so that a restarted server's first searches cost what later
ones do (at 100k chunks: one client's first 200 searches after start, p50 36 → 21 ms).

Keyword and graph search keep what they read per index version (term postings, entity postings
and relations) and read it on demand; after a start every search pays for the first reads of
its words and entities. ``read_ahead`` reads the costliest of them on a thread of its own while
searches are answered beside it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

log = logging.getLogger(__name__)


@runtime_checkable
class Warmable(Protocol):
    """A retriever that can read its caches ahead of the searches that need them."""

    def warm(self) -> None: ...


def read_ahead(retrievers: Mapping[str, object]) -> threading.Thread:
    """Start warming each ``Warmable`` of ``retrievers``, one after another, on a daemon thread
    (a failure is logged: searches then read on demand, as without it)."""
    warmable = {name: r for name, r in retrievers.items() if isinstance(r, Warmable)}
    thread = threading.Thread(target=_warm, args=(warmable,), name="castgraph-warm", daemon=True)
    thread.start()
    return thread


def _warm(retrievers: Mapping[str, Warmable]) -> None:
    _lowest_priority()
    for name, retriever in retrievers.items():
        started = time.perf_counter()
        try:
            retriever.warm()
        except Exception as exc:  # a store closed or unreadable: searches read on demand
            log.warning("search warm-up failed", extra={"retriever": name, "error": str(exc)})
            continue
        seconds = round(time.perf_counter() - started, 1)
        log.info("search caches read ahead", extra={"retriever": name, "seconds": seconds})


def _lowest_priority() -> None:
    """Run this thread at the lowest CPU priority (nice 19; Linux keeps one per thread), so
    that searches arriving while caches are read ahead, here or in another worker process, get
    the cores first (at 100k chunks three workers read ahead for up to 5 s after a start)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError) as exc:  # not Linux, or not allowed: warm at normal priority
        log.debug("warm-up priority unchanged", extra={"error": str(exc)})
