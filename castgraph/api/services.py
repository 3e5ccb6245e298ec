"""What the running server (or a CLI command) holds open: the catalog and the indexes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from castgraph.api.media import remove_downloads
from castgraph.catalog import SqlCatalog
from castgraph.core.models import Episode
from castgraph.core.ports import Indexer
from castgraph.retrieval.answer import AnswerService
from castgraph.retrieval.graph.base import GraphStore
from castgraph.retrieval.search import SearchService


@dataclass
class Services:
    """Open stores and the services built on them; ``close()`` releases every one."""

    catalog: SqlCatalog
    search: SearchService
    indexer: Indexer | None
    closers: list[Callable[[], None]] = field(default_factory=list)
    visible: VisibleEpisodes | None = None
    answers: AnswerService | None = None
    index_episode_ids: Callable[[], set[str]] = set
    graph: GraphStore | None = None
    """The knowledge graph (also inside ``indexer``), read by the Topics page."""
    local_indexer: Indexer | None = None
    """The indexes in this process's files only (with the distributed queue, workers write
    the shared servers and this process brings its own files up to date from the catalog)."""
    media_dir: Path | None = None
    """Where the pipeline keeps downloads (``<media_dir>/<episode id>/``): deleted with the
    episode. None: this process does not manage media (tests, read-only commands)."""
    health: dict[str, Callable[[], None]] = field(default_factory=dict)
    """A cheap probe per search component (``vector``, ``keyword``, ``graph``) that raises when
    it cannot answer: ``/healthz`` reports each."""
    write_lock: threading.RLock = field(default_factory=threading.RLock)
    """Serialises this process's index writes (renames, deletions): two requests re-indexing
    one episode at once would interleave their delete-then-write of its entries."""

    def visible_ids(self) -> set[str]:
        """Ids of the indexed episodes (what readers may cite)."""
        return set(self.live_builds())

    def live_builds(self) -> dict[str, int]:
        """``{episode id: live build}`` of the indexed episodes: readers cite only those chunks."""
        if self.visible is not None:
            return self.visible()
        return self.catalog.live_builds()

    def indexed_ids(self) -> set[str]:
        """Episode ids present in any index (to find entries the catalog no longer has)."""
        return self.index_episode_ids()

    def delete_episode(self, episode_id: str) -> Episode:
        """Remove an episode from every index, its downloads, then the catalog entry: the
        catalog goes last, so a retry after any failure finds the episode and finishes it."""
        with self.write_lock:
            episode = self.catalog.get(episode_id)
            if self.indexer is not None:
                self.indexer.delete(episode.id)
            if self.media_dir is not None:
                remove_downloads(self.media_dir, episode.id)
            self.catalog.delete(episode.id)
        if self.visible is not None:
            self.visible.invalidate()
        return episode

    def close(self) -> None:
        for close in reversed(self.closers):
            close()
        self.closers.clear()


class VisibleEpisodes:
    """``{episode id: live build}`` of the indexed episodes, re-read from the catalog at most
    every ``ttl`` seconds (or on ``invalidate``: search does when a hit suggests a swap)."""

    def __init__(self, catalog: SqlCatalog, ttl: float = 1.0) -> None:
        self._catalog = catalog
        self._ttl = ttl
        self._lock = threading.Lock()
        self._ids: dict[str, int] = {}
        self._read_at = float("-inf")

    def __call__(self) -> dict[str, int]:
        with self._lock:
            if time.monotonic() - self._read_at > self._ttl:
                self._ids = self._catalog.live_builds()
                self._read_at = time.monotonic()
            return self._ids

    def invalidate(self) -> None:
        with self._lock:
            self._read_at = float("-inf")
