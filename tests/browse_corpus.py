"""A small catalog and in-memory knowledge graph behind the People, Topics and rename API tests.

Hand-made chunks and entities (no extractor) so every expected moment, time and link is known.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient

from castgraph.api.app import create_app
from castgraph.api.services import Services, VisibleEpisodes
from castgraph.catalog import SqlCatalog
from castgraph.core.models import (
    Chunk,
    Entity,
    EpisodeState,
    MediaItem,
    Relation,
    Segment,
    Sentence,
    Transcript,
    chunk_id,
)
from castgraph.core.settings import Settings
from castgraph.core.text import entity_key
from castgraph.retrieval.graph.memory import MemoryGraphStore
from castgraph.retrieval.indexer import StoresIndexer
from castgraph.retrieval.search import SearchService

HOSTILE = "<script>alert(1)</script>"
ENTITIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Tucumán", "place", ()),
    ("Doña Rosa", "other", ()),
    ("Parque Lezama", "place", ("Lezama",)),
    ("Barracas", "place", ()),
)


@dataclass(frozen=True)
class Ep:
    key: str
    published: date
    url: str
    turns: tuple[tuple[str, str], ...]
    names: dict[str, str] = field(default_factory=dict)
    indexed: bool = True


EPISODES = (
    Ep(
        "pan",
        date(2024, 5, 1),
        "https://example.org/pan.mp3",
        (
            ("SPEAKER_00", "Hoy me acompaña Ana García, panadera de Barracas."),
            ("SPEAKER_01", "Mi masa madre se llama Doña Rosa, como mi abuela de Tucumán."),
            ("SPEAKER_01", "Los sábados vendo pan en el mercado."),
            ("SPEAKER_01", "La receta viene de Tucumán."),
        ),
        {"SPEAKER_01": "Ana García"},
    ),
    Ep(
        "calor",
        date(2024, 3, 5),
        "https://www.youtube.com/watch?v=calor000001",
        (
            ("SPEAKER_00", "Bienvenidos. Hoy hablamos del calor en Barracas."),
            ("SPEAKER_01", "Colgamos sensores en Parque Lezama, cerca de Barracas."),
            ("SPEAKER_01", "Plantamos árboles con los vecinos."),
        ),
        {"SPEAKER_01": "ana garcia", "SPEAKER_00": HOSTILE},
    ),
    Ep(
        "quiet",
        date(2024, 4, 10),
        "http://192.168.1.5/quiet.mp3",
        (
            ("SPEAKER_00", "Una charla sin nombres propios."),
            ("SPEAKER_00", "Solo hablamos del tiempo."),
        ),
        {"SPEAKER_00": "Ana García"},
    ),
    Ep(
        "draft",
        date(2024, 1, 1),
        "https://example.org/draft.mp3",
        (("SPEAKER_00", "Un borrador sobre Tucumán."),),
        {"SPEAKER_00": "Ana García"},
        indexed=False,
    ),
)


class RecordingIndex:
    """A keyword/vector index stand-in that remembers what it was given."""

    def __init__(self) -> None:
        self.chunks: dict[str, Chunk] = {}

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        self.chunks.update({c.id: c for c in chunks})

    def delete_episode(self, episode_id: str) -> None:
        self.chunks = {k: c for k, c in self.chunks.items() if c.episode_id != episode_id}

    def chunk_ids(self, episode_id: str) -> set[str]:
        return {k for k, c in self.chunks.items() if c.episode_id == episode_id}

    def delete_chunks(self, ids: Sequence[str]) -> None:
        for i in ids:
            self.chunks.pop(i, None)

    def get(self, ids: Sequence[str]) -> dict[str, Chunk]:
        return {i: self.chunks[i] for i in ids if i in self.chunks}


@dataclass
class World:
    catalog: SqlCatalog
    graph: MemoryGraphStore
    index: RecordingIndex
    services: Services
    ids: dict[str, str]


def build(tmp_path: Path, *, graph: bool = True, writable: bool = True) -> World:
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}").open()
    store, index = MemoryGraphStore(), RecordingIndex()
    indexer = StoresIndexer(index, None, store)
    ids = {ep.key: _add(catalog, indexer, ep) for ep in EPISODES}
    visible = VisibleEpisodes(catalog, ttl=0.0)
    services = Services(
        catalog=catalog,
        search=SearchService({}, index, visible=visible),
        indexer=indexer if writable else None,
        closers=[catalog.close],
        visible=visible,
        graph=store if graph else None,
    )
    return World(catalog, store, index, services, ids)


def client(world: World, tmp_path: Path, api_key: str | None = None) -> TestClient:
    settings = Settings(data_dir=tmp_path / "data", api_key=api_key)  # type: ignore[arg-type]
    return TestClient(create_app(settings, services=lambda _s: world.services))


def _add(catalog: SqlCatalog, indexer: StoresIndexer, ep: Ep) -> str:
    item = MediaItem(
        source_id=f"t:{ep.key}", url=ep.url, title=f"Episode {ep.key}", published=ep.published
    )
    episode = catalog.register(item)
    sentences = [
        Sentence(text, 10.0 * i, 10.0 * i + 8.0, label) for i, (label, text) in enumerate(ep.turns)
    ]
    segments = tuple(Segment(s.start, s.end, s.text, s.speaker) for s in sentences)
    catalog.save_transcript(episode.id, Transcript("es", segments, 10.0 * len(sentences)), None)
    windows = [sentences[i : i + 2] for i in range(max(1, len(sentences) - 1))]
    chunks = [
        Chunk(
            id=chunk_id(episode.id, n),
            episode_id=episode.id,
            ordinal=n,
            start=w[0].start,
            end=w[-1].end,
            text=" ".join(s.text for s in w),
            speakers=tuple(dict.fromkeys(s.speaker or "" for s in w)),
            language="es",
            title=episode.title,
            url=episode.url,
            published=ep.published,
            sentences=tuple(w),
        )
        for n, w in enumerate(windows)
    ]
    entities, relations = _extract(chunks)
    catalog.save_analysis(episode.id, chunks, entities, relations)
    for label, name in ep.names.items():
        catalog.rename_speaker(episode.id, label, name)
    if ep.indexed:
        document = catalog.document(episode.id)
        assert document is not None
        indexer.index(document)
        catalog.set_state(episode.id, EpisodeState.INDEXED)
    return episode.id


def _extract(chunks: Sequence[Chunk]) -> tuple[list[Entity], list[Relation]]:
    """Entities found by folded name in chunk text; co-occurrence relations between them."""
    found: dict[str, tuple[str, ...]] = {}
    entities = []
    for name, kind, aliases in ENTITIES:
        forms = [f" {entity_key(n)} " for n in (name, *aliases)]
        hits = tuple(c.id for c in chunks if any(f in f" {entity_key(c.text)} " for f in forms))
        if hits:
            found[name] = hits
            entities.append(Entity(name, kind, aliases, hits))
    relations = []
    for a, b in itertools.combinations(found, 2):
        shared = tuple(c for c in found[a] if c in found[b])
        if shared:
            relations.append(Relation(a, b, "co_occurs", shared, float(len(shared))))
    return entities, relations
