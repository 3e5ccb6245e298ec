"""The vector index on Chroma: an embedded ``PersistentClient`` or a ``chroma run`` server.

One collection per embedding space: its name joins the base name, a slug of the embedder's name
and the vector dimension (``chunks__use-multilingual-v3-512``), so switching models never mixes
vectors; the old collection stays until removed and ``castgraph reindex`` fills the new one.
Vectors are computed by castgraph and passed explicitly; the collection's embedding function is
castgraph's adapter, so Chroma never downloads its default model. Distances are cosine, and a
hit's score is ``1 - distance`` (the cosine similarity).

Chunk metadata: ``episode_id``, ``ordinal``, ``start``, ``end``, ``language``, ``title``, ``url``,
``speaker`` (the first one), ``speakers`` (all, a Chroma 1.x array), ``speaker_keys`` (the
case-folded speakers, for exact case-insensitive ``$contains`` filters), ``published`` (ISO date)
and ``published_day`` (``YYYYMMDD`` as an int, for range filters); absent values are omitted.

Thread safety: opening, closing and writes hold a lock; searches run concurrently (both of
Chroma's clients are safe to share between threads for reads).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from castgraph.core import faults
from castgraph.core.errors import CastgraphError, InputError, StorageError
from castgraph.core.models import Chunk
from castgraph.core.text import fold
from castgraph.retrieval.base import Hit, SearchFilters
from castgraph.retrieval.embeddings.base import TextEmbedder, batched

logger = logging.getLogger(__name__)

NOTHING_ON_DISK = "Nothing found on disk"
"""Chroma's message for a vector segment not written yet (see ``search``)."""

PAGE_SIZE = 1000
"""Records read per request when listing a whole collection."""

Metadata = dict[str, str | int | float | bool | list[str]]
Where = dict[str, Any]


DEFAULT_EF_SEARCH = 400
"""Chroma's default (100) found 15 of the 74 real chunks that exact search puts in the top 50
among 10k synthetic distractor chunks (bench/retrieval.py's 10k index); 400 found 46, and
queries stayed a few ms. Larger graphs (max_neighbors 48, ef_construction 400) found 63 but
cost 2-3x the build time: see docs/decisions.md."""


