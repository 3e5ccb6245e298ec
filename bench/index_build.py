"""Index build benchmark: N synthetic chunks through the real stores, timed per index.

For each size (``--sizes``, in chunks; episodes of 200 chunks from ``bench/_synthetic.py``) it
builds a fresh data directory in ``bench/.cache/index_build/`` the way ``castgraph ingest``
does after analysis: ``catalog.register`` → ``save_analysis`` (chunks, entities, relations) →
``set_state(INDEXING)`` → ``StoresIndexer.index`` (SQLite FTS5 keyword index, the configured
vector index: flat by default, embedded Chroma with ``CASTGRAPH_VECTOR_BACKEND=chroma``,
embedded LadybugDB graph and the graph search read model, as serve's indexer writes them) →
``set_state(INDEXED)``. Each store is wrapped in a timer, and so is
the embedder, so the report splits the time between catalog, keyword, vector (without the
embedding), embedding and graph, and gives the index time excluding embedding, which is what
the issue 12 target bounds (100k chunks in ≤ 10 minutes on 2 cores). The graph's time per
episode over the first and the last tenth of the build shows whether writes slow down as the
graph grows (the same for the vector index, embedding included).

Entities and relations come from the real offline extractor, run before the timed part and
cached per episode in ``bench/.cache/index_build/extract/`` (extraction is analysis, not
indexing). Vectors: ``--embedder hash-512`` by default, the deterministic hashing embedder with
the dimension of ``use-multilingual-v3``, so the vector index does the real work while the
embedding itself is cheap and timed apart; any castgraph model name works (the real model's
time is then reported as embedding time).

Baseline: the sizes in ``--baseline-sizes`` (default 1000,10000) are built a second time in the
same run with the graph write path from before issue 12 (``bench/_old_graph_writes.py``);
``--graph-writes old`` uses it for every size.

    python bench/index_build.py [--sizes 1000,10000,100000] [--baseline-sizes 1000,10000]
        [--embedder hash-512] [--graph-writes new|old] [--keep]
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import _old_graph_writes as old_writes  # noqa: E402
import _synthetic as synth  # noqa: E402
from _latency_build import CHUNKS_PER_EPISODE, chunks_of, youtube_url  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "index_build"
TARGET_S, TARGET_SIZE = 600.0, 100_000
STORES = ("catalog", "keyword", "vector", "embed", "graph", "read model")
PLACEHOLDER = "x"
"""The episode id extraction runs under (the cache is shared by every size and run)."""


@dataclass
class Clock:
    """Seconds spent per label, in all and per episode."""

    totals: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STORES, 0.0))
    episodes: list[dict[str, float]] = field(default_factory=list)

    def episode_done(self, before: dict[str, float]) -> None:
        self.episodes.append({k: v - before[k] for k, v in self.totals.items()})

    def per_episode_ms(self, label: str, last: bool) -> float:
        """Mean ms per episode over the first (or last) tenth of the build."""
        tenth = max(1, len(self.episodes) // 10)
        part = self.episodes[-tenth:] if last else self.episodes[:tenth]
        return 1000 * sum(e[label] for e in part) / tenth

    def timed(self, label: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.totals[label] += time.perf_counter() - started

        return run


class Timed:
    """A store whose every method call is added to ``clock`` under ``label``."""

    def __init__(self, target: Any, label: str, clock: Clock) -> None:
        self._target, self._label, self._clock = target, label, clock

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        return self._clock.timed(self._label, attribute) if callable(attribute) else attribute


class TimedEmbedder:
    """The embedder with ``embed`` timed apart (it runs inside the vector index's upsert)."""

    def __init__(self, real: Any, clock: Clock) -> None:
        self.real = real
        self.embed = clock.timed("embed", real.embed)

    @property
    def name(self) -> str:
        return str(self.real.name)

    @property
    def dimension(self) -> int:
        return int(self.real.dimension)

    def load(self) -> None:
        self.real.load()

    def embed_query(self, text: str) -> list[float]:
        return list(self.real.embed_query(text))


def extracted(index: int, pool_size: int, pool: synth.SentencePool, extractor: Any) -> Any:
    """Episode ``index``'s (synthetic episode, entities, relations), extracted once and cached."""
    from castgraph.core.models import Episode

    ep = synth.episode(pool, index)
    path = CACHE / "extract" / f"{pool_size}-{index:05d}.pkl"
    if path.exists():
        entities, relations = pickle.loads(path.read_bytes())
    else:
        episode = Episode(id=PLACEHOLDER, source_id=PLACEHOLDER, title=ep.title, url="")
        entities, relations = extractor.extract(chunks_of(episode, ep, ""))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps((entities, relations)))
    return ep, entities, relations


