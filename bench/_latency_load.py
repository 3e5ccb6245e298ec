"""Load generation for ``bench/search_latency.py`` and ``bench/load.py``: closed-loop clients,
HTTP calls, servers.

Outcomes are counted apart: a 2xx is a success (its latency is recorded), a 503 with
``Retry-After`` is *refused* (the server's admission control or its busy local model saying it is
saturated: the client waits ``Retry-After``, capped at ``MAX_BACKOFF_S``, as a polite client
would, and moves on), anything else (another non-2xx, a 503 without ``Retry-After``, a timeout, a
dropped connection) is an *error*. Throughput counts successes only.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MAX_BACKOFF_S = 2.0


class RefusedError(Exception):
    """The server answered 503: saturated, retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"503, Retry-After {retry_after:g} s")
        self.retry_after = retry_after


def check_status(response: Any) -> None:
    """Raise ``RefusedError`` for a 503 with ``Retry-After`` (admission control, a busy model),
    ``httpx.HTTPStatusError`` for any other non-2xx (a 503 without it is a failing store)."""
    if response.status_code == 503 and "Retry-After" in response.headers:
        try:
            wait = float(response.headers["Retry-After"])
        except ValueError:
            wait = 1.0
        raise RefusedError(wait)
    response.raise_for_status()


