"""CPU time per search: fused (one query at a time, retrievers on the calling thread) against
plain Chroma, on a ``bench/search_latency.py`` index, for queries never seen and seen again.

Throughput on a small machine is bounded by CPU per query, which wall-clock latency hides when
the retrievers overlap. After ``--warm`` queries (the state of a server that has run a while),
it times ``--queries`` further queries with ``time.process_time`` (all threads of the process),
then the same ones again; plain Chroma embeds the query and calls ``collection.query`` as the
latency benchmark's baseline does. The figures are medians over ``--runs`` passes.

    python bench/search_cpu.py [--size 100000] [--warm 1400] [--queries 500] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import _synthetic as synth  # noqa: E402
from _latency_build import CACHE, settings_for  # noqa: E402
from _latency_inprocess import plain_chroma  # noqa: E402


def cpu_ms(search: Callable[[str], object], queries: Sequence[str]) -> float:
    started = time.process_time()
    for query in queries:
        search(query)
    return (time.process_time() - started) * 1000 / len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="a built latency index")
    parser.add_argument("--embedder", default="use-multilingual-v3")
    parser.add_argument("--warm", type=int, default=1400, help="queries before the timed ones")
    parser.add_argument("--queries", type=int, default=500, help="timed queries")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from castgraph.api import wiring
    from castgraph.core.settings import Settings
    from castgraph.retrieval.embeddings.base import one_blas_thread

    slug = "".join(c if c.isalnum() else "-" for c in args.embedder)
    data_dir = CACHE / "search_latency" / f"{slug}-{args.size}"
    if not (data_dir / "bench-built.json").exists():
        sys.exit(f"no index at {data_dir}: build it with bench/search_latency.py --build-only")
    models = Settings().resolved_models_dir
    one_blas_thread()  # as castgraph serve does
    total = args.warm + args.queries * args.runs
    queries = synth.queries(total)
    services = wiring.open_services(settings_for(data_dir, models, args.embedder), read_only=True)
    plain = plain_chroma(data_dir, args.embedder, models)
    try:
        services.search.close()  # retrievers on the calling thread: CPU is what is measured
        for query in queries[: args.warm]:
            services.search.search(query, 10)
        rows: dict[str, list[float]] = {"plain": [], "fused, unseen": [], "fused, again": []}
        for run in range(args.runs):
            batch = queries[args.warm + run * args.queries :][: args.queries]
            rows["plain"].append(cpu_ms(lambda q: plain(q, 10), batch))
            rows["fused, unseen"].append(cpu_ms(lambda q: services.search.search(q, 10), batch))
            rows["fused, again"].append(cpu_ms(lambda q: services.search.search(q, 10), batch))
    finally:
        services.close()
    base = statistics.median(rows["plain"])
    print(f"{args.size} chunks, after {args.warm} queries; CPU ms per query, median of runs")
    for label, values in rows.items():
        value = statistics.median(values)
        print(f"  {label:<16} {value:7.2f} ms   {value / base:5.2f}x plain")


if __name__ == "__main__":
    main()
