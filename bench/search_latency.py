"""Search latency benchmark: ``GET /api/search`` under 20 concurrent clients, beside plain Chroma.

For each index size (``--sizes``, in chunks) it builds a data directory once into
``bench/.cache/search_latency/<size>/`` (reused unless ``--rebuild``), then:

1. starts the real server (``castgraph serve --port P`` with ``CASTGRAPH_DATA_DIR`` set to it),
   warms it up with every query once (one client: the single-client latency), then runs
   ``--clients`` closed-loop clients (threads, one ``httpx.Client`` each) issuing ``--requests``
   requests per run (or for ``--max-seconds``) from a fixed list of Spanish and English queries,
   ``--runs`` times; ``--think-ms`` makes each client pause (a user reading) between requests;
2. reads the server's peak RSS (``VmHWM`` of its ``/proc/<pid>/status``) and its private memory
   (``RssAnon``: ``VmHWM`` also counts the keyword index's file once per thread that mapped it)
   and stops it;
3. does the same against the baseline: a minimal FastAPI/uvicorn process over the same Chroma
   collection whose endpoint only embeds the query (same embedder) and calls
   ``collection.query(query_embeddings=[v], n_results=10)``, returning ids, documents,
   metadatas and distances as JSON: the HTTP stack is the same, the search is plain Chroma;
4. in-process, with no server running: the same two searches from ``--clients`` threads (no HTTP),
   and, one query at a time, how long each retriever, the fusion/lookup and the JSON take.

Reported figures are the medians over runs of p50/p95/p99 latency and requests per second, with
the ratio fused/baseline measured in the same run. The target (2 cores: p50 < 50 ms and
p95 < 150 ms at 100k chunks) is checked and printed, never asserted. With closed-loop clients,
mean latency is clients / throughput (Little's law): 20 clients and a 50 ms p50 need ~400 req/s.

Data. Episodes of 200 chunks, each chunk 60-120 words of synthetic Spanish or English made of
whole sentences from a fixed pool (``bench/_synthetic.py``: Zipf-distributed vocabulary with a
pseudo-word tail, people, places and organisations). Episodes go through the real stores as in
``tests/corpus.py``: ``catalog.register`` → ``save_analysis`` (chunks + entities and relations
from the real offline extractor) → ``services.indexer.index`` (keyword, Chroma, embedded graph)
→ ``set_state(INDEXED)``. No transcript segments are stored (search never reads them). Building
is slow at 100k because each graph upsert gets slower as the graph grows (about 1 hour on 2
shared cores; 1k: seconds, 10k: about a minute); ``--build-only`` builds the caches.

Vectors, honestly. Embedding 100k chunks with ``use-multilingual-v3`` would take ~10 minutes on
2 cores, so the pool's sentences (``--pool`` of them) are embedded once with the real model
(cached as ``sentences-<embedder>-<pool>.npy``) and each chunk's vector is the L2-normalised
mean of its sentences' vectors. The index receives them through the real ``ChromaVectorIndex``
(same collection name, ids, documents and metadata), via an embedder wrapper whose ``embed``
composes known chunk texts; anything else, queries included, goes to the real model. At search
time the server embeds every query for real. The vectors are not what the model would give for
the whole chunk, but they are the model's vectors of the chunk's parts, with the same dimension
and a similar spread, which is what the HNSW search cost depends on.

    python bench/search_latency.py [--sizes 1000,10000,100000] [--clients 20] [--requests 400]
        [--runs 3] [--max-seconds 60] [--think-ms 0] [--embedder use-multilingual-v3|hash]
        [--rebuild] [--build-only] [--skip-in-process] [--port 8765]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import _synthetic as synth  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "search_latency"
CHUNKS_PER_EPISODE = 200
MARKER = "bench-built.json"
TARGET_P50_MS, TARGET_P95_MS, TARGET_SIZE = 50.0, 150.0, 100_000


# ------------------------------------------------------------------------------------ building


class ComposedEmbedder:
    """A ``TextEmbedder`` giving known chunk texts their composed vector; the rest is real."""

    def __init__(self, real: Any, vectors: np.ndarray) -> None:
        self.real = real
        self.vectors = vectors
        self.known: dict[str, tuple[int, ...]] = {}

    @property
    def name(self) -> str:
        return str(self.real.name)

    @property
    def dimension(self) -> int:
        return int(self.real.dimension)

    def load(self) -> None:
        self.real.load()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if all(text in self.known for text in texts):
            return [synth.compose(self.vectors, self.known[text]) for text in texts]
        return list(self.real.embed(texts))

    def embed_query(self, text: str) -> list[float]:
        return list(self.real.embed_query(text))


def settings_for(data_dir: Path, args: argparse.Namespace) -> Any:
    from castgraph.core.settings import Settings

    return Settings(data_dir=data_dir, models_dir=args.models_dir, embedding_model=args.embedder)


def real_embedder(args: argparse.Namespace) -> Any:
    from castgraph.retrieval.embeddings import make_embedder

    return make_embedder(args.embedder, models_dir=args.models_dir)


def sentence_vectors(pool: synth.SentencePool, args: argparse.Namespace) -> np.ndarray:
    """The pool's sentence vectors from the real embedder, computed once and cached."""
    texts = pool.all_texts()
    embedder = real_embedder(args)
    slug = "".join(c if c.isalnum() else "-" for c in args.embedder)
    path = CACHE / f"sentences-{slug}-{len(texts)}.npy"
    if path.exists():
        return np.load(path)
    started = time.perf_counter()
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    print(f"embedded {len(texts)} pool sentences in {time.perf_counter() - started:.0f} s")
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def youtube_url(key: str) -> str:
    import base64
    import hashlib

    digest = base64.urlsafe_b64encode(hashlib.sha1(key.encode()).digest()).decode()
    return f"https://www.youtube.com/watch?v={digest[:11]}"


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


