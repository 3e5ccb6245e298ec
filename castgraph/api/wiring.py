"""The composition root: settings in, configured backends out. Only this module reads Settings."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial

from castgraph.api.services import Services
from castgraph.catalog import SqlCatalog
from castgraph.core.errors import StorageError
from castgraph.core.models import PIPELINE_VERSION, Episode, EpisodeState, MediaItem, Transcript
from castgraph.core.ports import Extractor, Indexer, Source
from castgraph.core.settings import Settings
from castgraph.ingest.chunking import ChunkingOptions, chunk_transcript
from castgraph.ingest.diskspace import check_free_space
from castgraph.ingest.pipeline import IngestPipeline, Observer, Stages

log = logging.getLogger(__name__)


def catalog(settings: Settings) -> SqlCatalog:
    """The opened catalog of the configured data directory."""
    return SqlCatalog(
        settings.resolved_database_url, voice_match_threshold=settings.voice_match_threshold
    ).open()


def sources(settings: Settings, texts: Sequence[str]) -> list[tuple[str, Source]]:
    """Validate every source before any work: raises InputError for the first bad one."""
    from castgraph.ingest.sources import YtDlpTuning, make_source

    tuning = YtDlpTuning(
        sleep=settings.ytdlp_sleep,
        rate_limit=settings.ytdlp_rate_limit,
        cookies=settings.ytdlp_cookies,
        proxy=settings.ytdlp_proxy,
        po_token=settings.ytdlp_po_token.get_secret_value() if settings.ytdlp_po_token else None,
        max_bytes=settings.max_download_bytes,
        max_duration=settings.max_duration_s,
    )
    return [
        (
            text,
            make_source(
                text,
                allow_private=settings.allow_private_urls,
                timeout=settings.download_timeout,
                tuning=tuning,
            ),
        )
        for text in texts
    ]


def stages(settings: Settings, indexer: Indexer | None = None) -> Stages:
    """The real stage backends chosen by the settings (models load on first use)."""
    from castgraph.ingest import audio
    from castgraph.ingest.align import assign_speakers
    from castgraph.ingest.diarize import make_diarizer
    from castgraph.ingest.transcribe import make_transcriber

    models_dir = settings.resolved_models_dir
    transcriber = make_transcriber(
        settings.transcriber,
        model=settings.whisper_model,
        models_dir=models_dir,
        device=settings.whisper_device,
        compute_type=settings.whisper_compute_type,
        beam_size=settings.whisper_beam_size,
        cpu_threads=settings.cpu_threads,
        batch_size=settings.resolved_whisper_batch_size,
    )
    diarizer = make_diarizer(
        settings.diarizer,
        models_dir=models_dir,
        max_speakers=settings.max_speakers,
        pyannote_pipeline=settings.pyannote_pipeline,
        hf_token=settings.hf_token.get_secret_value() if settings.hf_token else None,
        device=settings.whisper_device,
    )
    return Stages(
        transcriber=transcriber,
        diarizer=diarizer,
        extract_wav=partial(
            audio.extract_wav,
            timeout=settings.ffmpeg_timeout,
            max_duration=settings.max_duration_s,
        ),
        is_silent=audio.is_silent,
        assign_speakers=assign_speakers,
        load_captions=partial(_load_captions, settings),
        chunk=partial(
            chunk_transcript,
            options=ChunkingOptions(settings.chunk_tokens, settings.chunk_overlap),
        ),
        extractor=extractor(settings),
        extractor_name=settings.extractor,
        indexer=indexer,
        check_space=partial(
            check_free_space, (settings.data_dir, settings.media_dir), settings.min_free_mb
        )
        if settings.min_free_mb
        else None,
    )


def extractor(settings: Settings) -> Extractor | None:
    """The configured entity extractor (None when extraction is off)."""
    if settings.extractor == "none":
        return None
    from castgraph.ingest.extract import make_extractor

    return make_extractor(
        settings.extractor,
        llm_base_url=settings.llm_base_url,
        llm_model=settings.llm_model,
        llm_api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
    )


def _load_captions(settings: Settings, item: MediaItem, language: str | None) -> Transcript | None:
    from castgraph.ingest.captions import load_item_captions

    return load_item_captions(
        item,
        language,
        allow_private=settings.allow_private_urls,
        timeout=settings.download_timeout,
    )


def pipeline(settings: Settings, services: Services, observer: Observer | None) -> IngestPipeline:
    """An ingestion pipeline writing to the catalog and indexes of ``services``."""
    return IngestPipeline(
        services.catalog, stages(settings, services.indexer), settings.media_dir, observer
    )


def open_services(
    settings: Settings,
    *,
    read_only: bool = False,
    local_vectors: bool = True,
    search_workers: bool = False,
) -> Services:
    """Open the catalog and every configured index; the caller closes the result. A process
    beside the data directory's writer passes ``read_only`` and no ``local_vectors``; the
    server passes ``search_workers`` (``CASTGRAPH_SEARCH_PROCESSES`` applies to it only)."""
    from castgraph.api import _indexes

    store = catalog(settings)
    closers: list[Callable[[], None]] = [store.close]
    try:
        services = _indexes.build(
            settings,
            store,
            closers,
            read_only=read_only,
            local_vectors=local_vectors,
            search_workers=search_workers,
        )
    except BaseException:
        for close in reversed(closers):
            close()
        raise
    services.media_dir = settings.media_dir  # deleting an episode deletes its downloads
    return services


def rename_speaker(services: Services, episode_id: str, label: str, name: str) -> Episode:
    """Name a speaker in the catalog, then re-index the episode when it is indexed, so that
    search, answers and the graph cite the new name (``castgraph speakers rename`` and
    ``PUT /api/episodes/{id}/speakers/{label}``). Holds the services' write lock throughout."""
    with services.write_lock:
        episode = services.catalog.get(episode_id)
        indexed = episode.state is EpisodeState.INDEXED
        if indexed and services.indexer is None:  # checked first: never rename half-way
            raise StorageError("the indexes are open read-only here: cannot re-index a rename")
        episode = services.catalog.rename_speaker(episode.id, label, name)
        if indexed:
            reindex(services, [episode.id])
            episode = services.catalog.get(episode.id)
        return episode


