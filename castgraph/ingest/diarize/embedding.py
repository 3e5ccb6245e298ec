"""The offline default diarizer: resemblyzer voice embeddings + clustering with an estimated count.

Steps: Silero VAD speech regions → 1.5 s windows on a 0.25 s hop inside them → one resemblyzer
embedding per window (each window gain-normalised, as the encoder was trained on level-normalised
utterances) → clustering (:mod:`castgraph.ingest.diarize.clustering`) → re-segmentation of every
window against the speaker centroids with a sticky Viterbi path → turns (same-speaker pieces
merged, short same-speaker pauses bridged) and one L2-normalised centroid per speaker.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from castgraph.core.errors import ModelError
from castgraph.core.models import Diarization, SpeakerTurn
from castgraph.ingest.audio import SAMPLE_RATE, read_audio
from castgraph.ingest.diarize import missing_dependency
from castgraph.ingest.diarize.clustering import (
    ClusteringOptions,
    centroids,
    cluster_embeddings,
    normalize_rows,
    relabel_by_first_appearance,
    viterbi_smooth,
)
from castgraph.ingest.vad import Region, speech_regions

logger = logging.getLogger(__name__)

RESEMBLYZER_INSTALL = "pip install --no-deps resemblyzer==0.1.4"
MEL_HOP = 0.01  # resemblyzer's mel frames are 10 ms apart
TARGET_DBFS = -30.0  # resemblyzer's training-time volume normalisation
EMBEDDING_SIZE = 256


@dataclass(frozen=True, slots=True)
class DiarizerOptions:
    """Window, re-segmentation and turn-building tunables."""

    window: float = 1.5
    hop: float = 0.25
    min_window: float = 0.5
    """Windows shorter than this (tiny speech regions) are labelled by re-segmentation only."""
    max_cluster_windows: int = 2000
    """Above this, only every n-th window is clustered (long episodes); all are re-segmented."""
    switch_penalty: float = 0.15
    """Viterbi cost of a speaker change inside a speech region, in cosine-similarity units."""
    anchor: float = 0.5
    """Where in its window an embedding is attributed (the encoder's final state leans late)."""
    bridge_gap: float = 1.5
    """Pauses up to this long between two turns of the same speaker become part of the turn."""
    fill_gap: float = 0.5
    """Pauses up to this long between two different speakers are split between them."""


class EmbeddingDiarizer:
    """Diarizer protocol implementation that runs offline on CPU."""

    def __init__(
        self,
        models_dir: Path | None = None,
        *,
        max_speakers: int = 8,
        device: str = "cpu",
        options: DiarizerOptions | None = None,
        clustering: ClusteringOptions | None = None,
    ) -> None:
        self.models_dir = models_dir
        self.device = device
        self.options = options or DiarizerOptions()
        self.clustering = clustering or ClusteringOptions(max_speakers=max_speakers)
        self._encoder: Any = None

    def load(self) -> None:
        """Load the resemblyzer voice encoder (local weights first, then packaged ones)."""
        if self._encoder is not None:
            return
        try:
            with warnings.catch_warnings():  # resemblyzer imports a deprecated scipy path
                warnings.simplefilter("ignore", DeprecationWarning)
                from resemblyzer import VoiceEncoder
        except ImportError as e:
            raise missing_dependency("resemblyzer", RESEMBLYZER_INSTALL) from e
        weights = self._weights_path()
        try:
            self._encoder = VoiceEncoder(device=self.device, verbose=False, weights_fpath=weights)
            self._encoder.eval()
        except Exception as e:
            raise ModelError(
                f"cannot load the speaker encoder from {weights or 'package'}: {e}"
            ) from e
        logger.info("speaker encoder loaded (%s)", weights or "resemblyzer packaged weights")

    def _weights_path(self) -> Path | None:
        """``<models_dir>/speaker/resemblyzer/pretrained.pt`` when available there."""
        if self.models_dir is None:
            return None
        from castgraph.modelfiles import resolve_speaker_encoder

        return resolve_speaker_encoder(self.models_dir)

    def diarize(self, wav_path: Path, *, num_speakers: int | None = None) -> Diarization:
        """Split a 16 kHz mono WAV file into speaker turns with one centroid per speaker."""
        self.load()
        audio = read_audio(wav_path)
        regions = speech_regions(audio)
        spans, region_of = window_spans(regions, self.options.window, self.options.hop)
        if len(spans) == 0:
            logger.info("no speech found in %s", wav_path)
            return Diarization(turns=())
        emb = self._embed(audio, spans)
        labels = self._cluster(emb, spans, num_speakers)
        labels, cents = self._resegment(emb, labels, region_of)
        turns = build_turns(spans, labels, region_of, regions, self.options)
        embeddings = speaker_embeddings(emb, labels, cents, spans)
        names = {i: f"SPEAKER_{i:02d}" for i in range(len(cents))}
        return Diarization(
            turns=tuple(SpeakerTurn(s, e, names[label]) for s, e, label in turns),
            embeddings={names[i]: tuple(float(v) for v in c) for i, c in embeddings.items()},
        )

    def _embed(self, audio: NDArray[np.float32], spans: NDArray[np.float64]) -> NDArray[np.float64]:
        """One embedding per window span."""
        try:
            return embed_windows(self._encoder, audio, spans)
        except (RuntimeError, ValueError) as e:
            raise ModelError(f"speaker embedding failed: {e}") from e

    def _cluster(
        self,
        emb: NDArray[np.float64],
        spans: NDArray[np.float64],
        num_speakers: int | None,
    ) -> NDArray[np.int64]:
        """Cluster the full-length windows (every n-th one on long files); others get -1.

        Windows left out are labelled by re-segmentation against the speaker centroids.
        """
        usable = np.flatnonzero(spans[:, 1] - spans[:, 0] >= self.options.min_window)
        if len(usable) == 0:
            usable = np.arange(len(spans))
        stride = max(1, -(-len(usable) // self.options.max_cluster_windows))
        chosen = usable[::stride]
        opts = self.clustering
        if stride > 1:
            opts = dataclasses.replace(
                opts, min_cluster_windows=max(2, opts.min_cluster_windows // stride)
            )
        labels = np.full(len(spans), -1, dtype=np.int64)
        labels[chosen] = cluster_embeddings(emb[chosen], num_speakers=num_speakers, options=opts)
        return labels

    def _resegment(
        self, emb: NDArray[np.float64], labels: NDArray[np.int64], region_of: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Re-assign every window to a centroid along a sticky Viterbi path; refresh centroids."""
        known = labels >= 0
        k = int(labels[known].max()) + 1
        cents = centroids(emb[known], labels[known], k)
        breaks = np.flatnonzero(np.diff(region_of) != 0) + 1
        path = viterbi_smooth(emb @ cents.T, self.options.switch_penalty, breaks.tolist())
        path = relabel_by_first_appearance(path)
        k = int(path.max()) + 1
        return path, centroids(emb, path, k)


def window_spans(
    regions: list[Region], window: float, hop: float
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Sliding windows inside each region (a shorter region is one window); their region index."""
    spans: list[tuple[float, float]] = []
    owners: list[int] = []
    for index, (start, end) in enumerate(regions):
        if end - start <= window:
            starts = np.array([start])
            length = end - start
        else:
            count = int(np.ceil((end - start - window) / hop)) + 1
            starts = np.linspace(start, end - window, count)
            length = window
        spans.extend((float(s), float(s) + length) for s in starts)
        owners.extend([index] * len(starts))
    return np.array(spans, dtype=np.float64).reshape(-1, 2), np.array(owners, dtype=np.int64)


def mel_spectrogram(audio: NDArray[np.float32], block: float = 300.0) -> NDArray[np.float32]:
    """Resemblyzer's mel frames (10 ms apart) of the whole file, computed in blocks to bound
    memory on long episodes; frame ``f`` is centred on sample ``f * 160`` as in one pass."""
    from resemblyzer.audio import wav_to_mel_spectrogram

    hop = int(MEL_HOP * SAMPLE_RATE)
    step = int(block / MEL_HOP) * hop
    margin = 4 * hop
    parts = []
    for b0 in range(0, max(len(audio), 1), step):
        lo = max(0, b0 - margin)
        mel = wav_to_mel_spectrogram(audio[lo : b0 + step + margin])
        first = (b0 - lo) // hop
        count = (min(b0 + step, len(audio)) - b0) // hop + (1 if b0 + step >= len(audio) else 0)
        parts.append(mel[first : first + count])
    return np.concatenate(parts).astype(np.float32)


def embed_windows(
    encoder: Any, audio: NDArray[np.float32], spans: NDArray[np.float64], batch: int = 64
) -> NDArray[np.float64]:
    """Resemblyzer embeddings of each span (each window brought to the encoder's level)."""
    import torch

    mel = mel_spectrogram(audio)
    frames = np.round(spans / MEL_HOP).astype(np.int64)
    frames[:, 1] = np.minimum(frames[:, 1], len(mel))
    out = np.zeros((len(spans), EMBEDDING_SIZE), dtype=np.float64)
    by_length: dict[int, list[int]] = {}
    for i, (a, b) in enumerate(frames):
        by_length.setdefault(int(b - a), []).append(i)
    with torch.no_grad():
        for length, items in by_length.items():
            if length <= 0:
                continue
            for first in range(0, len(items), batch):
                chunk = items[first : first + batch]
                x = np.stack([mel[frames[i, 0] : frames[i, 0] + length] for i in chunk])
                gains = np.array([_gain(audio, spans[i]) for i in chunk], dtype=np.float32)
                x *= gains[:, None, None] ** 2
                out[chunk] = encoder(torch.from_numpy(x).to(encoder.device)).cpu().numpy()
    return normalize_rows(out)


def _gain(audio: NDArray[np.float32], span: NDArray[np.float64]) -> float:
    """Amplitude gain that brings the span to the target RMS (mel power scales with its square)."""
    piece = audio[int(span[0] * SAMPLE_RATE) : max(int(span[1] * SAMPLE_RATE), 1)]
    rms = float(np.sqrt(np.mean(np.square(piece, dtype=np.float64)))) if piece.size else 0.0
    return float(10 ** (TARGET_DBFS / 20)) / max(rms, 1e-5)


def build_turns(
    spans: NDArray[np.float64],
    labels: NDArray[np.int64],
    region_of: NDArray[np.int64],
    regions: list[Region],
    options: DiarizerOptions,
) -> list[tuple[float, float, int]]:
    """Speaker turns: each window owns the time around its anchor point, within its region."""
    anchors = spans[:, 0] + options.anchor * (spans[:, 1] - spans[:, 0])
    pieces: list[tuple[float, float, int]] = []
    for index, (start, end) in enumerate(regions):
        idx = np.flatnonzero(region_of == index)
        if len(idx) == 0:
            continue
        cuts = [start, *((anchors[idx[1:]] + anchors[idx[:-1]]) / 2), end]
        pieces.extend(
            (float(cuts[j]), float(cuts[j + 1]), int(labels[i])) for j, i in enumerate(idx)
        )
    turns: list[tuple[float, float, int]] = []
    for start, end, label in pieces:
        if turns and turns[-1][2] == label and start - turns[-1][1] <= options.bridge_gap:
            turns[-1] = (turns[-1][0], end, label)
        else:
            turns.append((start, end, label))
    for i in range(1, len(turns)):
        gap = turns[i][0] - turns[i - 1][1]
        if 0 < gap <= options.fill_gap:
            middle = turns[i - 1][1] + gap / 2
            turns[i - 1] = (turns[i - 1][0], middle, turns[i - 1][2])
            turns[i] = (middle, turns[i][1], turns[i][2])
    return [t for t in turns if t[1] > t[0]]


def speaker_embeddings(
    emb: NDArray[np.float64],
    labels: NDArray[np.int64],
    cents: NDArray[np.float64],
    spans: NDArray[np.float64],
) -> dict[int, NDArray[np.float64]]:
    """Per speaker, the normalised mean of its full-length, confidently assigned windows."""
    full = spans[:, 1] - spans[:, 0] >= 0.99 * float(np.max(spans[:, 1] - spans[:, 0]))
    scores = emb @ cents.T
    ranked = np.sort(scores, axis=1)
    margin = ranked[:, -1] - (ranked[:, -2] if scores.shape[1] > 1 else 0.0)
    result: dict[int, NDArray[np.float64]] = {}
    for label in range(len(cents)):
        mine = labels == label
        confident = mine & full & (margin >= np.median(margin[mine])) if mine.any() else mine
        chosen = confident if confident.sum() >= 3 else mine
        if chosen.any():
            result[label] = normalize_rows(emb[chosen].mean(axis=0, keepdims=True))[0]
    return result
