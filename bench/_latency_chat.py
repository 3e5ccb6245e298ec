"""Chat time to first token for ``bench/search_latency.py``: ``POST /api/chat`` streamed (SSE).

One client asks the queries one after another. Time to first token is from sending the request
to the first answer text of the stream: the first ``token`` event (or a ``revised`` event, should
one come before any token); time to done is to the end of the stream. An ``error`` event or a
non-2xx is an error, a 503 is refused (see ``_latency_load``); a stream that ends without answer
text is counted as ``no text`` and left out of the first-token figures.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from _latency_load import RefusedError, check_status

TEXT_EVENTS = ("token", "revised")


class StreamError(Exception):
    """The stream carried an ``error`` event."""


@dataclass(frozen=True)
class ChatStats:
    """First-token and whole-answer latencies (ms) over the questions asked."""

    first_ms: list[float]
    done_ms: list[float]
    asked: int
    no_text: int
    errors: int
    refused: int

    def first(self, q: float) -> float:
        return float(np.percentile(self.first_ms, q)) if self.first_ms else float("nan")

    def done(self, q: float) -> float:
        return float(np.percentile(self.done_ms, q)) if self.done_ms else float("nan")


def ask(client: Any, url: str, question: str) -> tuple[float | None, float]:
    """(ms to the first answer text or None, ms to the end of the stream) of one question."""
    started = time.perf_counter()
    first: float | None = None
    with client.stream("POST", url, json={"question": question, "stream": True}) as response:
        check_status(response)
        event = ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                if event in TEXT_EVENTS and first is None:
                    first = (time.perf_counter() - started) * 1000
                elif event == "error":
                    raise StreamError(json.loads(line.removeprefix("data:")).get("message"))
    return first, (time.perf_counter() - started) * 1000


def measure_chat(base: str, queries: Sequence[str], max_seconds: float) -> ChatStats:
    """Ask each query once, one at a time, until ``max_seconds`` have passed."""
    import httpx

    first_ms: list[float] = []
    done_ms: list[float] = []
    counts = {"asked": 0, "no_text": 0, "errors": 0, "refused": 0}
    deadline = time.perf_counter() + max_seconds
    with httpx.Client(timeout=900) as client:
        for query in queries:
            if time.perf_counter() > deadline:
                break
            counts["asked"] += 1
            try:
                first, done = ask(client, base + "/api/chat", query)
            except RefusedError as exc:
                counts["refused"] += 1
                time.sleep(min(exc.retry_after, 2.0))
                continue
            except Exception as exc:
                counts["errors"] += 1
                if counts["errors"] == 1:
                    print(f"  chat failed: {exc!r}", file=sys.stderr)
                continue
            done_ms.append(done)
            if first is None:
                counts["no_text"] += 1
            else:
                first_ms.append(first)
    return ChatStats(first_ms, done_ms, **counts)
