"""Load benchmark (issue 13): ``/api/search`` and ``/api/chat`` under many clients at once.

For each target (``--targets``: ``demo``, a number of synthetic chunks, or a data directory) it
starts a real ``castgraph serve`` subprocess on loopback (the extractive answerer, no per-client
rate limits: every bench client shares one address; admission control as configured, 32 in
flight by default), sends one search and one question (loads the model), then runs, *at the same
time*, ``--search-clients`` closed-loop clients on ``GET /api/search`` and ``--chat-clients`` on
``POST /api/chat`` (SSE, read to the end) for ``--seconds``; then reads the server's peak RSS
(``VmHWM``) and private memory (``RssAnon``) from ``/proc`` and stops it.

Outcomes (``bench/_latency_load.py``): a 2xx is a success; a 503 with ``Retry-After`` is
*refused* (admission control), the client waits ``Retry-After`` (at most 2 s) and sends its next
request; anything else (another 5xx, a 503 without ``Retry-After``, a 4xx, an ``error`` event in
the stream, a timeout, a dropped connection) is an *error*. Chat latency is to the end of the
answer; its first-token figures are printed beside it. The exit status is 1 when any request
failed (the target is zero), so ``tests/integration/test_load.py`` runs a short version.

Targets: ``demo`` is ``--demo-dir`` (the retrieval benchmark's corpus, the demo channel plus the
shared fixtures ingested for real; ingested there when missing); a number N is
``bench/search_latency.py``'s cached synthetic index of N chunks (built when missing or stale).
Queries are ``bench/_synthetic.py``'s Spanish and English questions.

    python bench/load.py [--targets demo,10000] [--search-clients 50] [--chat-clients 10]
        [--seconds 60] [--embedder use-multilingual-v3|hash] [--json PATH] [--port 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import _synthetic as synth  # noqa: E402
from _latency_build import CACHE, cached_index  # noqa: E402
from _latency_chat import ask  # noqa: E402
from _latency_load import HttpSearch, RunStats, closed_loop, memory_mb, server, server_env  # noqa: E402

from tests.netutil import free_port  # noqa: E402

DEMO_DIR = CACHE / "retrieval"


class HttpChat(HttpSearch):
    """``POST base/api/chat`` streamed to its end; keeps each answer's time to first text."""

    def __init__(self, base: str) -> None:
        super().__init__(base, "/api/chat")
        self.first_ms: list[float] = []
        self.no_text = 0
        self._lock = threading.Lock()

    def __call__(self, query: str) -> None:
        first, _done = ask(self.client(), self.url, query)
        with self._lock:
            if first is None:
                self.no_text += 1
            else:
                self.first_ms.append(first)


@dataclass(frozen=True)
class Endpoint:
    """One endpoint's figures over the run."""

    clients: int
    ok: int
    rps: float
    p50: float
    p95: float
    p99: float
    errors: int
    refused: int

    @classmethod
    def of(cls, clients: int, stats: RunStats) -> Endpoint:
        ok, rps = len(stats.latencies), stats.rps
        p50, p95, p99 = stats.p(50), stats.p(95), stats.p(99)
        return cls(clients, ok, rps, p50, p95, p99, stats.errors, stats.refused)


@dataclass(frozen=True)
class LoadResult:
    target: str
    seconds: float
    search: Endpoint
    chat: Endpoint
    first_token_p50: float
    first_token_p95: float
    no_text: int
    rss_mb: float
    anon_mb: float
    tracebacks: int  # in the server's log

    @property
    def errors(self) -> int:
        return self.search.errors + self.chat.errors


def data_dir_of(target: str, args: argparse.Namespace) -> Path:
    if target == "demo":
        if not (args.demo_dir / "catalog.db").exists():
            from retrieval import prepare_corpus  # heavy imports: only when ingesting

            prepare_corpus(args.demo_dir)
        return Path(args.demo_dir)
    if target.isdigit():
        return Path(cached_index(int(target), args, synth.sentence_pool(args.pool))["data_dir"])
    return Path(target)


