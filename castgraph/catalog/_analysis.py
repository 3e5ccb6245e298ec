"""Conversions between the catalog's analysis rows (chunks, extraction) and core models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from castgraph.catalog._speakers import display_name
from castgraph.catalog.schema import ChunkRow, EpisodeRow, ExtractionRow
from castgraph.core.models import Chunk, Entity, Episode, EpisodeState, Relation, Sentence


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


def chunks_of(
    row: EpisodeRow, names: dict[str, str], rows: Sequence[ChunkRow] | None = None
) -> tuple[Chunk, ...]:
    """The episode's chunks (or ``rows``, a staged build's) with speaker labels named."""
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
        for c in (row.chunks if rows is None else rows)
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


def episode_of(row: EpisodeRow) -> Episode:
    return Episode(
        id=row.id,
        source_id=row.source_id,
        title=row.title,
        url=row.url,
        state=EpisodeState(row.state),
        duration=row.duration,
        published=row.published,
        language=row.language,
        speakers=[display_name(sp) for sp in row.speakers],
        error=row.error,
        pipeline_version=row.pipeline_version,
        build=row.build or 0,
        reprocessing=row.pending.state if row.pending is not None else None,
        reprocess_error=row.reprocess_error,
        retired_build=row.retired_build,
    )
