"""The shapes every retriever shares: filters, hits and the one-method Retriever seam."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from castgraph.core.models import Chunk


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Restrictions on which chunks may be returned; empty means no restriction."""

    episode_ids: tuple[str, ...] = ()
    speakers: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None

    @property
    def empty(self) -> bool:
        return not (
            self.episode_ids or self.speakers or self.languages or self.date_from or self.date_to
        )

    def matches(self, chunk: Chunk) -> bool:
        """Whether ``chunk`` passes every filter (speakers match case-insensitively)."""
        if self.episode_ids and chunk.episode_id not in self.episode_ids:
            return False
        if self.speakers:
            wanted = {s.casefold() for s in self.speakers}
            if not wanted & {s.casefold() for s in chunk.speakers}:
                return False
        if self.languages and chunk.language not in self.languages:
            return False
        if self.date_from or self.date_to:
            if chunk.published is None:
                return False
            if self.date_from and chunk.published < self.date_from:
                return False
            if self.date_to and chunk.published > self.date_to:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Hit:
    """One retrieved chunk and its retriever-specific score (higher is better)."""

    chunk_id: str
    score: float


class Retriever(Protocol):
    """One way of finding chunks for a query (vector, keyword, graph)."""

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        """The best ``k`` chunks for ``query`` that pass ``filters``, best first."""
        ...
