"""A small text corpus put through the real catalog, chunker, extractor and indexes (no audio)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from castgraph.api.services import Services
from castgraph.core.models import EpisodeState, MediaItem, Segment, Transcript, Word
from castgraph.ingest.chunking import ChunkingOptions, chunk_transcript
from castgraph.ingest.extract import make_extractor


@dataclass(frozen=True)
class TextEpisode:
    key: str
    title: str
    language: str
    published: date
    turns: tuple[tuple[str, str], ...]  # (speaker label, text)
    url: str = ""


EPISODES = (
    TextEpisode(
        "calor",
        "Barracas, una isla de calor",
        "es",
        date(2024, 3, 5),
        (
            ("SPEAKER_00", "Bienvenidos a La Sobremesa. Hoy hablamos del calor en la ciudad."),
            (
                "SPEAKER_01",
                "Trabajo en el Observatorio Urbano del Sur. Colgamos cuarenta sensores en "
                "postes de luz, desde Parque Lezama hasta la avenida Montes de Oca.",
            ),
            (
                "SPEAKER_01",
                "En febrero, una esquina de asfalto en Barracas estuvo seis grados más caliente "
                "que la sombra de Parque Lezama. Plantamos tipas con los vecinos.",
            ),
            ("SPEAKER_00", "¿Sirve pintar los techos de blanco? Nos preguntó Marta."),
        ),
        "https://www.youtube.com/watch?v=calor000001",
    ),
    TextEpisode(
        "pan",
        "Masa madre en la ola de calor",
        "es",
        date(2024, 3, 19),
        (
            ("SPEAKER_00", "Hoy me acompaña Tomás Iriarte, panadero de Barracas."),
            (
                "SPEAKER_01",
                "Mi masa madre se llama Doña Rosa, como mi abuela, que la empezó en Tucumán "
                "hace treinta años. Las canciones de mi abuela también eran de Tucumán.",
            ),
            ("SPEAKER_01", "Los sábados vendo pan en el Mercado de San Telmo."),
        ),
        "https://example.org/audio/pan.mp3",
    ),
    TextEpisode(
        "roofs",
        "Green roofs or shady streets?",
        "en",
        date(2024, 4, 2),
        (
            ("SPEAKER_00", "Our guest is Hannah Lindqvist from the Delta Green Cities Lab."),
            (
                "SPEAKER_01",
                "In Rotterdam we have twelve hectares of green roofs. A green roof holds "
                "rain water like a sponge, so the sewers don't overflow during a storm.",
            ),
            (
                "SPEAKER_01",
                "For people on the sidewalk, trees win: the tipa trees of Barracas shade the "
                "whole pavement. Tomás sold me bread at the Mercado de San Telmo.",
            ),
        ),
        "https://www.youtube.com/watch?v=roofs000001",
    ),
)


QUERIES = (
    "¿Cómo se llama la masa madre?",
    "Where does Hannah Lindqvist work?",
    "pan de Tandil",
    "Delta Green Cities Lab",
    "ola de calor",
    "queso",
)
"""Questions that reach every retriever over ``EPISODES`` (Spanish and English)."""


def transcript_of(episode: TextEpisode, seconds_per_word: float = 0.4) -> Transcript:
    """Turns as segments with evenly timed words, 2 s of silence between turns."""
    segments, clock = [], 0.0
    for speaker, text in episode.turns:
        words = []
        for token in text.split():
            words.append(Word(token, clock, clock + seconds_per_word, 0.95, speaker))
            clock += seconds_per_word
        segments.append(Segment(words[0].start, words[-1].end, text, speaker, tuple(words)))
        clock += 2.0
    return Transcript(episode.language, tuple(segments), duration=clock)


def load(
    services: Services, episodes: tuple[TextEpisode, ...] = EPISODES, *, index: bool = True
) -> dict[str, str]:
    """Put the episodes through catalog → chunks → offline extraction → indexes; key → id.
    With ``index=False`` only the catalog is written (as a queue worker does)."""
    catalog, extractor = services.catalog, make_extractor("offline")
    assert services.indexer is not None or not index
    ids: dict[str, str] = {}
    for ep in episodes:
        item = MediaItem(
            source_id=f"text:{ep.key}",
            url=ep.url or f"https://example.org/{ep.key}.mp3",
            title=ep.title,
            published=ep.published,
        )
        episode = catalog.register(item)
        transcript = transcript_of(ep)
        catalog.save_transcript(episode.id, transcript, None)
        chunks = chunk_transcript(episode, transcript, ChunkingOptions(max_tokens=40, overlap=8))
        entities, relations = extractor.extract(chunks)
        document = catalog.save_analysis(episode.id, chunks, entities, relations)
        if services.indexer is not None and index:
            services.indexer.index(document)
        catalog.set_state(episode.id, EpisodeState.INDEXED)
        ids[ep.key] = episode.id
    if services.visible is not None:
        services.visible.invalidate()
    return ids