def reindex(
    services: Services,
    episode_ids: Sequence[str] | None = None,
    reanalyse: Callable[[Episode, Transcript], None] | None = None,
) -> tuple[int, int]:
    """Rewrite episodes from the catalog into the indexes; drop index entries of gone episodes.

    With ``reanalyse``, episodes analysed by an older pipeline version are re-chunked and
    re-extracted from their stored transcript first (no speech recognition), beside their live
    build when they are searchable.
    Returns (episodes reindexed, stale episodes removed).
    """
    assert services.indexer is not None
    store = services.catalog
    ids = [store.get(e).id for e in episode_ids] if episode_ids else None
    done = 0
    for episode in store.list_episodes():
        if ids is not None and episode.id not in ids:
            continue
        if reanalyse is not None and episode.pipeline_version != PIPELINE_VERSION:
            transcript = store.transcript(episode.id)
            if transcript is not None:
                reanalyse(episode, transcript)
                store.set_state(episode.id, EpisodeState.INDEXED)
                done += 1
                continue
        document = store.document(episode.id)
        if document is None:
            continue
        # A searchable episode stays searchable: the indexes are written by id before its
        # other entries (a retired build's leftovers, stale ordinals) are dropped.
        if episode.state is not EpisodeState.INDEXED:
            store.set_state(episode.id, EpisodeState.INDEXING)
        services.indexer.index(document)
        store.set_state(episode.id, EpisodeState.INDEXED)
        if episode.retired_build is not None:
            store.finish_build(episode.id)
        done += 1
    stale = set() if ids is not None else services.indexed_ids() - store.episode_ids(None)
    for episode_id in sorted(stale):
        services.indexer.delete(episode_id)
    if services.visible is not None:
        services.visible.invalidate()
    return done, len(stale)
