"""Words to speakers, and segments rebuilt as speaker turns, on hand-made transcripts."""

from __future__ import annotations

from castgraph.core.models import Diarization, Segment, SpeakerTurn, Transcript, Word
from castgraph.ingest.align import assign_speakers, join_words, speaker_at


def _words(*items: tuple[str, float, float]) -> tuple[Word, ...]:
    return tuple(Word(text=t, start=s, end=e) for t, s, e in items)


def _transcript(*segments: Segment, duration: float = 100.0) -> Transcript:
    return Transcript(language="en", segments=segments, duration=duration)


def _seg(words: tuple[Word, ...]) -> Segment:
    return Segment(start=words[0].start, end=words[-1].end, text="x", words=words)


TWO = Diarization(
    turns=(
        SpeakerTurn(0.0, 2.0, "SPEAKER_00"),
        SpeakerTurn(2.0, 4.0, "SPEAKER_01"),
        SpeakerTurn(5.0, 8.0, "SPEAKER_00"),
    )
)


def test_words_take_the_speaker_of_largest_overlap_and_segments_follow_turns() -> None:
    words = _words(
        (" Hello", 0.1, 0.5),
        (" there.", 0.6, 1.9),
        (" Hi", 1.9, 2.6),
        (" you", 2.7, 3.0),
        ("!", 3.0, 3.1),
        (" Back", 5.2, 5.6),
        (" again", 5.7, 6.0),
    )
    out = assign_speakers(_transcript(_seg(words)), TWO)
    assert [w.speaker for w in out.words] == ["SPEAKER_00"] * 2 + ["SPEAKER_01"] * 3 + [
        "SPEAKER_00"
    ] * 2
    assert [(s.speaker, s.text) for s in out.segments] == [
        ("SPEAKER_00", "Hello there."),
        ("SPEAKER_01", "Hi you!"),
        ("SPEAKER_00", "Back again"),
    ]
    first = out.segments[0]
    assert (first.start, first.end) == (0.1, 1.9)
    assert all(w.text == w.text.strip() for w in out.words)


def test_word_outside_every_turn_gets_the_nearest_turn() -> None:
    words = _words(("a", 4.2, 4.3), ("b", 4.8, 4.9), ("c", 9.0, 9.5))
    out = assign_speakers(_transcript(_seg(words)), TWO)
    assert [w.speaker for w in out.words] == ["SPEAKER_01", "SPEAKER_00", "SPEAKER_00"]


def test_overlapping_turns_pick_the_larger_overlap() -> None:
    dia = Diarization(turns=(SpeakerTurn(0, 10, "A"), SpeakerTurn(4, 5, "B")))
    assert speaker_at(dia, 4.1, 4.9) == "A"  # tie on overlap: the earlier speaker
    assert speaker_at(dia, 3.9, 4.2) == "A"
    dia = Diarization(turns=(SpeakerTurn(0, 4.5, "A"), SpeakerTurn(4, 8, "B")))
    assert speaker_at(dia, 4.2, 5.0) == "B"
    assert speaker_at(dia, 6.0, 6.0) == "B"  # zero-length word inside a turn


def test_long_pause_splits_a_segment_of_one_speaker() -> None:
    dia = Diarization(turns=(SpeakerTurn(0, 20, "S"),))
    words = _words(("one", 0.0, 0.5), ("two", 0.6, 1.0), ("three", 3.0, 3.4))
    out = assign_speakers(_transcript(_seg(words)), dia)
    assert [s.text for s in out.segments] == ["one two", "three"]


def test_long_segment_breaks_at_a_sentence_end() -> None:
    dia = Diarization(turns=(SpeakerTurn(0, 100, "S"),))
    items = [(f"w{i}", i * 1.0, i * 1.0 + 0.5) for i in range(40)]
    items[10] = ("early.", 10.0, 10.5)
    items[33] = ("end.", 33.0, 33.5)
    out = assign_speakers(_transcript(_seg(_words(*items))), dia)
    assert [s.text.split()[-1] for s in out.segments] == ["end.", "w39"]
    assert out.segments[1].start == 34.0


def test_without_punctuation_a_segment_still_ends_eventually() -> None:
    dia = Diarization(turns=(SpeakerTurn(0, 200, "S"),))
    items = [(f"w{i}", i * 1.0, i * 1.0 + 0.5) for i in range(150)]
    out = assign_speakers(_transcript(_seg(_words(*items))), dia)
    assert len(out.segments) >= 2
    assert all(s.end - s.start <= 62 for s in out.segments)
    assert sum(len(s.words) for s in out.segments) == 150


def test_captions_without_words_are_assigned_as_a_whole() -> None:
    caption = Segment(start=5.5, end=7.5, text="A caption line.")
    words = _words(("Hi", 0.5, 0.8))
    out = assign_speakers(_transcript(_seg(words), caption), TWO)
    assert [(s.speaker, s.text) for s in out.segments] == [
        ("SPEAKER_00", "Hi"),
        ("SPEAKER_00", "A caption line."),
    ]
    assert out.segments[1].words == ()


def test_no_diarization_leaves_the_transcript_unchanged() -> None:
    transcript = _transcript(_seg(_words(("Hi", 0.0, 0.3))))
    assert assign_speakers(transcript, None) is transcript
    assert assign_speakers(transcript, Diarization(turns=())) is transcript
    assert transcript.segments[0].speaker is None


def test_empty_transcript() -> None:
    out = assign_speakers(_transcript(), TWO)
    assert out.segments == ()


def test_join_words_handles_punctuation() -> None:
    assert join_words([" Hello", ",", " world", " ."]) == "Hello, world."
    assert join_words(["Dijo", "¿", "qué", "?", "¡", "Nada", "!"]) == "Dijo ¿qué? ¡Nada!"
    assert join_words(["  ", "a", "...", "b"]) == "a... b"
    assert join_words([]) == ""
