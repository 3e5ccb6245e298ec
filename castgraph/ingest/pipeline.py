"""The per-episode ingestion pipeline: resolve → download → audio → transcribe → diarize →
chunk → extract → store → index.

Every stage records the episode's state in the catalog first, so a crash leaves the episode in
the stage it died in and the next run redoes that episode from the start; storing a transcript
or an analysis replaces the previous one in one transaction, so re-runs never duplicate anything.
An episode interrupted while indexing, whose analysis is already stored, is only re-indexed (the
indexes write by stable ids). One failing episode is recorded with its error and the others go on.

Re-processing an episode that is already searchable (``--force``, a pipeline-version bump) builds
a new *build* beside the live one: its stages are recorded as the build's state, its rows are
staged in the catalog and its chunks (ids carrying the build number) are written beside the
live ones, and one catalog transaction swaps it in. Search shows only each episode's live
build, so the old version stays searchable during the run and survives a failed or killed one.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

from castgraph.core import faults
from castgraph.core.errors import CastgraphError, MediaError
from castgraph.core.models import (
    PIPELINE_VERSION,
    Episode,
    EpisodeDocument,
    EpisodeState,
    MediaItem,
    Transcript,
    chunk_id,
)
from castgraph.core.ports import EpisodeStore, Source
from castgraph.ingest.ingest_types import (
    CaptionLoader,
    Chunker,
    Fetched,
    IngestOptions,
    IngestReport,
    NullObserver,
    Observer,
    SpeakerNamer,
    Stages,
    WorkItem,
)
from castgraph.ingest.leftovers import after_failure, remove_wav
from castgraph.ingest.speakers import metadata_names, whisper_hints

__all__ = [
    "CaptionLoader",
    "Chunker",
    "Fetched",
    "IngestOptions",
    "IngestPipeline",
    "IngestReport",
    "NullObserver",
    "Observer",
    "SpeakerNamer",
    "Stages",
    "WorkItem",
]

log = logging.getLogger(__name__)


class IngestPipeline:
    """Runs sources through the stages, recording every episode's state in the store."""

    def __init__(
        self,
        store: EpisodeStore,
        stages: Stages,
        media_dir: Path,
        observer: Observer | None = None,
    ) -> None:
        self._store = store
        self._stages = stages
        self._media_dir = media_dir
        self._observer: Observer = observer or NullObserver()
        self._loaded: set[str] = set()
        # The build being staged beside the live one (None: the episode has no live build, and
        # its rows are written directly, as in a first ingestion).
        self._build: int | None = None

    def run(self, sources: Sequence[tuple[str, Source]], options: IngestOptions) -> IngestReport:
        """Resolve every source, then process each new or unfinished episode in order."""
        report, todo = self.plan(sources, options)
        for index, (episode, item, source) in enumerate(todo):
            self._observer.episode_started(episode, index, len(todo))
            result = self.process(episode, item, source, options)
            ok = result.state is EpisodeState.INDEXED and result.reprocess_error is None
            (report.indexed if ok else report.failed).append(result)
            self._observer.episode_finished(result)
        return report

    def plan(
        self, sources: Sequence[tuple[str, Source]], options: IngestOptions
    ) -> tuple[IngestReport, list[WorkItem]]:
        """Resolve every source and register its items; return the report so far and the
        episodes that need work, in order (the job worker processes them one at a time)."""
        report = IngestReport()
        todo: list[WorkItem] = []
        for text, source in sources:
            try:
                items = source.resolve(text, since=options.since)
            except Exception as exc:  # one bad source must never stop the others
                message = str(exc) if isinstance(exc, CastgraphError) else f"unexpected {exc!r}"
                log.error("source failed", extra={"source": text, "error": message})
                report.source_errors.append((text, message))
                continue
            report.resolved += len(items)
            for item in items:
                if options.max_items is not None and len(todo) >= options.max_items:
                    report.deferred += 1  # bounded work: not even registered in this run
                    continue
                episode = self._store.register(item)
                if self.is_done(episode, options):
                    report.skipped += 1
                else:
                    todo.append((episode, item, source))
        if report.deferred:
            report.skipped += report.deferred
            log.warning(
                "per-run item cap reached: the rest waits for the next run "
                "(CASTGRAPH_MAX_ITEMS_PER_RUN)",
                extra={"cap": options.max_items, "deferred": report.deferred},
            )
        if options.limit is not None:
            report.skipped += max(0, len(todo) - options.limit)
            todo = todo[: options.limit]
        return report, todo

    @staticmethod
    def is_done(episode: Episode, options: IngestOptions) -> bool:
        """Whether the episode needs no work: indexed at this version, nothing left pending."""
        return (
            not options.force
            and episode.state is EpisodeState.INDEXED
            and episode.pipeline_version == PIPELINE_VERSION
            and episode.reprocessing is None  # a re-process was killed: finish it
            and episode.reprocess_error is None  # or failed: try again
            and episode.retired_build is None  # or its cleanup was cut short
        )

    def process(
        self, episode: Episode, item: MediaItem, source: Source, options: IngestOptions
    ) -> Episode:
        """Run one episode through every stage; a failure is recorded, never raised."""
        workdir = self._media_dir / episode.id
        if episode.state is EpisodeState.INDEXED:
            return self._reprocess(episode, item, source, options, workdir)
        try:
            self._check_space()
            if self._resumable(episode, options):
                self._index(episode.id)
            elif (transcript := self._stored_transcript(episode, options)) is not None:
                self.reanalyse(episode, transcript)
            else:
                self._run_stages(episode, item, source, options)
        except CastgraphError as exc:
            return self.fail(episode, str(exc))
        except Exception as exc:  # one bad episode must never stop the others
            log.exception("unexpected ingest error", extra={"episode_id": episode.id})
            return self.fail(episode, _unexpected(exc))
        (workdir / "audio.wav").unlink(missing_ok=True)
        return self._store_state(episode, EpisodeState.INDEXED)

    def _run_stages(
        self,
        episode: Episode,
        item: MediaItem,
        source: Source,
        options: IngestOptions,
    ) -> EpisodeDocument:
        fetched = self.fetch(episode, item, source, options)
        transcript = self.recognise(episode, fetched, options)
        return self._analyse(self._store.register(fetched.item), transcript)

    def fetch(
        self, episode: Episode, item: MediaItem, source: Source, options: IngestOptions
    ) -> Fetched:
        """Details, captions and the audio: everything before speech recognition (the download
        step of a distributed run, which leaves the audio in the media directory)."""
        self._store_state(episode, EpisodeState.DOWNLOADING)
        # Flat resolution (channels, feeds) may lack captions, exact dates and durations.
        item = source.details(item)
        self._store.register(item)
        names = self._known_names([item.title, item.description])
        captions = self._captions(item, options)
        wav: Path | None = None
        if not (captions is not None and options.captions == "only"):
            wav = self._download(episode, item, source, self._media_dir / episode.id)
        return Fetched(item, wav, names, captions)

    def recognise(self, episode: Episode, fetched: Fetched, options: IngestOptions) -> Transcript:
        """Speech recognition (unless captions were taken) and diarization; the transcript is
        stored with its speakers named, and the episode left ``indexing``."""
        st = self._stages
        wav = fetched.wav
        if fetched.captions is not None:
            transcript = fetched.captions
        else:
            if wav is None or not wav.exists():
                raise MediaError(f"the audio of {episode.title!r} is gone: download it again")
            transcript = self._transcribe(episode, wav, options, whisper_hints(fetched.names))
        diarization = None
        if wav is not None and st.diarizer is not None:
            self._store_state(episode, EpisodeState.DIARIZING)
            self._ensure_loaded("diarizer", st.diarizer.load)
            diarization = st.diarizer.diarize(wav, num_speakers=options.num_speakers)
            faults.point("diarization")
        transcript = st.assign_speakers(transcript, diarization)
        self._store_state(episode, EpisodeState.INDEXING)
        self._store.save_transcript(episode.id, transcript, diarization, build=self._build)
        faults.point("catalog-transcript")
        self._name_speakers(episode.id, transcript, fetched.names)
        return transcript

    def index_stored(self, episode: Episode) -> Episode:
        """Chunk, extract and index the stored transcript, then mark the episode indexed (the
        index step of a distributed run); a failure is recorded, never raised."""
        try:
            transcript = self._store.transcript(episode.id)
            if transcript is None:
                raise MediaError(f"{episode.title!r} has no stored transcript: ingest it again")
            self._store_state(episode, EpisodeState.INDEXING)
            self._analyse(episode, transcript)
        except CastgraphError as exc:
            return self.fail(episode, str(exc))
        except Exception as exc:
            log.exception("unexpected ingest error", extra={"episode_id": episode.id})
            return self.fail(episode, _unexpected(exc))
        (self._media_dir / episode.id / "audio.wav").unlink(missing_ok=True)
        return self._store_state(episode, EpisodeState.INDEXED)

    def _analyse(self, episode: Episode, transcript: Transcript) -> EpisodeDocument:
        st = self._stages
        self._check_space()
        build = episode.build if self._build is None else self._build
        # The chunk ids carry the build, so that two builds' chunks can sit side by side.
        chunks = [
            replace(c, id=chunk_id(episode.id, c.ordinal, build))
            for c in st.chunk(episode, transcript)
        ]
        entities, relations = st.extractor.extract(chunks) if st.extractor else ([], [])
        document = self._store.save_analysis(
            episode.id, chunks, entities, relations, extractor=st.extractor_name, build=self._build
        )
        faults.point("catalog-analysis")
        log.info(
            "episode analysed",
            extra={"episode_id": episode.id, "chunks": len(chunks), "build": build},
        )
        if st.indexer is not None:
            if self._build is None:
                st.indexer.index(document)
            else:
                st.indexer.stage(document, episode.build)
        return document

    def reanalyse(self, episode: Episode, transcript: Transcript) -> None:
        """Re-chunk, re-extract and re-index an episode from its stored transcript (no ASR);
        beside the live build when there is one. Raises what the stages raise."""
        if episode.state is EpisodeState.INDEXED:
            self._rebuild(episode, partial(self._rederive, episode, transcript), transcript)
        else:
            self._rederive(episode, transcript)

    def _rederive(self, episode: Episode, transcript: Transcript) -> EpisodeDocument:
        log.info("re-analysing from the stored transcript", extra={"episode_id": episode.id})
        self._store_state(episode, EpisodeState.INDEXING)
        self._name_speakers(episode.id, transcript, self._known_names([episode.title]))
        return self._analyse(episode, transcript)

    def _reprocess(
        self,
        episode: Episode,
        item: MediaItem,
        source: Source,
        options: IngestOptions,
        workdir: Path,
    ) -> Episode:
        """Re-process a searchable episode beside its live build; a failure is recorded on the
        episode (``reprocess_error``) and the live build stays as it was."""
        try:
            self._check_space()
            if self._only_cleanup(episode, options):
                self._finish_swap(self._live_document(episode.id), None)
            elif (transcript := self._stored_transcript(episode, options)) is not None:
                self.reanalyse(episode, transcript)
            else:
                run = partial(self._run_stages, episode, item, source, options)
                self._rebuild(episode, run, None)
        except CastgraphError as exc:
            return self._fail_build(episode, str(exc))
        except Exception as exc:  # one bad episode must never stop the others
            log.exception("unexpected re-process error", extra={"episode_id": episode.id})
            return self._fail_build(episode, _unexpected(exc))
        (workdir / "audio.wav").unlink(missing_ok=True)
        episode.state, episode.error, episode.reprocess_error = EpisodeState.INDEXED, None, None
        self._observer.stage(episode, EpisodeState.INDEXED)
        return episode

    def _rebuild(
        self,
        episode: Episode,
        stages: Callable[[], EpisodeDocument],
        transcript: Transcript | None,
    ) -> None:
        """Stage a new build with ``stages`` and swap it in (``transcript``: re-derive from it)."""
        build = self._store.begin_build(episode.id, keep_transcript=transcript is not None)
        log.info("re-processing beside the live build", extra={"episode_id": episode.id})
        self._build = build
        try:
            staged = stages()
        finally:
            self._build = None
        live = self._store.promote_build(episode.id, build)
        episode.build, episode.reprocessing, episode.pipeline_version = (
            build,
            None,
            PIPELINE_VERSION,
        )
        log.info("build swapped in", extra={"episode_id": episode.id, "build": build})
        self._finish_swap(live, staged)

    def _finish_swap(self, live: EpisodeDocument, staged: EpisodeDocument | None) -> None:
        """Give the graph the live build and drop the old build's index entries."""
        indexer = self._stages.indexer
        if indexer is not None:
            if staged is None or live.chunks == staged.chunks:
                indexer.retire(live)
            else:  # speakers were renamed during the run: the staged entries name them wrong
                indexer.index(live)
        self._store.finish_build(live.episode.id)

    def _live_document(self, episode_id: str) -> EpisodeDocument:
        document = self._store.document(episode_id)
        if document is None:
            raise CastgraphError(f"episode {episode_id} is indexed but has no stored analysis")
        return document

    @staticmethod
    def _only_cleanup(episode: Episode, options: IngestOptions) -> bool:
        """Whether only the cleanup after a swap is left (the run was cut short after it)."""
        return (
            episode.retired_build is not None
            and episode.reprocessing is None
            and episode.reprocess_error is None
            and not options.force
            and episode.pipeline_version == PIPELINE_VERSION
        )

    def _stored_transcript(self, episode: Episode, options: IngestOptions) -> Transcript | None:
        """The stored transcript of an episode processed by an older pipeline version.

        A version bump changes chunking or analysis, never what was heard: re-running speech
        recognition would cost minutes per episode for the same words.
        """
        if options.force or episode.pipeline_version == PIPELINE_VERSION:
            return None
        if episode.state not in (EpisodeState.INDEXED, EpisodeState.INDEXING):
            return None
        return self._store.transcript(episode.id)

    def _resumable(self, episode: Episode, options: IngestOptions) -> bool:
        """Whether only indexing is left: interrupted while indexing, analysis already stored."""
        return (
            not options.force
            and episode.state is EpisodeState.INDEXING
            and episode.pipeline_version == PIPELINE_VERSION
            and self._stages.indexer is not None
            and self._store.document(episode.id) is not None
        )

    def _index(self, episode_id: str) -> None:
        document = self._store.document(episode_id)
        if document is not None and self._stages.indexer is not None:
            log.info("resuming interrupted indexing", extra={"episode_id": episode_id})
            self._stages.indexer.index(document)

    def _captions(self, item: MediaItem, options: IngestOptions) -> Transcript | None:
        if options.captions == "never":
            return None
        loader = self._stages.load_captions
        try:
            transcript = loader(item, options.language) if loader is not None else None
        except CastgraphError as exc:
            if options.captions == "only":
                raise
            log.warning(
                "captions unusable, using ASR", extra={"item": item.title, "error": str(exc)}
            )
            transcript = None
        if transcript is None and options.captions == "only":
            raise MediaError(
                f"{item.title!r} has no human-made captions (--captions only): "
                "use --captions prefer to fall back to speech recognition"
            )
        return transcript

    def _download(self, episode: Episode, item: MediaItem, source: Source, workdir: Path) -> Path:
        workdir.mkdir(parents=True, exist_ok=True)
        media = source.fetch(
            item, workdir, progress=lambda d, t: self._observer.progress(episode, d, t)
        )
        faults.point("download")
        wav = workdir / "audio.wav"
        self._stages.extract_wav(media, wav)
        faults.point("audio")
        if self._stages.is_silent(wav):
            raise MediaError(f"no speech found in {item.title!r}: the audio is silent")
        return wav

    def _known_names(self, texts: Sequence[str]) -> list[str]:
        """Names spelled right: people named in the metadata first, then the voice registry's."""
        return [*metadata_names(texts), *self._store.voice_names()]

    def _name_speakers(self, episode_id: str, transcript: Transcript, names: list[str]) -> None:
        namer = self._stages.name_speakers
        if namer is None:
            return
        guesses = namer(transcript, names)
        shown = self._store.save_speaker_guesses(episode_id, guesses, build=self._build)
        log.info("speakers named", extra={"episode_id": episode_id, "speakers": shown})

    def _transcribe(
        self, episode: Episode, wav: Path, options: IngestOptions, hints: Sequence[str] = ()
    ) -> Transcript:
        self._store_state(episode, EpisodeState.TRANSCRIBING)
        transcriber = self._stages.transcriber
        self._ensure_loaded("transcriber", transcriber.load)
        transcript = transcriber.transcribe(
            wav,
            language=options.language,
            progress=lambda d, t: self._observer.progress(episode, d, t),
            hints=hints,
        )
        faults.point("asr")
        if not transcript.segments:
            raise MediaError(f"no speech recognised in {episode.title!r}")
        return transcript

    def _check_space(self) -> None:
        if self._stages.check_space is not None:
            self._stages.check_space()

    def _ensure_loaded(self, name: str, load: Callable[[], None]) -> None:
        if name not in self._loaded:
            load()
            self._loaded.add(name)

    def _store_state(self, episode: Episode, state: EpisodeState) -> Episode:
        if self._build is not None:  # re-processing: the episode stays indexed meanwhile
            self._store.set_build_state(episode.id, state)
            episode.reprocessing = state.value
        else:
            self._store.set_state(episode.id, state)
            episode.state, episode.error = state, None
        faults.point(f"state-{state.value}")
        self._observer.stage(episode, state)
        log.info(
            "episode state",
            extra={"episode_id": episode.id, "state": state.value, "build": self._build},
        )
        return episode

    def _fail_build(self, episode: Episode, error: str) -> Episode:
        stage = episode.reprocessing
        message = f"re-process failed while {stage}: {error}" if stage else error
        self._store.fail_build(episode.id, message)
        episode.reprocessing, episode.reprocess_error = None, message
        remove_wav(self._media_dir / episode.id)  # the live build's downloads stay (its player)
        log.error("re-process failed", extra={"episode_id": episode.id, "error": message})
        return episode

    def fail(self, episode: Episode, error: str) -> Episode:
        """Record the episode's failure in the stage it was in."""
        stage = episode.state.value
        message = f"failed while {stage}: {error}" if stage != "queued" else error
        self._store.set_state(episode.id, EpisodeState.FAILED, message)
        episode.state, episode.error = EpisodeState.FAILED, message
        after_failure(self._media_dir / episode.id, message)
        log.error("episode failed", extra={"episode_id": episode.id, "error": message})
        return episode


def _unexpected(exc: Exception) -> str:
    """The message of an error no stage expected; a full disk says so, and what to do."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"disk full ({exc}): free some space and run again; the work done so far is kept"
    return f"unexpected {type(exc).__name__}: {exc}"
