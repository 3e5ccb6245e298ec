"""What every store of a data directory holds, compared with the catalog (issue 13's crash tests).

``store_report(data_dir)`` opens the catalog, the keyword index, the vector index (flat or
embedded Chroma, as the settings choose; hash embedder),
the embedded graph and the graph read model of a data directory no process holds, and lists
every disagreement: a chunk the catalog has and a store lacks, a chunk a store has that the
catalog does not (a leftover), a chunk a store holds twice, an episode the graph holds that the
catalog does not. ``[]`` means the stores hold exactly the catalog's chunks.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from castgraph.catalog import SqlCatalog
from castgraph.core.models import EpisodeState
from castgraph.core.settings import Settings
from castgraph.retrieval.embeddings.hashing import HashEmbedder
from castgraph.retrieval.graph.embedded import EmbeddedGraphStore
from castgraph.retrieval.graph.plan import plan_episode
from castgraph.retrieval.keyword.sqlite_fts import SqliteKeywordIndex
from castgraph.retrieval.vector.chroma import ChromaVectorIndex
from castgraph.retrieval.vector.flat import FlatVectorIndex


def catalog_intact(data_dir: Path) -> str:
    """SQLite's own verdict on the catalog file ("ok" when it is intact)."""
    with sqlite3.connect(data_dir / "catalog.db", timeout=30) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def store_report(data_dir: Path) -> list[str]:
    """Every way the stores differ from the catalog's indexed episodes (``[]``: none)."""
    settings = Settings(data_dir=data_dir, embedding_model="hash")
    catalog = SqlCatalog(settings.resolved_database_url).open()
    try:
        chunks, mentioned, episodes, problems = _catalog_chunks(catalog)
    finally:
        catalog.close()
    for store, ids in _store_chunks(settings).items():
        want = (
            episodes
            if store.endswith("episodes")
            else mentioned
            if store.endswith("postings")
            else chunks
        )
        problems += _compare(store, want, ids)
    return problems


def _catalog_chunks(catalog: SqlCatalog) -> tuple[set[str], set[str], set[str], list[str]]:
    """The live chunks of the indexed episodes, those an entity mentions, the episodes, and
    any problem."""
    chunks: set[str] = set()
    mentioned: set[str] = set()
    episodes: set[str] = set()
    problems: list[str] = []
    for episode in catalog.list_episodes():
        episodes.add(episode.id)
        if episode.state is not EpisodeState.INDEXED:
            problems.append(f"episode {episode.title!r} is {episode.state.value}, not indexed")
            continue
        document = catalog.document(episode.id)
        if document is None:
            problems.append(f"episode {episode.title!r} is indexed without an analysis")
            continue
        chunks.update(c.id for c in document.chunks)
        mentioned.update(m["chunk"] for m in plan_episode(document).mentions)
    return chunks, mentioned, episodes, problems


def _store_chunks(settings: Settings) -> dict[str, list[str]]:
    """Every chunk id each store holds, once per copy held."""
    found: dict[str, list[str]] = {}
    with SqliteKeywordIndex(settings.keyword_path, read_only=True).open() as keyword:
        rows = keyword._fetch("read ids", "SELECT id FROM chunks")
        found["keyword index"] = [str(r[0]) for r in rows]
    found["vector index"] = _vector_ids(settings)
    with EmbeddedGraphStore(settings.graph_path, read_only=True).open() as graph:
        episodes = graph.episode_ids()
        found["graph store"] = [c.id for e in sorted(episodes) for c in graph.chunks(e)]
        found["graph store episodes"] = sorted(episodes)
    with sqlite3.connect(settings.graph_read_path) as conn:
        postings = conn.execute("SELECT DISTINCT chunk_id FROM postings").fetchall()
        found["graph read model postings"] = [str(r[0]) for r in postings]
        read_episodes = conn.execute("SELECT id FROM episodes").fetchall()
        found["graph read model episodes"] = [str(r[0]) for r in read_episodes]
    return found


def _vector_ids(settings: Settings) -> list[str]:
    """The chunk ids of the vector index the settings choose (flat or embedded Chroma)."""
    if settings.resolved_vector_backend == "chroma":
        with ChromaVectorIndex(HashEmbedder(), path=settings.chroma_path).open() as chroma:
            return [str(i) for i in chroma._require().get(include=[])["ids"]]
    flat = FlatVectorIndex(HashEmbedder(), directory=settings.flat_vectors_path, read_only=True)
    try:
        return [str(r[0]) for r in flat.open()._fetch("SELECT id FROM chunks")]
    finally:
        flat.close()


def _compare(store: str, expected: set[str], held: Iterable[str]) -> list[str]:
    counts = Counter(held)
    problems = [f"{store}: {i} held {n} times" for i, n in sorted(counts.items()) if n > 1]
    missing, extra = expected - set(counts), set(counts) - expected
    problems += [f"{store}: lacks {i}" for i in sorted(missing)]
    problems += [f"{store}: holds {i}, which the catalog does not" for i in sorted(extra)]
    return problems
