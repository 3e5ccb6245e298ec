"""Synthetic episodes written through the real stores, for the benchmarks at scale.

Shared by ``bench/search_latency.py`` (whole synthetic indexes) and ``bench/retrieval.py``
(distractors beside the question corpus). Episodes go through the ordinary indexing path, as in
``tests/corpus.py``: ``catalog.register`` → ``save_analysis`` (chunks + entities and relations
from the real offline extractor) → ``services.indexer.index`` (keyword, Chroma, graph, as wired
by the settings) → ``set_state(INDEXED)``, so whatever the indexer does (bulk writes, derived read
models) happens here too.

Synthetic chunks get cheap vectors composed from their sentences' (``bench/_latency_vectors.py``).
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import _synthetic as synth
from _latency_vectors import ComposedEmbedder, Composer, composed_embedders, composer

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
CHUNKS_PER_EPISODE = 200
# What an index on disk depends on: a change here makes cached indexes stale.
INDEX_CODE = ("castgraph/retrieval", "castgraph/catalog", "castgraph/ingest", "castgraph/core")
INDEX_FILES = ("castgraph/api/_indexes.py", "castgraph/api/wiring.py")
BENCH_FILES = ("_synthetic.py", "_latency_vectors.py", "_latency_build.py")


def settings_for(data_dir: Path, models_dir: Path, embedder: str) -> Any:
    from castgraph.core.settings import Settings

    return Settings(data_dir=data_dir, models_dir=models_dir, embedding_model=embedder)


def code_fingerprint() -> str:
    """A hash of the code that writes indexes (cached indexes built by other code are stale)."""
    digest = hashlib.sha256()
    files = [p for d in INDEX_CODE for p in sorted((ROOT / d).rglob("*.py"))]
    files += [ROOT / f for f in INDEX_FILES] + [ROOT / "bench" / f for f in BENCH_FILES]
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def youtube_url(key: str) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha1(key.encode()).digest()).decode()
    return f"https://www.youtube.com/watch?v={digest[:11]}"


def source_id(ep: synth.SyntheticEpisode) -> str:
    return f"bench:{ep.key}"


def episode_sizes(chunks: int) -> list[int]:
    """Chunks per synthetic episode: ``CHUNKS_PER_EPISODE`` each, the remainder last."""
    sizes = [CHUNKS_PER_EPISODE] * (chunks // CHUNKS_PER_EPISODE)
    return [*sizes, chunks % CHUNKS_PER_EPISODE] if chunks % CHUNKS_PER_EPISODE else sizes


def chunks_of(episode: Any, ep: synth.SyntheticEpisode, url: str) -> list[Any]:
    from castgraph.core.models import Chunk, chunk_id

    return [
        Chunk(
            chunk_id(episode.id, i),
            episode.id,
            i,
            30.0 * i,
            30.0 * i + 35.0,
            c.text,
            c.speakers,
            ep.language,
            ep.title,
            url,
            ep.published,
        )
        for i, c in enumerate(ep.chunks)
    ]


def new_timings() -> dict[str, float]:
    return {"extract": 0.0, "index": 0.0, "total": 0.0}


def index_document(services: Any, document: Any, timings: dict[str, float]) -> Any:
    """Save an analysed episode in the catalog, index it, mark it indexed; the saved document."""
    from castgraph.core.models import EpisodeState

    catalog = services.catalog
    saved = catalog.save_analysis(
        document.episode.id, document.chunks, document.entities, document.relations
    )
    catalog.set_state(document.episode.id, EpisodeState.INDEXING)
    lap = time.perf_counter()
    services.indexer.index(saved)
    timings["index"] += time.perf_counter() - lap
    catalog.set_state(document.episode.id, EpisodeState.INDEXED)
    return saved


def index_synthetic(
    services: Any,
    extractor: Any,
    embedders: Sequence[ComposedEmbedder],
    ep: synth.SyntheticEpisode,
    timings: dict[str, float],
) -> Any:
    """catalog → offline extraction → every index → ``indexed``; the saved document."""
    from castgraph.core.models import EpisodeDocument, MediaItem

    url = youtube_url(ep.key)
    started = time.perf_counter()
    item = MediaItem(source_id(ep), url, ep.title, published=ep.published)
    episode = services.catalog.register(item)
    chunks = chunks_of(episode, ep, url)
    lap = time.perf_counter()
    entities, relations = extractor.extract(chunks)
    timings["extract"] += time.perf_counter() - lap
    for embedder in embedders:  # whichever the vector index holds
        embedder.known = {c.text: c.sentences for c in ep.chunks}
    document = EpisodeDocument(episode, tuple(chunks), tuple(entities), tuple(relations))
    saved = index_document(services, document, timings)
    timings["total"] += time.perf_counter() - started
    return saved


def add_synthetic(
    services: Any,
    embedders: Sequence[ComposedEmbedder],
    pool: synth.SentencePool,
    chunks: int,
    timings: dict[str, float],
    reserved: tuple[set[str], set[str]] = (set(), set()),
) -> int:
    """Index ``chunks`` synthetic chunks as episodes 0, 1, ...; their count of episodes.

    ``reserved`` holds (episode ids, titles) that synthetic episodes must not take: the real
    episodes beside them, which gold answers are matched against.
    """
    from castgraph.ingest.extract import make_extractor

    extractor = make_extractor("offline")
    sizes = episode_sizes(chunks)
    for i, size in enumerate(sizes):
        ep = synth.episode(pool, i, chunks=size)
        saved = index_synthetic(services, extractor, embedders, ep, timings)
        if saved.episode.id in reserved[0] or ep.title in reserved[1]:
            raise RuntimeError(f"synthetic episode {ep.key} collides with a real one")
        if (i + 1) % max(1, len(sizes) // 10) == 0:
            print(f"  {i + 1}/{len(sizes)} episodes, {timings['total']:.0f} s", flush=True)
    return len(sizes)


def fill(
    data_dir: Path,
    settings: Any,
    pool: synth.SentencePool | None,
    compose: Composer | None,
    synthetic: int,
    real: Sequence[Any] = (),
    *,
    plain_chroma: bool = False,
) -> dict[str, float]:
    """Write ``real`` documents then ``synthetic`` chunks into the stores of ``data_dir``
    (synthetic chunks get ``compose``'s vectors, or the real model's when None).
    ``plain_chroma``: when the settings' vector backend is not Chroma, the same vectors go to
    a Chroma collection too, for the plain-Chroma baseline (its time is kept out of the index
    time, under ``plain_chroma``)."""
    from castgraph.api import wiring
    from castgraph.api.datadir import writer_lock
    from castgraph.core.models import MediaItem

    timings = new_timings()
    with writer_lock(data_dir, "bench build"), composed_embedders(compose) as made:
        services = wiring.open_services(settings)
        try:
            if plain_chroma:
                _also_to_chroma(services, data_dir, timings)
            for doc in real:
                ep, started = doc.episode, time.perf_counter()
                item = MediaItem(ep.source_id, ep.url, ep.title, ep.duration, ep.published)
                services.catalog.register(item)
                index_document(services, doc, timings)
                timings["total"] += time.perf_counter() - started
            reserved = ({d.episode.id for d in real}, {d.episode.title for d in real})
            if synthetic:
                assert pool is not None
                add_synthetic(services, made, pool, synthetic, timings, reserved)
        finally:
            services.close()
    timings["catalog"] = timings["total"] - timings["extract"] - timings["index"]
    return timings


def _also_to_chroma(services: Any, data_dir: Path, timings: dict[str, float]) -> None:
    """Make the services' (non-Chroma) vector index write each batch to Chroma as well."""
    from castgraph.retrieval.vector import ChromaVectorIndex

    vector = services.search._retrievers.get("vector")
    if vector is None or isinstance(vector, ChromaVectorIndex):
        return
    chroma = ChromaVectorIndex(vector.embedder, path=data_dir / "chroma").open()
    services.closers.append(chroma.close)
    write = vector.upsert
    timings["plain_chroma"] = 0.0

    def both(chunks: Sequence[Any]) -> None:
        write(chunks)
        lap = time.perf_counter()
        chroma.upsert(chunks)
        spent = time.perf_counter() - lap
        timings["plain_chroma"] += spent
        timings["index"] -= spent  # index_document times the whole indexer call
        timings["total"] -= spent

    vector.upsert = both


