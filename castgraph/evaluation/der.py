"""Diarization error rate (DER), frame-based, with a forgiveness collar and optimal label mapping.

DER = (missed speech + false alarm + speaker confusion) / total reference speech, all in seconds,
scored on 10 ms frames. Overlapped reference speech counts once per speaker (as in NIST md-eval).
Frames within ``collar`` seconds of any reference turn boundary are not scored (nor, on request,
overlapped reference speech). Hypothesis labels
are mapped one-to-one onto reference labels so as to maximise the matched time (Hungarian).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from castgraph.core.errors import InputError
from castgraph.core.models import SpeakerTurn

__all__ = ["DERResult", "diarization_error_rate", "read_rttm", "write_rttm"]


@dataclass(frozen=True, slots=True)
class DERResult:
    """Error components in seconds of scored reference speech, and the label mapping used."""

    missed: float
    false_alarm: float
    confusion: float
    total: float
    mapping: dict[str, str] = field(default_factory=dict)

    @property
    def der(self) -> float:
        """The error rate (0 when there is no reference speech and no error)."""
        errors = self.missed + self.false_alarm + self.confusion
        if self.total <= 0:
            return 0.0 if errors <= 0 else float("inf")
        return errors / self.total


def read_rttm(path: Path, file_id: str | None = None) -> list[SpeakerTurn]:
    """Read the SPEAKER lines of an RTTM file (only those of ``file_id`` when given)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise InputError(f"cannot read RTTM file {path}: {e}") from e
    turns: list[SpeakerTurn] = []
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields or fields[0] != "SPEAKER":
            continue
        if len(fields) < 8:
            raise InputError(f"{path}:{number}: an RTTM SPEAKER line has at least 8 fields")
        if file_id is not None and fields[1] != file_id:
            continue
        try:
            start, duration = float(fields[3]), float(fields[4])
        except ValueError as e:
            raise InputError(f"{path}:{number}: bad onset or duration") from e
        turns.append(SpeakerTurn(start=start, end=start + duration, speaker=fields[7]))
    return sorted(turns, key=lambda t: (t.start, t.end, t.speaker))


def write_rttm(turns: Iterable[SpeakerTurn], path: Path, file_id: str = "audio") -> None:
    """Write speaker turns as RTTM SPEAKER lines."""
    lines = [
        f"SPEAKER {file_id} 1 {t.start:.3f} {t.end - t.start:.3f} <NA> <NA> {t.speaker} <NA> <NA>"
        for t in sorted(turns, key=lambda t: (t.start, t.speaker))
        if t.end > t.start
    ]
    Path(path).write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")


def _to_frames(
    turns: Sequence[SpeakerTurn], labels: list[str], n_frames: int, step: float
) -> NDArray[np.bool_]:
    """A (frames, labels) activity matrix."""
    index = {label: i for i, label in enumerate(labels)}
    activity = np.zeros((n_frames, len(labels)), dtype=bool)
    for turn in turns:
        first = max(0, round(turn.start / step))
        last = min(n_frames, round(turn.end / step))
        if last > first:
            activity[first:last, index[turn.speaker]] = True
    return activity


def _scored_frames(
    reference: Sequence[SpeakerTurn], n_frames: int, step: float, collar: float
) -> NDArray[np.bool_]:
    """Frames outside the collar around every reference boundary."""
    scored = np.ones(n_frames, dtype=bool)
    if collar <= 0:
        return scored
    for turn in reference:
        for boundary in (turn.start, turn.end):
            first = max(0, round((boundary - collar) / step))
            last = min(n_frames, round((boundary + collar) / step))
            scored[first:last] = False
    return scored


def _best_mapping(
    ref: NDArray[np.bool_], hyp: NDArray[np.bool_], ref_labels: list[str], hyp_labels: list[str]
) -> dict[str, str]:
    """Hypothesis label -> reference label maximising co-occurring frames."""
    from scipy.optimize import linear_sum_assignment

    if not ref_labels or not hyp_labels:
        return {}
    overlap = hyp.astype(np.int64).T @ ref.astype(np.int64)
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    return {hyp_labels[r]: ref_labels[c] for r, c in zip(rows, cols, strict=True)}


def diarization_error_rate(
    reference: Sequence[SpeakerTurn],
    hypothesis: Sequence[SpeakerTurn],
    *,
    collar: float = 0.25,
    frame: float = 0.01,
    skip_overlap: bool = False,
) -> DERResult:
    """Score ``hypothesis`` against ``reference``; ``collar`` is the half-width in seconds.

    ``skip_overlap`` leaves out frames where two or more reference speakers talk at once.
    """
    if frame <= 0 or collar < 0:
        raise InputError("frame must be positive and collar non-negative")
    end = max((t.end for t in [*reference, *hypothesis]), default=0.0)
    n_frames = round(end / frame) + 1
    ref_labels = sorted({t.speaker for t in reference})
    hyp_labels = sorted({t.speaker for t in hypothesis})
    scored = _scored_frames(reference, n_frames, frame, collar)
    ref_all = _to_frames(reference, ref_labels, n_frames, frame)
    if skip_overlap:
        scored &= ref_all.sum(axis=1) < 2
    ref = ref_all[scored]
    hyp = _to_frames(hypothesis, hyp_labels, n_frames, frame)[scored]
    mapping = _best_mapping(ref, hyp, ref_labels, hyp_labels)
    n_ref = ref.sum(axis=1)
    n_hyp = hyp.sum(axis=1)
    correct = np.zeros(len(n_ref), dtype=np.int64)
    for h, r in mapping.items():
        correct += hyp[:, hyp_labels.index(h)] & ref[:, ref_labels.index(r)]
    missed = np.maximum(n_ref - n_hyp, 0).sum()
    false_alarm = np.maximum(n_hyp - n_ref, 0).sum()
    confusion = (np.minimum(n_ref, n_hyp) - correct).sum()
    return DERResult(
        missed=float(missed) * frame,
        false_alarm=float(false_alarm) * frame,
        confusion=float(confusion) * frame,
        total=float(n_ref.sum()) * frame,
        mapping=mapping,
    )