@dataclass(frozen=True)
class RunStats:
    """Per-request latencies (ms) of one run's successes, its wall time and failures."""

    latencies: list[float]
    wall_s: float
    errors: int = 0
    refused: int = 0
    issued: int = 0  # queries taken from the list (successes, failures, refusals)

    def p(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies else float("nan")

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall_s if self.wall_s else float("nan")


def closed_loop(
    call: Callable[[str], object],
    queries: Sequence[str],
    clients: int,
    requests: int,
    max_seconds: float = float("inf"),
    think_s: float = 0.0,
    start: int = 0,
) -> RunStats:
    """``clients`` threads, each sending its next request when the last one returns, with the
    queries from ``start`` on (wrapping around).

    With ``think_s`` > 0 each client first pauses a random time of that mean (a user reading
    results), so the load is below saturation. Stops after ``requests`` requests or, for slow
    servers, ``max_seconds`` (no new request starts after that; those in flight complete).
    """
    lock, state = threading.Lock(), {"next": 0, "errors": 0, "refused": 0}
    deadline = time.perf_counter() + max_seconds

    def failed(kind: str, exc: Exception) -> None:
        with lock:
            state[kind] += 1
            first = state[kind] == 1
        if first:  # shown once: a benchmark keeps going
            print(f"  request {kind}: {exc!r}", file=sys.stderr)

    def client(seed: int) -> list[float]:
        latencies: list[float] = []
        pause = random.Random(seed)
        while True:
            if think_s > 0:
                time.sleep(pause.expovariate(1.0 / think_s))
            with lock:
                n = state["next"]
                state["next"] += 1
            if n >= requests or time.perf_counter() > deadline:
                return latencies
            started = time.perf_counter()
            try:
                call(queries[(start + n) % len(queries)])
            except RefusedError as exc:
                failed("refused", exc)
                time.sleep(min(exc.retry_after, MAX_BACKOFF_S))
                continue
            except Exception as exc:
                failed("errors", exc)
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    with ThreadPoolExecutor(clients) as executor:
        started = time.perf_counter()
        results = list(executor.map(client, range(clients)))
        wall = time.perf_counter() - started
    flat = [x for r in results for x in r]
    issued = min(state["next"], requests)
    return RunStats(flat, wall, state["errors"], state["refused"], issued)


class HttpSearch:
    """``GET base + path?q=&k=10`` through one ``httpx.Client`` per thread."""

    def __init__(self, base: str, path: str) -> None:
        self.url = base + path
        self._local = threading.local()
        self._clients: list[Any] = []

    def client(self) -> Any:
        import httpx

        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(timeout=900)
            self._clients.append(client)
        return client

    def __call__(self, query: str) -> None:
        response = self.client().get(self.url, params={"q": query, "k": 10})
        check_status(response)
        response.json()

    def close(self) -> None:
        for client in self._clients:
            client.close()


@dataclass(frozen=True)
class Measured:
    """Medians over runs, plus the single-client pass; failures summed over every pass."""

    p50: float
    p95: float
    p99: float
    rps: float
    errors: int
    refused: int
    single_p50: float
    requests: int
    single_again_p50: float = float("nan")
    """A second single-client pass after the runs: the same queries, seen before (warm)."""
    rss_mb: float = float("nan")
    anon_mb: float = float("nan")


def measure(
    call: Callable[[str], object], queries: Sequence[str], args: argparse.Namespace
) -> Measured:
    """One single-client pass over the first ``--single`` queries (default: all), then
    ``--runs`` runs of ``--clients`` on the queries after them, then a second single-client
    pass over the first ones (the first pass meets every query's words for the first time; the
    second shows a server that has seen them, as a long-running one has its common ones)."""
    first = min(getattr(args, "single", None) or len(queries), len(queries))
    single = closed_loop(call, queries, 1, first, args.max_seconds)
    think = args.think_ms / 1000
    runs, start = [], single.issued
    for _ in range(args.runs):  # each run goes on down the list: queries the server never saw
        runs.append(
            closed_loop(call, queries, args.clients, args.requests, args.max_seconds, think, start)
        )
        start += runs[-1].issued
    again = closed_loop(call, queries, 1, single.issued, args.max_seconds)
    return Measured(
        p50=statistics.median(r.p(50) for r in runs),
        p95=statistics.median(r.p(95) for r in runs),
        p99=statistics.median(r.p(99) for r in runs),
        rps=statistics.median(r.rps for r in runs),
        errors=sum(r.errors for r in runs) + single.errors + again.errors,
        refused=sum(r.refused for r in runs) + single.refused + again.refused,
        single_p50=single.p(50),
        single_again_p50=again.p(50),
        requests=int(statistics.median(len(r.latencies) for r in runs)),
    )


def with_memory(measured: Measured, pid: int) -> Measured:
    """The server's memory: its process and its children (search worker processes) summed,
    each child's peak added to the server's (an upper bound on their joint peak)."""
    rss = anon = 0.0
    for each in [pid, *children(pid)]:
        peak, private = memory_mb(each)
        rss, anon = rss + peak, anon + private
    return replace(measured, rss_mb=rss, anon_mb=anon)


def children(pid: int) -> list[int]:
    """The pids of a process's descendants (multiprocessing's helpers included)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        path = task / "children"
        for child in path.read_text().split() if path.exists() else []:
            found += [int(child), *children(int(child))]
    return found


def memory_mb(pid: int) -> tuple[float, float]:
    """(``VmHWM``, ``RssAnon``) of a process in MiB: peak resident set, private memory now."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.split()
    return int(fields["VmHWM"][0]) / 1024, int(fields["RssAnon"][0]) / 1024


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"server not healthy after {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@contextmanager
def server(
    command: list[str], env: dict[str, str], port: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A server subprocess, healthy on ``port``; stopped (SIGINT, then SIGKILL) on exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            wait_healthy(f"http://127.0.0.1:{port}", proc, log, timeout=300)
            yield proc
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def server_env(data_dir: Path, args: argparse.Namespace) -> dict[str, str]:
    """The server's environment: the data directory, the embedder, the extractive answerer,
    and no per-client rate limits (every bench client shares one address)."""
    env = dict(os.environ)
    env.update(
        CASTGRAPH_DATA_DIR=str(data_dir),
        CASTGRAPH_MODELS_DIR=str(args.models_dir),
        CASTGRAPH_EMBEDDING_MODEL=args.embedder,
        CASTGRAPH_GENERATOR="extractive",
        CASTGRAPH_RATE_LIMIT_SEARCH="0",
        CASTGRAPH_RATE_LIMIT_CHAT="0",
        CASTGRAPH_SEARCH_PROCESSES=str(getattr(args, "search_processes", 0)),
    )
    if getattr(args, "serve_vector_backend", None):
        env["CASTGRAPH_VECTOR_BACKEND"] = args.serve_vector_backend
    return env