def cached_index(size: int, args: Any, pool: synth.SentencePool) -> dict[str, Any]:
    """``search_latency``'s data directory of ``size`` synthetic chunks, built when missing or
    stale (other pool, embedder or index code; ``args.rebuild``); its marker."""
    import json
    import shutil

    slug = "".join(c if c.isalnum() else "-" for c in args.embedder)
    data_dir = CACHE / "search_latency" / f"{slug}-{size}"
    marker_path = data_dir / "bench-built.json"
    wanted = {"pool": args.pool, "chunks": size, "embedder": args.embedder}
    wanted["code"] = code_fingerprint()
    backend = settings_for(data_dir, args.models_dir, args.embedder).resolved_vector_backend
    if backend != "chroma":  # its own directory, with Chroma beside it for the baseline
        data_dir = data_dir.with_name(f"{data_dir.name}-{backend}")
        marker_path = data_dir / "bench-built.json"
        wanted["vector_backend"] = backend
    marker: dict[str, Any] = {}
    if marker_path.exists() and not args.rebuild:
        marker = json.loads(marker_path.read_text())
        if getattr(args, "reuse_stale", False) and "code" in marker:
            wanted["code"] = marker["code"]  # search-only changes: the files are the same format
    if any(marker.get(key) != value for key, value in wanted.items()):
        compose = composer(pool, args.embedder, args.models_dir)
        episodes = len(episode_sizes(size))
        print(f"building {size} chunks ({episodes} episodes) in {data_dir}", flush=True)
        shutil.rmtree(data_dir, ignore_errors=True)
        settings = settings_for(data_dir, args.models_dir, args.embedder)
        timings = fill(data_dir, settings, pool, compose, size, plain_chroma=True)
        marker = {**wanted, "episodes": episodes, "build_s": timings}
        marker_path.write_text(json.dumps(marker, indent=2))
    return {**marker, "data_dir": data_dir}