class ChromaVectorIndex:
    """Chunk vectors in Chroma: the ``VectorIndex`` port (backends chroma, chroma-server)."""

    def __init__(
        self,
        embedder: TextEmbedder,
        *,
        path: Path | None = None,
        url: str | None = None,
        collection: str = "chunks",
        batch_size: int = 64,
        ef_search: int = DEFAULT_EF_SEARCH,
    ) -> None:
        if path is None and not url:
            raise InputError("the Chroma vector index needs a database path or a server URL")
        self.embedder = embedder
        self.path = path
        self.url = url or None
        self.base_collection = collection
        self.batch_size = max(1, batch_size)
        self.ef_search = ef_search
        self._lock = threading.RLock()
        self._client: Any = None
        self._collection: Any = None

    @property
    def collection_name(self) -> str:
        """The collection for this embedder (loads the model to learn its dimension)."""
        return collection_name(self.base_collection, self.embedder.name, self.embedder.dimension)

    @property
    def shared(self) -> bool:
        """A server is shared by every process (workers write it); a database path is not."""
        return self.url is not None

    @property
    def location(self) -> str:
        """Where the vectors live, for messages."""
        return f"Chroma server {self.url}" if self.url else f"Chroma database {self.path}"

    def open(self) -> ChromaVectorIndex:
        """Load the embedder, connect and get (or create) the collection; idempotent.

        Returns the index itself, like the other stores' ``open()``.
        """
        with self._lock:
            if self._collection is not None:
                return self
            name = self.collection_name
            from castgraph.retrieval.vector import _embedding_function as ef

            ef.register()
            client = self._connect()
            try:
                with self._guard("opening collection " + name):
                    collection = client.get_or_create_collection(
                        name,
                        embedding_function=ef.CastgraphEmbeddingFunction(self.embedder),
                        configuration={"hnsw": {"space": "cosine", "ef_search": self.ef_search}},
                    )
                _check_space(collection, f"{self.location}, collection {name}")
                with self._guard("setting ef_search of " + name):
                    _set_ef_search(collection, self.ef_search)
            except StorageError:
                _close_quietly(client)
                raise
            self._client, self._collection = client, collection
            logger.info("vector index open: %s, collection %s", self.location, name)
            return self

    def close(self) -> None:
        """Release the client (and, for the embedded database, its files); idempotent."""
        with self._lock:
            client, self._client, self._collection = self._client, None, None
        if client is not None:
            _close_quietly(client)

    def __enter__(self) -> ChromaVectorIndex:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        """Embed and write chunks by id, replacing any with the same id."""
        unique = list({chunk.id: chunk for chunk in chunks}.values())
        if not unique:
            return
        collection = self._require()
        for batch in batched(unique, self.batch_size):
            vectors = self.embedder.embed([chunk.text for chunk in batch])
            with self._lock, self._guard("upsert"):
                collection.upsert(
                    ids=[chunk.id for chunk in batch],
                    embeddings=vectors,
                    documents=[chunk.text for chunk in batch],
                    metadatas=[chunk_metadata(chunk) for chunk in batch],
                )
            faults.point("vector")  # per batch: a kill between batches leaves a partial episode

    def delete_episode(self, episode_id: str) -> None:
        """Remove every chunk of an episode (nothing happens when it has none)."""
        collection = self._require()
        with self._lock, self._guard("delete"):
            collection.delete(where={"episode_id": episode_id})

    def delete_chunks(self, ids: Sequence[str]) -> None:
        """Remove chunks by id (unknown ids are ignored)."""
        if not ids:
            return
        collection = self._require()
        with self._lock, self._guard("delete"):
            collection.delete(ids=list(ids))

    def chunk_ids(self, episode_id: str) -> set[str]:
        """The ids of every chunk of an episode."""
        collection = self._require()
        with self._guard("get"):
            found = collection.get(where={"episode_id": episode_id}, include=[])
        return {str(i) for i in found["ids"]}

    def check(self) -> None:
        """Raise StorageError unless the database answers (the health probe)."""
        collection = self._require()
        with self._guard("heartbeat"):
            collection.count()

    def has_episode(self, episode_id: str) -> bool:
        collection = self._require()
        with self._guard("get"):
            found = collection.get(where={"episode_id": episode_id}, limit=1, include=[])
        return bool(found["ids"])

    def episode_ids(self) -> set[str]:
        """The ids of every episode with at least one chunk in the collection."""
        collection = self._require()
        episodes: set[str] = set()
        offset = 0
        while True:
            with self._guard("get"):
                page = collection.get(include=["metadatas"], limit=PAGE_SIZE, offset=offset)
            for metadata in page["metadatas"] or []:
                if metadata and "episode_id" in metadata:
                    episodes.add(str(metadata["episode_id"]))
            if len(page["ids"]) < PAGE_SIZE:
                return episodes
            offset += PAGE_SIZE

    def count(self) -> int:
        """The number of chunks in the collection."""
        collection = self._require()
        with self._guard("count"):
            return int(collection.count())

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        """The ``k`` chunks nearest ``query`` that pass ``filters``; score = cosine similarity."""
        if k <= 0 or not query.strip():
            return []
        collection = self._require()
        vector = self.embedder.embed_query(query)
        try:
            with self._guard("query"):
                result = collection.query(
                    query_embeddings=[vector],
                    n_results=k,
                    where=where_clause(filters),
                    include=["distances"],
                )
        except StorageError as exc:
            # The embedded database answers this to a query that races the collection's very
            # first write (its vector segment is not on disk yet): nothing to find, not a fault.
            if NOTHING_ON_DISK not in str(exc):
                raise
            logger.warning("vector query before the first vectors were stored", extra={"k": k})
            return []
        ids = result["ids"][0] if result["ids"] else []
        distances = (result["distances"] or [[]])[0]
        return [Hit(chunk_id=i, score=1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]

    def _require(self) -> Any:
        """The open collection, opening it on first use."""
        collection = self._collection
        if collection is not None:  # no lock: searches must not wait for a write in progress
            return collection
        with self._lock:
            if self._collection is None:
                self.open()
            return self._collection

    def _connect(self) -> Any:
        import chromadb
        from chromadb.config import Settings

        settings = Settings(anonymized_telemetry=False)
        if self.url:
            host, port, ssl = parse_chroma_url(self.url)
            try:
                return chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=settings)
            except Exception as e:  # ValueError, httpx and ssl errors: all mean "can't reach it"
                raise StorageError(
                    f"the Chroma server at {self.url} is unreachable ({e}); start it (chroma run "
                    "--path DIR --port PORT, or docker compose up chroma) or fix the Chroma URL "
                    "setting, or leave the URL empty to use the embedded database"
                ) from e
        assert self.path is not None  # checked in __init__
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(self.path), settings=settings)
        except Exception as e:  # OSError, sqlite and Rust binding errors
            raise StorageError(f"cannot open the Chroma database at {self.path}: {e}") from e

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Wrap Chroma's errors (its own, ValueError, HTTP errors) in StorageError."""
        try:
            yield
        except CastgraphError:
            raise
        except Exception as e:
            raise StorageError(f"{self.location}: {action} failed: {e}") from e