def rekey(items: Sequence[Any], episode_id: str) -> tuple[Any, ...]:
    """Entities or relations extracted under ``PLACEHOLDER``, for the real episode."""
    from dataclasses import replace

    # A chunk id starts with its episode's id (``core.models.chunk_id``).
    return tuple(
        replace(item, chunk_ids=tuple(episode_id + c[len(PLACEHOLDER) :] for c in item.chunk_ids))
        for item in items
    )


def index_one(catalog: Any, indexer: Any, work: Any, clock: Clock) -> None:
    """One episode: catalog → keyword, vector and graph → ``indexed``."""
    from castgraph.core.models import EpisodeState, MediaItem

    ep, entities, relations = work
    url = youtube_url(ep.key)
    before = dict(clock.totals)
    started = time.perf_counter()
    episode = catalog.register(MediaItem(f"bench:{ep.key}", url, ep.title, published=ep.published))
    chunks = chunks_of(episode, ep, url)
    document = catalog.save_analysis(
        episode.id, chunks, rekey(entities, episode.id), rekey(relations, episode.id)
    )
    catalog.set_state(episode.id, EpisodeState.INDEXING)
    lap = time.perf_counter()
    indexer.index(document)
    indexed = time.perf_counter()
    catalog.set_state(episode.id, EpisodeState.INDEXED)
    clock.totals["catalog"] += (lap - started) + (time.perf_counter() - indexed)
    clock.episode_done(before)


def open_stores(data_dir: Path, args: argparse.Namespace, clock: Clock) -> tuple[Any, ...]:
    """(catalog, indexer, closers) of a fresh data directory."""
    from castgraph.api import wiring
    from castgraph.core.settings import Settings
    from castgraph.retrieval.embeddings import make_embedder
    from castgraph.retrieval.graph import make_graph_store
    from castgraph.retrieval.graph.readmodel import GraphReadModel
    from castgraph.retrieval.indexer import StoresIndexer, graph_writes
    from castgraph.retrieval.keyword import SqliteKeywordIndex
    from castgraph.retrieval.vector import vector_index

    settings = Settings(data_dir=data_dir, embedding_model=args.embedder)
    catalog = wiring.catalog(settings)
    embedder = TimedEmbedder(
        make_embedder(args.embedder, models_dir=settings.resolved_models_dir), clock
    )
    embedder.load()
    keyword = SqliteKeywordIndex(settings.keyword_path).open()
    vector = vector_index(settings, embedder).open()  # CASTGRAPH_VECTOR_BACKEND: flat by default
    graph = make_graph_store("embedded", path=settings.graph_path).open()
    # serve's indexer writes the graph search read model beside the graph: it is indexing too
    reads = GraphReadModel(settings.graph_read_path).open()
    indexer = StoresIndexer(
        Timed(keyword, "keyword", clock),
        Timed(vector, "vector", clock),
        graph_writes(Timed(graph, "graph", clock), Timed(reads, "read model", clock)),
    )
    closers = [reads.close, graph.close, vector.close, keyword.close, catalog.close]
    return catalog, indexer, closers


