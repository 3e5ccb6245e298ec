"""Search latency benchmark: ``GET /api/search`` and chat beside plain Chroma, on one HTTP stack.

For each index size (``--sizes``, in chunks) it builds a data directory once into
``bench/.cache/search_latency/<embedder>-<size>[-<vector backend>]/`` (reused unless
``--rebuild``, or the pool, the embedder or the index-writing code changed; a vector backend
other than Chroma gets its own directory, with a Chroma copy of its vectors for the baseline),
then:

1. starts the real server (``castgraph serve --port P`` with ``CASTGRAPH_DATA_DIR`` set to it, the
   extractive answerer, no per-client rate limits (every bench client shares one address) and
   ``CASTGRAPH_SEARCH_PROCESSES=--search-processes``: keyword and graph search in that many
   worker processes, whose memory is added to the server's),
   sends one request (loads the model), makes one pass over the first ``--single`` queries with
   one client (the single-client latency), then runs ``--clients`` closed-loop clients (threads,
   one ``httpx.Client`` each) issuing ``--requests`` requests per run (or for ``--max-seconds``),
   ``--runs`` times, each run going on down a list of ``--queries`` Spanish and English queries
   (so the runs send queries the server has not seen: caches keyed by query words start cold for
   them), and a second single-client pass over the first queries; ``--think-ms`` makes each
   client pause (a user reading) between requests;
2. asks the same queries through ``POST /api/chat`` (SSE), one client, one at a time: the time
   to the first answer token and to the end of the stream (``bench/_latency_chat.py``);
3. reads the server's peak RSS (``VmHWM`` of its ``/proc/<pid>/status``, plus each child
   process's) and their private memory (``RssAnon``) and stops it;
4. does the same searches against the baseline: a minimal FastAPI/uvicorn process over the same
   Chroma collection that only embeds the query and calls ``collection.query``
   (``bench/_latency_inprocess.py``): the HTTP stack is the same, the search is plain Chroma;
5. in-process, with no server running: the same two searches from ``--clients`` threads (no HTTP),
   and, one query at a time, how long each retriever, the fusion/lookup and the JSON take.

Outcomes (``bench/_latency_load.py``): a 2xx is a success, a 503 is *refused* (admission control;
the client waits ``Retry-After``, at most 2 s), anything else (non-2xx, exceptions) an *error*;
throughput counts successes. Reported figures are medians over runs of p50/p95/p99 latency and
requests per second. The issue's targets (at 100k chunks on 2 cores: single-client fused p50 <=
1.5x plain's, 20-client p95 <= 2x plain's, throughput >= 0.5x plain's, peak RSS <= 2 GB, zero
errors, chat first token p50 <= 300 ms) are checked in a table per size, printed, never asserted.

Data: synthetic episodes of 200 chunks written through the ordinary indexing path with composed
sentence vectors (``bench/_latency_build.py``, ``bench/_synthetic.py``); ``--build-only`` builds
the caches. At search time the server embeds every query with the real model.

    python bench/search_latency.py [--sizes 1000,10000,100000] [--clients 20] [--requests 400]
        [--runs 3] [--max-seconds 60] [--think-ms 0] [--queries 3000] [--single 200]
        [--embedder use-multilingual-v3|hash]
        [--pool 16000] [--rebuild] [--build-only] [--skip-in-process] [--skip-chat] [--port 8765]
        [--search-processes 1] [--serve-vector-backend chroma]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import _synthetic as synth  # noqa: E402
from _latency_build import cached_index  # noqa: E402
from _latency_chat import ChatStats, measure_chat  # noqa: E402
from _latency_inprocess import baseline_app, in_process  # noqa: E402
from _latency_load import HttpSearch, Measured, measure, server, server_env, with_memory  # noqa: E402
from _latency_report import SizeResult, report_size, report_targets  # noqa: E402


def measure_server(
    command: list[str],
    path: str,
    data_dir: Path,
    port: int,
    args: argparse.Namespace,
    queries: Sequence[str],
    chat: bool = False,
) -> tuple[Measured, ChatStats | None]:
    """Start a server, warm it (one request), measure searches (and chat), read its peak RSS."""
    log = data_dir / f"bench-server-{port}.log"
    base = f"http://127.0.0.1:{port}"
    with server(command, server_env(data_dir, args), port, log) as proc:
        search = HttpSearch(base, path)
        try:
            started = time.perf_counter()
            search(queries[0])  # loads the model (and the linker's entity table)
            print(f"    first request {time.perf_counter() - started:.1f} s", flush=True)
            measured = measure(search, queries, args)
        finally:
            search.close()
        stats = measure_chat(base, queries, args.max_seconds) if chat else None
        return with_memory(measured, proc.pid), stats


def run_size(size: int, args: argparse.Namespace, pool: synth.SentencePool) -> SizeResult:
    marker = cached_index(size, args, pool)
    data_dir: Path = marker["data_dir"]
    queries = synth.queries(args.queries)
    print(f"measuring {size} chunks", flush=True)
    print("  castgraph serve", flush=True)
    castgraph = [sys.executable, "-m", "castgraph", "serve", "--port", str(args.port)]
    fused, chat = measure_server(
        castgraph, "/api/search", data_dir, args.port, args, queries, chat=not args.skip_chat
    )
    print("  plain Chroma server", flush=True)
    port = args.port + 1
    baseline = [sys.executable, str(Path(__file__).resolve()), "--serve-baseline", str(data_dir)]
    baseline += ["--port", str(port), "--embedder", args.embedder]
    baseline += ["--models-dir", str(args.models_dir)]
    plain, _ = measure_server(baseline, "/search", data_dir, port, args, queries)
    fused_local = plain_local = None
    stages: dict[str, list[float]] = {}
    if not args.skip_in_process:
        print("  in-process", flush=True)
        fused_local, plain_local, stages = in_process(data_dir, args, queries)
    return SizeResult(size, marker, fused, plain, chat, fused_local, plain_local, stages)


def serve_baseline(args: argparse.Namespace) -> None:
    import uvicorn

    app = baseline_app(Path(args.serve_baseline), args.embedder, args.models_dir)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="info")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="index sizes, in chunks")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=400, help="requests per run")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="cap per run")
    parser.add_argument(
        "--think-ms", type=float, default=0.0, help="mean pause between a client's requests"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--queries", type=int, default=3000, help="queries in the list")
    parser.add_argument(
        "--single", type=int, default=200, help="queries of the single-client passes"
    )
    parser.add_argument("--embedder", default="use-multilingual-v3", help="or hash (quick)")
    parser.add_argument("--models-dir", type=Path, default=None, help="default: the settings'")
    parser.add_argument("--pool", type=int, default=16000, help="distinct sentences")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached indexes")
    parser.add_argument("--port", type=int, default=8765, help="castgraph; baseline on port+1")
    parser.add_argument("--build-only", action="store_true", help="build the caches, no runs")
    parser.add_argument(
        "--reuse-stale", action="store_true", help="reuse indexes built by other code"
    )
    parser.add_argument(
        "--search-processes",
        type=int,
        default=1,
        help="castgraph serve's CASTGRAPH_SEARCH_PROCESSES (0: search in the server process)",
    )
    parser.add_argument(
        "--serve-vector-backend",
        default=None,
        help="castgraph serve's CASTGRAPH_VECTOR_BACKEND (default: the one the index was built "
        "with); chroma serves the Chroma copy a flat build keeps for the baseline",
    )
    parser.add_argument("--skip-in-process", action="store_true", help="HTTP measurements only")
    parser.add_argument("--skip-chat", action="store_true", help="no chat first-token pass")
    parser.add_argument("--serve-baseline", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.models_dir is None:
        from castgraph.core.settings import Settings

        args.models_dir = Settings().resolved_models_dir
    return args


def main() -> None:
    args = parse_args()
    if args.serve_baseline:
        serve_baseline(args)
        return
    logging.getLogger("castgraph").setLevel(logging.WARNING)
    pool = synth.sentence_pool(args.pool)
    results = []
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        if args.build_only:
            print(json.dumps(cached_index(size, args, pool), indent=2, default=str))
            continue
        results.append(run_size(size, args, pool))
        report_size(results[-1], args)
    for result in results:
        report_targets(result, args)


if __name__ == "__main__":
    main()
