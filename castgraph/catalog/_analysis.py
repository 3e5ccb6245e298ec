"""Conversions between the catalog's analysis rows (chunks, extraction) and core models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from castgraph.catalog.schema import ChunkRow, EpisodeRow, ExtractionRow
from castgraph.core.models import Chunk, Entity, Relation, Sentence


def chunk_rows(chunks: Sequence[Chunk]) -> list[ChunkRow]:
    return [
        ChunkRow(
            ordinal=c.ordinal,
            id=c.id,
            start=c.start,
            end=c.end,
            text=c.text,
            speakers=list(c.speakers),
            language=c.language,
            sentences=[[s.start, s.end, s.speaker, s.text] for s in c.sentences],
        )
        for c in chunks
    ]


def chunks_of(row: EpisodeRow, names: dict[str, str]) -> tuple[Chunk, ...]:
    """The episode's chunks with speaker labels replaced by their current names."""
    return tuple(
        Chunk(
            id=c.id,
            episode_id=row.id,
            ordinal=c.ordinal,
            start=c.start,
            end=c.end,
            text=c.text,
            speakers=tuple(dict.fromkeys(names.get(s, s) for s in c.speakers)),
            language=c.language,
            title=row.title,
            url=row.url,
            published=row.published,
            sentences=_sentences(c.sentences, names),
        )
        for c in row.chunks
    )


def _sentences(raw: list[list[Any]] | None, names: dict[str, str]) -> tuple[Sentence, ...]:
    return tuple(
        Sentence(
            text=str(t),
            start=float(a),
            end=float(b),
            speaker=names.get(str(sp), str(sp)) if sp else None,
        )
        for a, b, sp, t in raw or []
    )


def extraction_row(
    extractor: str, entities: Sequence[Entity], relations: Sequence[Relation]
) -> ExtractionRow:
    return ExtractionRow(
        extractor=extractor,
        entities=[[e.name, e.type, list(e.aliases), list(e.chunk_ids)] for e in entities],
        relations=[[r.source, r.target, r.type, list(r.chunk_ids), r.weight] for r in relations],
    )


def entities_of(row: ExtractionRow | None) -> tuple[Entity, ...]:
    if row is None:
        return ()
    return tuple(
        Entity(name=str(n), type=str(t), aliases=tuple(a), chunk_ids=tuple(c))
        for n, t, a, c in row.entities
    )


def relations_of(row: ExtractionRow | None) -> tuple[Relation, ...]:
    if row is None:
        return ()
    return tuple(
        Relation(source=str(s), target=str(t), type=str(k), chunk_ids=tuple(c), weight=float(w))
        for s, t, k, c, w in row.relations
    )