def collection_name(base: str, model: str, dimension: int) -> str:
    """``<base>__<model slug>-<dimension>``, within Chroma's rules for collection names."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", fold(model)).strip("-._") or "model"
    if len(slug) > 48:  # keep names short but distinct: a tail plus a hash of the whole name
        digest = hashlib.sha1(model.encode("utf-8")).hexdigest()[:8]
        slug = f"{slug[-39:].strip('-._')}-{digest}"
    prefix = re.sub(r"[^A-Za-z0-9._-]+", "-", base).strip("-._") or "chunks"
    return f"{prefix}__{slug}-{dimension}"


def parse_chroma_url(url: str) -> tuple[str, int, bool]:
    """(host, port, ssl) of ``http[s]://host[:port]``; the port defaults to 80/443."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"Chroma URL {url!r} must look like http://host:8000 or https://host")
    if parts.path not in ("", "/"):
        raise InputError(f"Chroma URL {url!r} must not have a path: use http[s]://host[:port]")
    try:
        port = parts.port
    except ValueError as e:
        raise InputError(f"Chroma URL {url!r} has an invalid port") from e
    ssl = parts.scheme == "https"
    return parts.hostname, port or (443 if ssl else 80), ssl


def chunk_metadata(chunk: Chunk) -> Metadata:
    """What Chroma stores beside a chunk's vector and text (see the module docstring)."""
    metadata: Metadata = {
        "episode_id": chunk.episode_id,
        "ordinal": chunk.ordinal,
        "start": float(chunk.start),
        "end": float(chunk.end),
        "language": chunk.language,
        "title": chunk.title,
        "url": chunk.url,
    }
    if chunk.speakers:  # Chroma refuses empty arrays
        metadata["speaker"] = chunk.speakers[0]
        metadata["speakers"] = list(chunk.speakers)
        metadata["speaker_keys"] = sorted({s.casefold() for s in chunk.speakers})
    if chunk.published is not None:
        metadata["published"] = chunk.published.isoformat()
        metadata["published_day"] = day_number(chunk.published)
    return metadata


def day_number(day: date) -> int:
    """``YYYYMMDD`` as an int: ordered like the dates, comparable in a ``where`` clause."""
    return day.year * 10000 + day.month * 100 + day.day


def where_clause(filters: SearchFilters) -> Where | None:
    """``filters`` as a Chroma ``where`` clause with the same meaning as ``filters.matches``."""
    conditions: list[Where] = []
    if filters.episode_ids:
        conditions.append({"episode_id": {"$in": list(filters.episode_ids)}})
    if filters.languages:
        conditions.append({"language": {"$in": list(filters.languages)}})
    if filters.speakers:
        keys = sorted({s.casefold() for s in filters.speakers})
        conditions.append(_any_of([{"speaker_keys": {"$contains": key}} for key in keys]))
    if filters.date_from is not None:
        conditions.append({"published_day": {"$gte": day_number(filters.date_from)}})
    if filters.date_to is not None:
        conditions.append({"published_day": {"$lte": day_number(filters.date_to)}})
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"$and": conditions}


def _any_of(conditions: list[Where]) -> Where:
    return conditions[0] if len(conditions) == 1 else {"$or": conditions}


def _check_space(collection: Any, where: str) -> None:
    """Refuse a collection made (by another tool) with a distance other than cosine."""
    configuration = getattr(collection, "configuration_json", None) or {}
    index = configuration.get("hnsw") or configuration.get("spann") or {}
    space = index.get("space") if isinstance(index, dict) else None
    if space not in (None, "cosine"):
        raise StorageError(
            f"{where} uses {space} distance, castgraph needs cosine: delete the collection "
            "and run  castgraph reindex"
        )


def _set_ef_search(collection: Any, ef_search: int) -> None:
    """Give an existing collection (made before the setting, or with another value) the
    configured ef_search; the other HNSW parameters are fixed when it is built."""
    configuration = getattr(collection, "configuration_json", None) or {}
    hnsw = configuration.get("hnsw")
    if not isinstance(hnsw, dict) or hnsw.get("ef_search") == ef_search:
        return
    collection.modify(configuration={"hnsw": {"ef_search": ef_search}})
    logger.info(
        "vector index ef_search set",
        extra={"collection": collection.name, "from": hnsw.get("ef_search"), "to": ef_search},
    )


def _close_quietly(client: Any) -> None:
    try:
        client.close()
    except Exception as e:  # closing must not hide the error that made us close
        logger.warning("closing the Chroma client failed: %s", e)
