"""Reading ahead runs at the lowest CPU priority, so that searches arriving meanwhile (in the
same process or another worker) get the cores first; the searching threads keep theirs."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from castgraph.retrieval.warm import read_ahead


class _Recorder:
    def __init__(self) -> None:
        self.nice: int | None = None

    def warm(self) -> None:
        self.nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_warming_runs_at_the_lowest_priority_and_searches_do_not() -> None:
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    recorder = _Recorder()
    read_ahead({"keyword": recorder}).join(timeout=10)
    assert recorder.nice == 19
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
    assert before < 19