def run_target(target: str, args: argparse.Namespace, queries: list[str]) -> LoadResult:
    """Serve ``target``'s data directory, warm it, run both kinds of clients at once."""
    data_dir, port = data_dir_of(target, args), args.port or free_port()
    base, log = f"http://127.0.0.1:{port}", data_dir / f"bench-load-{port}.log"
    command = [sys.executable, "-m", "castgraph", "serve", "--port", str(port)]
    print(f"{target}: serving {data_dir} on port {port}", flush=True)
    with server(command, server_env(data_dir, args), port, log) as proc:
        search, chat = HttpSearch(base, "/api/search"), HttpChat(base)
        try:
            search(queries[0])  # loads the model (and the linker's entity table)
            chat(queries[0])
            chat.first_ms.clear()
            chat.no_text = 0
            with ThreadPoolExecutor(2) as pool:
                runs = [
                    pool.submit(closed_loop, call, queries, n, sys.maxsize, args.seconds)
                    for call, n in ((search, args.search_clients), (chat, args.chat_clients))
                ]
                searched, chatted = (run.result() for run in runs)
        finally:
            search.close()
            chat.close()
        rss, anon = memory_mb(proc.pid)
    firsts = RunStats(chat.first_ms, 0.0)
    return LoadResult(
        target,
        args.seconds,
        Endpoint.of(args.search_clients, searched),
        Endpoint.of(args.chat_clients, chatted),
        firsts.p(50),
        firsts.p(95),
        chat.no_text,
        rss,
        anon,
        log.read_text(errors="replace").count("Traceback"),
    )


def report(r: LoadResult) -> None:
    print(f"\n== {r.target}: search and chat clients at once for {r.seconds:.0f} s")
    print(
        f"  {'endpoint':22} {'clients':>7} {'ok':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'errors':>6} {'refused':>7}"
    )
    for label, e in (("/api/search", r.search), ("/api/chat (to the end)", r.chat)):
        print(
            f"  {label:22} {e.clients:7d} {e.ok:6d} {e.rps:7.1f} {e.p50:8.1f} {e.p95:8.1f} "
            f"{e.p99:8.1f} {e.errors:6d} {e.refused:7d}"
        )
    print(
        f"  chat first token p50 {r.first_token_p50:.1f} ms, p95 {r.first_token_p95:.1f} ms; "
        f"{r.no_text} answers without text"
    )
    print(
        f"  server peak RSS (VmHWM) {r.rss_mb:.0f} MiB, private (RssAnon) {r.anon_mb:.0f} MiB; "
        f"{r.tracebacks} tracebacks in its log; errors {r.errors} (target 0)"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--targets", default="demo,10000", help="demo, N chunks, or a data dir")
    parser.add_argument("--search-clients", type=int, default=50)
    parser.add_argument("--chat-clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0, help="no new request after this")
    parser.add_argument("--queries", type=int, default=100, help="distinct queries in the list")
    parser.add_argument("--embedder", default="use-multilingual-v3", help="the index's embedder")
    parser.add_argument("--models-dir", type=Path, default=None, help="default: the settings'")
    parser.add_argument("--demo-dir", type=Path, default=DEMO_DIR)
    parser.add_argument("--pool", type=int, default=16000, help="synthetic indexes' sentences")
    parser.add_argument("--rebuild", action="store_true", help="rebuild cached synthetic indexes")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.models_dir is None:
        from castgraph.core.settings import Settings

        args.models_dir = Settings().resolved_models_dir
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    queries = synth.queries(args.queries)
    results = []
    for target in [t.strip() for t in args.targets.split(",") if t.strip()]:
        results.append(run_target(target, args, queries))
        report(results[-1])
    if args.json is not None:
        figures: list[dict[str, Any]] = [{**asdict(r), "errors": r.errors} for r in results]
        args.json.write_text(json.dumps(figures, indent=2))
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
