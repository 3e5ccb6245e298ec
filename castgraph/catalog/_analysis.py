"""Conversions between the catalog's analysis rows (chunks, extraction) and core models."""

from __future__ import annotations

from collections.abc import Sequence

from castgraph.catalog.schema import ChunkRow, EpisodeRow, ExtractionRow
from castgraph.core.models import Chunk, Entity, Relation


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
        )
        for c in row.chunks
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
