"""Speaker-turn and time aware chunking."""

from __future__ import annotations

import itertools
from datetime import date

import pytest

from castgraph.core.models import PIPELINE_VERSION, Episode, Segment, Transcript, Word
from castgraph.ingest.chunking import ChunkingOptions, chunk_transcript, count_tokens

EPISODE = Episode(
    id="abc123def456",
    source_id="s",
    title="Episodio 1",
    url="https://www.youtube.com/watch?v=x",
    published=date(2024, 5, 1),
)


def _segment(speaker: str, text: str, start: float, step: float = 0.5) -> Segment:
    words = tuple(
        Word(f" {t}", start + i * step, start + (i + 1) * step, 0.9, None)
        for i, t in enumerate(text.split())
    )
    return Segment(start, words[-1].end, text, speaker, words)


def _transcript(*segments: Segment) -> Transcript:
    return Transcript("es", segments, duration=segments[-1].end)


def test_chunks_carry_metadata_and_exact_word_times() -> None:
    t = _transcript(_segment("ANA", "Hola a todos. Hoy hablamos de Ushuaia.", 1.0))
    (chunk,) = chunk_transcript(EPISODE, t)
    assert chunk.id == f"abc123def456-00000-v{PIPELINE_VERSION}"
    assert (chunk.start, chunk.end) == (1.0, 4.5)
    assert chunk.text == "Hola a todos. Hoy hablamos de Ushuaia."
    assert chunk.speakers == ("ANA",) and chunk.language == "es"
    assert (chunk.title, chunk.url, chunk.published) == (
        EPISODE.title,
        EPISODE.url,
        date(2024, 5, 1),
    )


def test_long_speech_is_bounded_with_overlap_and_never_splits_words() -> None:
    sentences = " ".join(f"Frase número {i} sobre el mate amargo." for i in range(60))
    t = _transcript(_segment("ANA", sentences, 0.0, 0.3))
    options = ChunkingOptions(max_tokens=40, overlap=10)
    chunks = chunk_transcript(EPISODE, t, options)
    assert len(chunks) > 5
    words = sentences.split()
    for a, b in itertools.pairwise(chunks):
        assert count_tokens(a.text) <= 40
        assert a.start < b.start and b.start < a.end  # consecutive chunks overlap in time
        assert set(b.text.split()[:3]) <= set(a.text.split())
    assert all(set(c.text.split()) <= set(words) for c in chunks)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert chunks[-1].end == pytest.approx(len(words) * 0.3)


def test_a_sentence_longer_than_the_bound_is_cut_at_word_boundaries() -> None:
    text = " ".join(["palabra"] * 100)
    chunks = chunk_transcript(
        EPISODE, _transcript(_segment("ANA", text, 0.0)), ChunkingOptions(30, 5)
    )
    assert all(count_tokens(c.text) <= 30 for c in chunks)
    assert all(w == "palabra" for c in chunks for w in c.text.split())


def test_speaker_turns_start_new_chunks_once_half_full() -> None:
    ana = _segment("ANA", " ".join(["uno dos tres cuatro cinco."] * 4), 0.0)
    ben = _segment("BEN", "Yo no estoy de acuerdo con eso, para nada, la verdad.", 20.0)
    short = _segment("ANA", "Claro.", 30.0)
    chunks = chunk_transcript(EPISODE, _transcript(ana, ben, short), ChunkingOptions(40, 8))
    assert chunks[0].speakers == ("ANA",)
    assert chunks[1].speakers == ("BEN", "ANA")  # a short reply stays with the turn before it
    assert chunks[1].start == 20.0


def test_captions_without_word_times_are_spread_over_the_segment() -> None:
    seg = Segment(10.0, 14.0, "one two three four", "EN", ())
    (chunk,) = chunk_transcript(EPISODE, Transcript("en", (seg,), 14.0))
    assert (chunk.start, chunk.end, chunk.text) == (10.0, 14.0, "one two three four")


def test_empty_transcript_gives_no_chunks_and_bad_options_are_refused() -> None:
    assert chunk_transcript(EPISODE, Transcript("es", (), 0.0)) == []
    with pytest.raises(ValueError, match="overlap"):
        ChunkingOptions(max_tokens=40, overlap=30)


def test_a_short_closing_line_joins_the_chunk_before_it() -> None:
    talk = _segment("ANA", " ".join(["uno dos tres cuatro cinco."] * 4), 0.0)
    bye = _segment("BEN", "Gracias, chau.", 20.0)
    (chunk,) = chunk_transcript(EPISODE, _transcript(talk, bye), ChunkingOptions(40, 8))
    assert chunk.speakers == ("ANA", "BEN") and chunk.text.endswith("Gracias, chau.")
