"""Reading the episode list in a constant number of queries (not one or two per episode).

An ``Episode`` needs its speakers' display names and the state of a build in progress: both are
loaded for the whole page with one ``SELECT … IN`` each, and only the columns they need (a
speaker's voice embedding and a staged build's transcript stay on disk).
"""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from castgraph.catalog.schema import BuildRow, EpisodeRow, SpeakerRow


def episode_page(limit: int | None = None, offset: int = 0) -> Select[EpisodeRow]:
    """Episodes oldest published first (undated last, then by title and id: a stable order for
    pages), with what ``episode_of`` reads loaded eagerly."""
    query = (
        select(EpisodeRow)
        .options(
            selectinload(EpisodeRow.speakers).load_only(
                SpeakerRow.label,
                SpeakerRow.name,
                SpeakerRow.guess_name,
                SpeakerRow.guess_confidence,
            ),
            selectinload(EpisodeRow.pending).load_only(BuildRow.state),
        )
        .order_by(
            EpisodeRow.published.is_(None),
            EpisodeRow.published,
            EpisodeRow.title,
            EpisodeRow.id,
        )
        .offset(offset)
    )
    return query.limit(limit) if limit is not None else query


def state_counts(session: Session) -> dict[str, int]:
    """``{state: number of episodes}`` in one aggregate query."""
    rows = session.execute(select(EpisodeRow.state, func.count()).group_by(EpisodeRow.state)).all()
    return {str(state): int(count) for state, count in rows}