def build(
    size: int, path: str, args: argparse.Namespace, pool: synth.SentencePool
) -> dict[str, Any]:
    """Build ``size`` chunks with the ``path`` ("new" or "old") graph writes; the figures."""
    from castgraph.ingest.extract import make_extractor

    episodes = max(1, round(size / CHUNKS_PER_EPISODE))
    extractor = make_extractor("offline")
    started = time.perf_counter()
    work = [extracted(i, args.pool, pool, extractor) for i in range(episodes)]
    extract_s = time.perf_counter() - started
    data_dir = CACHE / f"{size}-{path}"
    shutil.rmtree(data_dir, ignore_errors=True)
    clock = Clock()
    patches = old_writes.install() if path == "old" else []
    catalog, indexer, closers = open_stores(data_dir, args, clock)
    print(f"building {size} chunks ({episodes} episodes, {path} graph writes)", flush=True)
    try:
        started = time.perf_counter()
        for i, item in enumerate(work):
            index_one(catalog, indexer, item, clock)
            if (i + 1) % max(1, episodes // 10) == 0:
                elapsed = time.perf_counter() - started
                print(f"  {i + 1}/{episodes} episodes, {elapsed:.0f} s", flush=True)
        total = time.perf_counter() - started
    finally:
        for close in closers:
            close()
        for patch in patches:
            patch.stop()
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    return figures(size, path, episodes, total, extract_s, clock)


def figures(
    size: int, path: str, episodes: int, total: float, extract_s: float, clock: Clock
) -> dict[str, Any]:
    t = dict(clock.totals)
    return {
        "chunks": episodes * CHUNKS_PER_EPISODE,
        "path": path,
        "episodes": episodes,
        "total_s": total,
        "embed_s": t["embed"],
        "index_excl_embed_s": total - t["embed"],
        "keyword_s": t["keyword"],
        "vector_s": t["vector"] - t["embed"],
        "graph_s": t["graph"],
        "read_model_s": t["read model"],
        "catalog_s": t["catalog"],
        "graph_ms_first": clock.per_episode_ms("graph", last=False),
        "graph_ms_last": clock.per_episode_ms("graph", last=True),
        "vector_ms_first": clock.per_episode_ms("vector", last=False),
        "vector_ms_last": clock.per_episode_ms("vector", last=True),
        "extract_s (not indexing)": extract_s,
    }


def report(rows: Sequence[dict[str, Any]]) -> None:
    columns = [
        ("chunks", "chunks", "{:>7}"),
        ("path", "graph", "{:>5}"),
        ("total_s", "total s", "{:>8.1f}"),
        ("embed_s", "embed s", "{:>8.1f}"),
        ("index_excl_embed_s", "excl. embed s", "{:>13.1f}"),
        ("keyword_s", "keyword s", "{:>9.1f}"),
        ("vector_s", "vector s", "{:>8.1f}"),
        ("graph_s", "graph s", "{:>8.1f}"),
        ("read_model_s", "read model s", "{:>12.1f}"),
        ("catalog_s", "catalog s", "{:>9.1f}"),
        ("graph_ms_first", "graph ms/ep first 10%", "{:>21.0f}"),
        ("graph_ms_last", "last 10%", "{:>8.0f}"),
        ("vector_ms_first", "vector ms/ep first 10%", "{:>22.0f}"),
        ("vector_ms_last", "last 10%", "{:>8.0f}"),
    ]
    print(
        "\n" + "  ".join(f"{title:>{len(fmt.format(rows[0][key]))}}" for key, title, fmt in columns)
    )
    for row in rows:
        print("  ".join(fmt.format(row[key]) for key, _, fmt in columns))
    for row in rows:
        if row["chunks"] >= TARGET_SIZE and row["path"] == "new":
            ok = row["index_excl_embed_s"] <= TARGET_S
            print(
                f"\ntarget: {row['chunks']} chunks indexed in {row['index_excl_embed_s']:.0f} s "
                f"excluding embedding ({row['embed_s']:.0f} s embedding): "
                f"{'met' if ok else 'NOT met'} (≤ {TARGET_S:.0f} s)"
            )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="index sizes, in chunks")
    parser.add_argument("--baseline-sizes", default="1000,10000", help="also built the old way")
    parser.add_argument("--graph-writes", choices=("new", "old"), default="new")
    parser.add_argument("--embedder", default="hash-512", help="a castgraph embedding model")
    parser.add_argument("--pool", type=int, default=16000, help="distinct sentences")
    parser.add_argument("--keep", action="store_true", help="keep the built data directories")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    logging.getLogger("castgraph").setLevel(logging.WARNING)
    pool = synth.sentence_pool(args.pool)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    baseline = {int(s) for s in args.baseline_sizes.split(",") if s.strip()}
    rows = []
    for size in sizes:
        if args.graph_writes == "new" and size in baseline:
            rows.append(build(size, "old", args, pool))
        rows.append(build(size, args.graph_writes, args, pool))
        report(rows)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
