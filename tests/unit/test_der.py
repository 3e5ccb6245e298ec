"""Diarization error rate on hand-made references."""

from __future__ import annotations

from pathlib import Path

import pytest

from castgraph.core.errors import InputError
from castgraph.core.models import SpeakerTurn as T
from castgraph.evaluation.der import diarization_error_rate, read_rttm, write_rttm


def test_perfect_hypothesis_with_other_labels_scores_zero() -> None:
    ref = [T(0, 5, "alice"), T(5, 10, "bob")]
    hyp = [T(0, 5, "SPEAKER_01"), T(5, 10, "SPEAKER_00")]
    result = diarization_error_rate(ref, hyp, collar=0.0)
    assert result.der == pytest.approx(0.0)
    assert result.mapping == {"SPEAKER_01": "alice", "SPEAKER_00": "bob"}
    assert result.total == pytest.approx(10.0)


def test_missed_false_alarm_and_confusion_are_separated() -> None:
    ref = [T(0, 4, "a"), T(6, 10, "b")]
    hyp = [T(0, 2, "x"), T(4, 6, "x"), T(6, 8, "y"), T(8, 10, "x")]
    r = diarization_error_rate(ref, hyp, collar=0.0)
    assert r.missed == pytest.approx(2.0)
    assert r.false_alarm == pytest.approx(2.0)
    assert r.confusion == pytest.approx(2.0)
    assert r.der == pytest.approx(6.0 / 8.0)


def test_single_label_for_two_speakers_confuses_the_smaller_one() -> None:
    ref = [T(0, 6, "a"), T(6, 10, "b")]
    r = diarization_error_rate(ref, [T(0, 10, "x")], collar=0.0)
    assert r.confusion == pytest.approx(4.0)
    assert r.der == pytest.approx(0.4)


def test_overlapped_reference_counts_each_speaker() -> None:
    ref = [T(0, 10, "a"), T(5, 10, "b")]
    r = diarization_error_rate(ref, [T(0, 10, "x")], collar=0.0)
    assert r.total == pytest.approx(15.0)
    assert r.missed == pytest.approx(5.0)
    assert r.confusion == pytest.approx(0.0)
    both = diarization_error_rate(ref, [T(0, 10, "x"), T(5, 10, "y")], collar=0.0)
    assert both.der == pytest.approx(0.0)


def test_collar_forgives_boundary_errors() -> None:
    ref = [T(0, 5, "a"), T(5, 10, "b")]
    hyp = [T(0, 5.2, "x"), T(5.2, 10, "y")]
    assert diarization_error_rate(ref, hyp, collar=0.0).der > 0
    scored = diarization_error_rate(ref, hyp, collar=0.25)
    assert scored.der == pytest.approx(0.0)
    assert scored.total == pytest.approx(10.0 - 0.25 - 0.5 - 0.25)  # 0, 5 and 10 s boundaries


def test_more_hypothesis_speakers_than_reference() -> None:
    ref = [T(0, 10, "a")]
    hyp = [T(0, 7, "x"), T(7, 10, "y")]
    r = diarization_error_rate(ref, hyp, collar=0.0)
    assert r.confusion == pytest.approx(3.0)
    assert r.mapping == {"x": "a"}


def test_empty_cases() -> None:
    assert diarization_error_rate([], []).der == 0.0
    assert diarization_error_rate([T(0, 2, "a")], [], collar=0.0).der == pytest.approx(1.0)
    assert diarization_error_rate([], [T(0, 1, "x")]).der == float("inf")


def test_rttm_round_trip(tmp_path: Path) -> None:
    turns = [T(0.5, 1.25, "spk a"[:3]), T(2.0, 3.5, "b")]
    path = tmp_path / "x.rttm"
    write_rttm(turns, path, file_id="f")
    back = read_rttm(path)
    assert [(t.start, t.end, t.speaker) for t in back] == [(0.5, 1.25, "spk"), (2.0, 3.5, "b")]
    assert read_rttm(path, file_id="other") == []


def test_rttm_reads_na_fields_and_rejects_short_lines(tmp_path: Path) -> None:
    path = tmp_path / "ref.rttm"
    path.write_text(
        "SPEAKER sample 1 6.690 0.430 <NA> <NA> speaker90 <NA> <NA>\n"
        ";; a comment\n"
        "SPEAKER sample 1 1.0 1.0 <NA> <NA> speaker91 <NA> <NA>\n",
        encoding="utf-8",
    )
    turns = read_rttm(path)
    assert [t.speaker for t in turns] == ["speaker91", "speaker90"]
    assert turns[1].end == pytest.approx(7.12)
    path.write_text("SPEAKER x 1 0.0\n", encoding="utf-8")
    with pytest.raises(InputError):
        read_rttm(path)
    with pytest.raises(InputError):
        read_rttm(tmp_path / "missing.rttm")


def test_skip_overlap_leaves_out_overlapped_reference() -> None:
    ref = [T(0, 10, "a"), T(5, 10, "b")]
    r = diarization_error_rate(ref, [T(0, 10, "x")], collar=0.0, skip_overlap=True)
    assert r.total == pytest.approx(5.0)
    assert r.der == pytest.approx(0.0)
