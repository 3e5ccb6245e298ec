"""The composition root: settings in, configured backends out. Only this module reads Settings."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from castgraph.catalog import SqlCatalog
from castgraph.core.models import MediaItem, Transcript
from castgraph.core.ports import Source
from castgraph.core.settings import Settings
from castgraph.ingest.pipeline import IngestPipeline, Observer, Stages


def catalog(settings: Settings) -> SqlCatalog:
    """The opened catalog of the configured data directory."""
    return SqlCatalog(
        settings.resolved_database_url, voice_match_threshold=settings.voice_match_threshold
    ).open()


def sources(settings: Settings, texts: Sequence[str]) -> list[tuple[str, Source]]:
    """Validate every source before any work: raises InputError for the first bad one."""
    from castgraph.ingest.sources import make_source

    return [
        (
            text,
            make_source(
                text, allow_private=settings.allow_private_urls, timeout=settings.download_timeout
            ),
        )
        for text in texts
    ]


def stages(settings: Settings) -> Stages:
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
        extract_wav=audio.extract_wav,
        is_silent=audio.is_silent,
        assign_speakers=assign_speakers,
        load_captions=partial(_load_captions, settings),
    )


def _load_captions(settings: Settings, item: MediaItem, language: str | None) -> Transcript | None:
    from castgraph.ingest.captions import load_item_captions

    return load_item_captions(
        item,
        language,
        allow_private=settings.allow_private_urls,
        timeout=settings.download_timeout,
    )


def pipeline(settings: Settings, store: SqlCatalog, observer: Observer | None) -> IngestPipeline:
    """An ingestion pipeline writing to ``store``."""
    return IngestPipeline(store, stages(settings), settings.media_dir, observer)
