"""Fill a new flat vector index from the embedded Chroma collection of the same embedder.

A data directory written before ``flat`` became the default holds its vectors in
``chroma/``. Embedding every chunk again costs minutes per thousand chunks on a CPU, while the
collection already holds each vector with the fields the flat index filters on (episode,
language, case-folded speakers, publication day), so a new flat file copies them once. The
Chroma files are left as they were (``castgraph reindex`` with ``CASTGRAPH_VECTOR_BACKEND=
chroma`` still reads them); nothing is copied when the collection is missing or empty.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from castgraph.core.errors import StorageError

logger = logging.getLogger(__name__)

PAGE = 2000
"""Vectors read from Chroma per request."""

Rows = list[tuple[str, str, str, list[str], int, list[float]]]


def chroma_pages(path: Path, collection: str) -> Iterator[Rows]:
    """Pages of (id, episode id, language, case-folded speakers, day, vector) from the embedded
    Chroma collection ``collection`` at ``path``; nothing when there is none."""
    if not (path / "chroma.sqlite3").exists():
        return
    try:
        import chromadb
        from chromadb.config import Settings
    except ImportError:  # a slim install without Chroma has nothing to adopt from
        return
    settings = Settings(anonymized_telemetry=False)
    client: Any = chromadb.PersistentClient(path=str(path), settings=settings)
    try:
        names = {getattr(c, "name", c) for c in client.list_collections()}
        if collection not in names:
            return
        source = client.get_collection(collection)
        offset = 0
        while True:
            page = source.get(include=["embeddings", "metadatas"], limit=PAGE, offset=offset)
            rows = [_row(i, m or {}, v) for i, m, v in _zip(page)]
            if rows:
                yield rows
            if len(page["ids"]) < PAGE:
                return
            offset += PAGE
    except StorageError:
        raise
    except Exception as e:  # chromadb's own errors: the copy fails, the caller says where
        raise StorageError(f"reading vectors from the Chroma database at {path} failed: {e}") from e
    finally:
        client.close()


def _zip(page: Any) -> Iterator[tuple[str, dict[str, Any], Any]]:
    embeddings = page["embeddings"] if page["embeddings"] is not None else []
    return zip(page["ids"], page["metadatas"] or [{}] * len(page["ids"]), embeddings, strict=True)


def _row(chunk_id: str, metadata: dict[str, Any], vector: Any) -> Any:
    speakers = metadata.get("speaker_keys") or []
    return (
        str(chunk_id),
        str(metadata.get("episode_id", "")),
        str(metadata.get("language", "")),
        [str(s) for s in speakers],
        int(metadata.get("published_day", 0) or 0),
        list(vector),
    )
