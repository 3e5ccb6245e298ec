"""Graph search latency: the graph read model (SQLite) against the embedded graph store (Cypher
over LadybugDB), on the same synthetic episodes and the same questions.

Episodes of 200 chunks from ``bench/_synthetic.py`` (the search-latency generator) go through the
real offline extractor and are written to both readers (``plan_episode`` feeds both). Then every
question is searched once per reader (after one warm-up pass that builds the linker's tables),
one at a time: ``GraphRetriever.search(q, 50)``, as fused search asks for its candidates; twice,
since the read model caches postings per version (first pass: cold; second: warm). With
``--threads N`` the same questions also run from N threads over one shared retriever (the
server's situation), reporting requests per second. Figures are printed, never asserted.

    python bench/graph_latency.py [--chunks 10000] [--queries 200] [--hops 2]
                                  [--embedder hash|use-multilingual-v3] [--threads 4] [--keep DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import _synthetic as synth  # noqa: E402

from castgraph.core.models import Chunk, Episode, EpisodeDocument, chunk_id  # noqa: E402
from castgraph.retrieval.base import SearchFilters  # noqa: E402

CHUNKS_PER_EPISODE = 200
NO_FILTERS = SearchFilters()


def documents(episodes: int) -> list[EpisodeDocument]:
    """The synthetic episodes with the offline extractor's entities and relations."""
    from castgraph.ingest.extract import make_extractor

    pool, extractor = synth.sentence_pool(4000), make_extractor("offline")
    docs = []
    for i in range(episodes):
        ep = synth.episode(pool, i, CHUNKS_PER_EPISODE)
        episode = Episode(ep.key, ep.key, ep.title, f"https://x.org/{ep.key}", language=ep.language)
        episode.published = ep.published
        chunks = [
            Chunk(
                chunk_id(ep.key, n),
                ep.key,
                n,
                30.0 * n,
                30.0 * n + 35.0,
                c.text,
                c.speakers,
                ep.language,
                ep.title,
                episode.url,
                ep.published,
            )
            for n, c in enumerate(ep.chunks)
        ]
        entities, relations = extractor.extract(chunks)
        docs.append(EpisodeDocument(episode, tuple(chunks), tuple(entities), tuple(relations)))
    return docs


def build(work: Path, episodes: int) -> tuple[Any, Any]:
    """The embedded graph and the read model in ``work``, filled unless already built."""
    from castgraph.retrieval.graph import make_graph_store
    from castgraph.retrieval.graph.readmodel import GraphReadModel

    graph = make_graph_store("embedded", path=work / "graph.lbug").open()
    model = GraphReadModel(work / "graph-read.sqlite").open()
    if len(graph.episode_ids()) == episodes and len(model.episode_ids()) == episodes:
        return graph, model
    started = time.perf_counter()
    docs = documents(episodes)
    print(f"extracted {episodes} episodes in {time.perf_counter() - started:.0f} s", flush=True)
    timings = {"graph": 0.0, "read model": 0.0}
    for document in docs:
        for name, target in (("graph", graph), ("read model", model)):
            lap = time.perf_counter()
            target.upsert_episode(document)
            timings[name] += time.perf_counter() - lap
    print("written: " + ", ".join(f"{n} {s:.1f} s" for n, s in timings.items()), flush=True)
    return graph, model


def timed(search: Callable[[str], object], queries: Sequence[str]) -> list[float]:
    """Milliseconds per query, one at a time."""
    out = []
    for query in queries:
        started = time.perf_counter()
        search(query)
        out.append((time.perf_counter() - started) * 1000)
    return out


def throughput(search: Callable[[str], object], queries: Sequence[str], threads: int) -> float:
    """Queries per second with ``threads`` threads sharing the retriever."""
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(search, queries))
    return len(queries) / (time.perf_counter() - started)


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    from castgraph.retrieval.embeddings import make_embedder
    from castgraph.retrieval.graph.retriever import GraphRetriever

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--hops", type=int, default=2)
    parser.add_argument("--embedder", default="hash")
    parser.add_argument(
        "--models-dir", type=Path, default=Path.home() / ".local/share/castgraph/models"
    )
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--keep", type=Path, help="Build (or reuse) the stores here.")
    args = parser.parse_args()
    episodes = max(1, args.chunks // CHUNKS_PER_EPISODE)
    work = args.keep or Path(tempfile.mkdtemp(prefix="graph-latency-"))
    work.mkdir(parents=True, exist_ok=True)
    graph, model = build(work, episodes)
    embedder = make_embedder(args.embedder, models_dir=args.models_dir)
    queries = synth.queries(args.queries)
    stats = model.stats()
    print(
        f"{episodes * CHUNKS_PER_EPISODE} chunks, {stats.entities} entities, "
        f"{stats.mentions} mentions, {stats.relations} relations; {len(queries)} questions, "
        f"hops={args.hops}, embedder={args.embedder}"
    )
    medians: dict[str, tuple[float, float]] = {}
    for name, reader in (("graph store", graph), ("read model", model)):
        retriever = GraphRetriever(reader, embedder=embedder, hops=args.hops)

        def search(q: str, retriever: GraphRetriever = retriever) -> object:
            return retriever.search(q, 50, NO_FILTERS)

        # First pass: nothing cached but the linker's tables (built by the first question).
        cold = timed(search, queries)
        ms = timed(search, queries)  # second pass: the read model's postings cache is warm
        medians[name] = (statistics.median(cold), statistics.median(ms))
        qps = throughput(search, queries, args.threads)
        print(
            f"{name:12} first pass p50 {medians[name][0]:7.2f} ms  p95 {pct(cold, 0.95):7.2f} ms"
            f" | second pass p50 {medians[name][1]:7.2f} ms  p95 {pct(ms, 0.95):7.2f} ms"
            f" | {args.threads} threads: {qps:6.1f} q/s",
            flush=True,
        )
    for i, label in enumerate(("first pass", "second pass")):
        ratio = medians["graph store"][i] / medians["read model"][i]
        print(f"median ratio graph store / read model, {label}: {ratio:.1f}x")
    model.close()
    graph.close()


if __name__ == "__main__":
    main()