def index_episode(
    services: Any,
    extractor: Any,
    embedder: ComposedEmbedder,
    ep: synth.SyntheticEpisode,
    timings: dict[str, float],
) -> None:
    """catalog → offline extraction → keyword, Chroma and graph → ``indexed`` (tests/corpus.py)."""
    from castgraph.core.models import EpisodeState, MediaItem

    catalog, url = services.catalog, youtube_url(ep.key)
    started = time.perf_counter()
    item = MediaItem(f"bench:{ep.key}", url, ep.title, published=ep.published)
    episode = catalog.register(item)
    chunks = chunks_of(episode, ep, url)
    lap = time.perf_counter()
    entities, relations = extractor.extract(chunks)
    timings["extract"] += time.perf_counter() - lap
    document = catalog.save_analysis(episode.id, chunks, entities, relations)
    catalog.set_state(episode.id, EpisodeState.INDEXING)
    embedder.known = {c.text: c.sentences for c in ep.chunks}
    lap = time.perf_counter()
    services.indexer.index(document)
    timings["index"] += time.perf_counter() - lap
    catalog.set_state(episode.id, EpisodeState.INDEXED)
    timings["total"] += time.perf_counter() - started


def full_build(
    data_dir: Path,
    episodes: int,
    args: argparse.Namespace,
    pool: synth.SentencePool,
    vectors: np.ndarray,
) -> dict[str, float]:
    """A fresh data directory holding ``episodes`` synthetic episodes in every store."""
    from castgraph.api import wiring
    from castgraph.api.datadir import writer_lock
    from castgraph.ingest.extract import make_extractor
    from castgraph.retrieval import embeddings

    shutil.rmtree(data_dir, ignore_errors=True)
    real_make = embeddings.make_embedder
    made: list[ComposedEmbedder] = []

    def composed_make(model: str, **kwargs: Any) -> ComposedEmbedder:
        made.append(ComposedEmbedder(real_make(model, **kwargs), vectors))
        return made[-1]

    timings = {"extract": 0.0, "index": 0.0, "total": 0.0}
    with (
        writer_lock(data_dir, "bench/search_latency.py build"),
        mock.patch.object(embeddings, "make_embedder", composed_make),
    ):
        services = wiring.open_services(settings_for(data_dir, args))
        try:
            extractor = make_extractor("offline")
            for i in range(episodes):
                index_episode(services, extractor, made[0], synth.episode(pool, i), timings)
                if (i + 1) % max(1, episodes // 10) == 0:
                    print(f"  {i + 1}/{episodes} episodes, {timings['total']:.0f} s", flush=True)
        finally:
            services.close()
    timings["catalog"] = timings["total"] - timings["extract"] - timings["index"]
    return timings


def add_vectors(
    data_dir: Path,
    episodes: int,
    args: argparse.Namespace,
    pool: synth.SentencePool,
    vectors: np.ndarray,
) -> float:
    """Fill another embedder's Chroma collection of an already built data directory."""
    from castgraph.api import wiring
    from castgraph.retrieval.vector import ChromaVectorIndex

    settings = settings_for(data_dir, args)
    started = time.perf_counter()
    catalog = wiring.catalog(settings)
    embedder = ComposedEmbedder(real_embedder(args), vectors)
    index = ChromaVectorIndex(embedder, path=settings.chroma_path).open()
    try:
        ids = {e.source_id: e.id for e in catalog.list_episodes()}
        for i in range(episodes):
            ep = synth.episode(pool, i)
            embedder.known = {c.text: c.sentences for c in ep.chunks}
            document = catalog.document(ids[f"bench:{ep.key}"])
            assert document is not None
            index.delete_episode(document.episode.id)
            index.upsert(document.chunks)
    finally:
        index.close()
        catalog.close()
    return time.perf_counter() - started


def build(size: int, args: argparse.Namespace, pool: synth.SentencePool) -> dict[str, Any]:
    """The cached data directory of ``size`` chunks (built when missing); its marker."""
    data_dir = CACHE / str(size)
    marker_path = data_dir / MARKER
    episodes = max(1, round(size / CHUNKS_PER_EPISODE))
    marker: dict[str, Any] = {}
    if marker_path.exists() and not args.rebuild:
        marker = json.loads(marker_path.read_text())
    if marker.get("pool") != args.pool or marker.get("episodes") != episodes:
        vectors = sentence_vectors(pool, args)
        print(f"building {size} chunks ({episodes} episodes) in {data_dir}", flush=True)
        timings = full_build(data_dir, episodes, args, pool, vectors)
        marker = {"pool": args.pool, "episodes": episodes, "build_s": timings}
        marker["vectors_s"] = {args.embedder: timings["index"]}
    elif args.embedder not in marker["vectors_s"]:
        vectors = sentence_vectors(pool, args)
        print(f"adding {args.embedder} vectors to {data_dir}", flush=True)
        marker["vectors_s"][args.embedder] = add_vectors(data_dir, episodes, args, pool, vectors)
    marker_path.write_text(json.dumps(marker, indent=2))
    marker["data_dir"] = data_dir
    marker["chunks"] = episodes * CHUNKS_PER_EPISODE
    return marker


# ------------------------------------------------------------------------------------- load


@dataclass(frozen=True)
class RunStats:
    """Per-request latencies (ms) of one run and its wall time."""

    latencies: list[float]
    wall_s: float
    errors: int = 0

    def p(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies else float("nan")

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall_s if self.wall_s else float("nan")


def closed_loop(
    call: Callable[[str], None],
    queries: Sequence[str],
    clients: int,
    requests: int,
    max_seconds: float = float("inf"),
    think_s: float = 0.0,
) -> RunStats:
    """``clients`` threads, each sending its next request when the last one returns.

    With ``think_s`` > 0 each client first pauses a random time of that mean (a user reading
    results), so the load is below saturation. Stops after ``requests`` requests or, for slow
    servers, ``max_seconds`` (no new request starts after that; those in flight complete).
    """
    lock, state = threading.Lock(), {"next": 0, "errors": 0}
    deadline = time.perf_counter() + max_seconds

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
                call(queries[n % len(queries)])
            except Exception as exc:  # counted and shown once: a benchmark keeps going
                with lock:
                    state["errors"] += 1
                if state["errors"] == 1:
                    print(f"  request failed: {exc!r}", file=sys.stderr)
                continue
            latencies.append((time.perf_counter() - started) * 1000)

    with ThreadPoolExecutor(clients) as executor:
        started = time.perf_counter()
        results = list(executor.map(client, range(clients)))
        wall = time.perf_counter() - started
    return RunStats([x for r in results for x in r], wall, state["errors"])


class HttpSearch:
    """``GET base + path?q=&k=10`` through one ``httpx.Client`` per thread."""

    def __init__(self, base: str, path: str) -> None:
        self.url = base + path
        self._local = threading.local()
        self._clients: list[Any] = []

    def __call__(self, query: str) -> None:
        import httpx

        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(timeout=900)
            self._clients.append(client)
        response = client.get(self.url, params={"q": query, "k": 10})
        response.raise_for_status()
        response.json()

    def close(self) -> None:
        for client in self._clients:
            client.close()


@dataclass(frozen=True)
class Measured:
    """Medians over runs, plus the single-client warm-up pass."""

    p50: float
    p95: float
    p99: float
    rps: float
    errors: int
    single_p50: float
    requests: int
    rss_mb: float = float("nan")
    anon_mb: float = float("nan")


def measure(
    call: Callable[[str], None], queries: Sequence[str], args: argparse.Namespace
) -> Measured:
    """One single-client pass over every query (the warm-up), then ``--runs`` loaded runs."""
    single = closed_loop(call, queries, 1, len(queries), args.max_seconds)
    think = args.think_ms / 1000
    runs = [
        closed_loop(call, queries, args.clients, args.requests, args.max_seconds, think)
        for _ in range(args.runs)
    ]
    return Measured(
        p50=statistics.median(r.p(50) for r in runs),
        p95=statistics.median(r.p(95) for r in runs),
        p99=statistics.median(r.p(99) for r in runs),
        rps=statistics.median(r.rps for r in runs),
        errors=sum(r.errors for r in runs) + single.errors,
        single_p50=single.p(50),
        requests=int(statistics.median(len(r.latencies) for r in runs)),
    )


# ---------------------------------------------------------------------------------- servers


def memory_mb(pid: int) -> tuple[float, float]:
    """(``VmHWM``, ``RssAnon``) of a process in MiB: peak resident set, private memory now.

    ``VmHWM`` counts file pages once per mapping: every keyword-index connection (one per
    thread) maps the SQLite file, so it can far exceed the memory really used; ``RssAnon``
    leaves file-backed pages out.
    """
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
    env = dict(os.environ)
    env.update(
        CASTGRAPH_DATA_DIR=str(data_dir),
        CASTGRAPH_MODELS_DIR=str(args.models_dir),
        CASTGRAPH_EMBEDDING_MODEL=args.embedder,
    )
    return env


def measure_server(
    command: list[str],
    path: str,
    data_dir: Path,
    port: int,
    args: argparse.Namespace,
    queries: Sequence[str],
) -> Measured:
    """Start a server, warm it (one request), measure it, read its peak RSS, stop it."""
    log = data_dir / f"bench-server-{port}.log"
    with server(command, server_env(data_dir, args), port, log) as proc:
        search = HttpSearch(f"http://127.0.0.1:{port}", path)
        try:
            started = time.perf_counter()
            search(queries[0])  # loads the model (and the linker's entity table)
            print(f"    first request {time.perf_counter() - started:.1f} s", flush=True)
            measured = measure(search, queries, args)
        finally:
            search.close()
        rss, anon = memory_mb(proc.pid)
    return Measured(**{**measured.__dict__, "rss_mb": rss, "anon_mb": anon})


def plain_chroma(
    data_dir: Path, embedder_name: str, models_dir: Path
) -> Callable[[str, int], dict[str, Any]]:
    """A plain Chroma search: embed the query, ``collection.query``, the hits' fields."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    from castgraph.retrieval.embeddings import make_embedder
    from castgraph.retrieval.vector import _embedding_function as ef
    from castgraph.retrieval.vector.chroma import collection_name

    embedder = make_embedder(embedder_name, models_dir=models_dir)
    ef.register()
    client = chromadb.PersistentClient(
        path=str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
    )
    name = collection_name("chunks", embedder.name, embedder.dimension)
    collection = client.get_collection(
        name, embedding_function=ef.CastgraphEmbeddingFunction(embedder)
    )

    def search(query: str, k: int = 10) -> dict[str, Any]:
        found = collection.query(query_embeddings=[embedder.embed_query(query)], n_results=k)
        return {key: found[key][0] for key in ("ids", "documents", "metadatas", "distances")}

    return search


def baseline_app(data_dir: Path, embedder_name: str, models_dir: Path) -> Any:
    """A FastAPI app whose ``/search`` is ``plain_chroma`` and nothing else."""
    from fastapi import FastAPI

    plain = plain_chroma(data_dir, embedder_name, models_dir)
    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/search")
    def search(q: str, k: int = 10) -> dict[str, Any]:
        return plain(q, k)

    return app


# ------------------------------------------------------------------------------- in-process


class StageTimer:
    """Accumulates the time spent in patched functions, per label (one query at a time)."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}

    def wrap(self, label: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = (time.perf_counter() - started) * 1000
                self.totals[label] = self.totals.get(label, 0.0) + elapsed

        return timed

    @contextmanager
    def patched(self, targets: Sequence[tuple[str, Any, str]]) -> Iterator[None]:
        from contextlib import ExitStack

        with ExitStack() as stack:
            for label, owner, attribute in targets:
                wrapper = self.wrap(label, getattr(owner, attribute))
                stack.enter_context(mock.patch.object(owner, attribute, wrapper))
            yield


def stage_targets(embedder_class: type) -> list[tuple[str, Any, str]]:
    """(label, owner, attribute) of every stage timed by ``split``; indented = inside the above."""
    from castgraph.api.services import VisibleEpisodes
    from castgraph.retrieval import search
    from castgraph.retrieval.graph.linking import EntityLinker
    from castgraph.retrieval.graph.readmodel import GraphReadModel
    from castgraph.retrieval.graph.retriever import GraphRetriever
    from castgraph.retrieval.keyword import KeywordIndex
    from castgraph.retrieval.vector import ChromaVectorIndex

    return [
        ("SearchService.search (all)", search.SearchService, "search"),
        ("vector retriever", ChromaVectorIndex, "search"),
        ("  query embedding", embedder_class, "embed_query"),
        ("keyword retriever", KeywordIndex, "search"),
        ("graph retriever", GraphRetriever, "search"),
        ("  read model version check", GraphReadModel, "version"),
        ("  entity linking", EntityLinker, "link"),
        ("    n-gram embeddings", embedder_class, "embed"),
        ("  mentions (read model)", GraphReadModel, "mentions"),
        ("  relations (read model)", GraphReadModel, "relations"),
        ("fusion (RRF)", search, "reciprocal_rank_fusion"),
        ("visible episodes", VisibleEpisodes, "__call__"),
        ("chunk lookup (keyword.get)", KeywordIndex, "get"),
    ]


def split(
    services: Any, queries: Sequence[str], embedder_class: type, max_seconds: float
) -> dict[str, list[float]]:
    """Per query (until ``max_seconds``), ms in each stage of a search and of its JSON."""
    from castgraph.api.schemas import SearchHit, SearchResponse

    timer = StageTimer()
    targets = stage_targets(embedder_class)
    per_stage: dict[str, list[float]] = {t[0]: [] for t in targets}
    per_stage["response model + JSON"] = []
    with timer.patched(targets):
        deadline = time.perf_counter() + max_seconds
        for query in queries:
            if time.perf_counter() > deadline:
                break
            timer.totals = {}
            results = services.search.search(query, 10)
            started = time.perf_counter()
            body = SearchResponse(query=query, results=[SearchHit.of(r) for r in results])
            body.model_dump_json()
            timer.totals["response model + JSON"] = (time.perf_counter() - started) * 1000
            for label, values in per_stage.items():  # 0 where a stage did not run
                values.append(timer.totals.get(label, 0.0))
    return per_stage


def in_process(
    data_dir: Path, args: argparse.Namespace, queries: Sequence[str]
) -> tuple[Measured, Measured, dict[str, list[float]]]:
    """Fused and plain searches from ``--clients`` threads without HTTP, and the stage split."""
    from castgraph.api import wiring

    services = wiring.open_services(settings_for(data_dir, args), read_only=True)
    try:
        services.search.search(queries[0], 10)  # loads the model and the linker's tables
        stages = split(services, queries, type(real_embedder(args)), args.max_seconds)
        fused = measure(lambda q: services.search.search(q, 10), queries, args)
    finally:
        services.close()
    plain = plain_chroma(data_dir, args.embedder, args.models_dir)
    baseline = measure(lambda q: plain(q, 10), queries, args)
    return fused, baseline, stages


# ---------------------------------------------------------------------------------- report


@dataclass(frozen=True)
class SizeResult:
    size: int
    marker: dict[str, Any]
    fused: Measured
    plain: Measured
    fused_local: Measured | None
    plain_local: Measured | None
    stages: dict[str, list[float]]


def _row(label: str, m: Measured) -> str:
    return (
        f"  {label:30} {m.p50:8.1f} {m.p95:8.1f} {m.p99:8.1f} {m.rps:8.1f} {m.single_p50:9.1f} "
        f"{m.rss_mb:8.0f} {m.anon_mb:7.0f} {m.requests:5d} {m.errors:6d}"
    )


def _ratio(label: str, a: Measured, b: Measured) -> str:
    cells = [a.p50 / b.p50, a.p95 / b.p95, a.p99 / b.p99, a.rps / b.rps]
    cells.append(a.single_p50 / b.single_p50)
    cells += [a.rss_mb / b.rss_mb, a.anon_mb / b.anon_mb]
    widths = (8, 8, 8, 8, 9, 8, 7)
    text = " ".join(f"{c:{w - 1}.2f}x" for c, w in zip(cells, widths, strict=True))
    return f"  {label:30} {text}"


def report_size(r: SizeResult, args: argparse.Namespace) -> None:
    build = r.marker["build_s"]
    print(
        f"\n== {r.marker['chunks']} chunks ({r.marker['episodes']} episodes of "
        f"{CHUNKS_PER_EPISODE}); built in {build['total']:.0f} s (extraction {build['extract']:.0f}"
        f" s, catalog {build['catalog']:.0f} s, indexes {build['index']:.0f} s); "
        f"{args.clients} clients (think {args.think_ms:.0f} ms), {args.requests} requests or "
        f"{args.max_seconds:.0f} s per run, "
        f"median of {args.runs} runs"
    )
    print(
        f"  {'':30} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>8} {'1-client':>9} "
        f"{'HWM MiB':>8} {'anon':>7} {'n':>5} {'errors':>6}"
    )
    print(_row("/api/search (fused, HTTP)", r.fused))
    print(_row("plain Chroma (HTTP)", r.plain))
    print(_ratio("fused / plain", r.fused, r.plain))
    if r.fused_local is not None and r.plain_local is not None:
        print(_row("fused, in-process", r.fused_local))
        print(_row("plain Chroma, in-process", r.plain_local))
        print(_ratio("fused / plain, in-process", r.fused_local, r.plain_local))
    print(
        "  (1-client: p50 with one client; HWM: the server's peak RSS, VmHWM; anon: its RssAnon "
        "after the runs; n: requests per run; in-process rows: no HTTP)"
    )
    report_stages(r.stages)


def report_stages(stages: dict[str, list[float]]) -> None:
    if not stages:
        return
    total = statistics.mean(stages["SearchService.search (all)"])
    print(f"  one query at a time, in-process ({len(next(iter(stages.values())))} queries):")
    print(f"    {'stage':32} {'p50 ms':>8} {'mean ms':>8} {'max ms':>8} {'% of search':>11}")
    for label, values in stages.items():
        mean = statistics.fmean(values)
        print(
            f"    {label:32} {statistics.median(values):8.2f} {mean:8.2f} {max(values):8.2f} "
            f"{100 * mean / total:10.0f}%"
        )


def report_target(results: Sequence[SizeResult], args: argparse.Namespace) -> None:
    print(
        f"\ntarget ({os.cpu_count()} CPUs here): /api/search p50 < {TARGET_P50_MS:.0f} ms and "
        f"p95 < {TARGET_P95_MS:.0f} ms at {TARGET_SIZE} chunks"
    )
    if args.think_ms == 0:
        needed = args.clients / (TARGET_P50_MS / 1000)
        print(
            f"  (closed loop: mean latency = {args.clients} clients / throughput, so a p50 under "
            f"{TARGET_P50_MS:.0f} ms needs roughly {needed:.0f} req/s; --think-ms paces clients)"
        )
    for r in results:
        met = r.fused.p50 < TARGET_P50_MS and r.fused.p95 < TARGET_P95_MS
        note = "" if r.marker["chunks"] == TARGET_SIZE else " (not the target size)"
        print(
            f"  {r.marker['chunks']:>7} chunks: p50 {r.fused.p50:.1f} ms, p95 {r.fused.p95:.1f} ms"
            f" -> {'MET' if met else 'MISSED'}{note}"
        )


# ------------------------------------------------------------------------------------ main


def run_size(size: int, args: argparse.Namespace, pool: synth.SentencePool) -> SizeResult:
    marker = build(size, args, pool)
    data_dir: Path = marker["data_dir"]
    queries = synth.queries(args.queries)
    print(f"measuring {marker['chunks']} chunks", flush=True)
    print("  castgraph serve", flush=True)
    castgraph = [sys.executable, "-m", "castgraph", "serve", "--port", str(args.port)]
    fused = measure_server(castgraph, "/api/search", data_dir, args.port, args, queries)
    print("  plain Chroma server", flush=True)
    port = args.port + 1
    baseline = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve-baseline",
        str(data_dir),
        "--port",
        str(port),
        "--embedder",
        args.embedder,
        "--models-dir",
        str(args.models_dir),
    ]
    plain = measure_server(baseline, "/search", data_dir, port, args, queries)
    fused_local = plain_local = None
    stages: dict[str, list[float]] = {}
    if not args.skip_in_process:
        print("  in-process", flush=True)
        fused_local, plain_local, stages = in_process(data_dir, args, queries)
    return SizeResult(size, marker, fused, plain, fused_local, plain_local, stages)


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
    parser.add_argument("--queries", type=int, default=100, help="distinct queries in the list")
    parser.add_argument("--embedder", default="use-multilingual-v3", help="or hash (quick)")
    parser.add_argument("--models-dir", type=Path, default=None, help="default: the settings'")
    parser.add_argument("--pool", type=int, default=16000, help="distinct sentences")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached indexes")
    parser.add_argument("--port", type=int, default=8765, help="castgraph; baseline on port+1")
    parser.add_argument("--build-only", action="store_true", help="build the caches, no runs")
    parser.add_argument("--skip-in-process", action="store_true", help="HTTP measurements only")
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
            print(json.dumps(build(size, args, pool), indent=2, default=str))
            continue
        results.append(run_size(size, args, pool))
        report_size(results[-1], args)
    if results:
        report_target(results, args)


if __name__ == "__main__":
    main()
