"""Offline speech synthesis of the demo episodes: espeak-ng per turn, numpy mixing, ffmpeg encoding.

Every turn is rendered with the speaker's espeak-ng voice, trimmed of its own leading and trailing
silence, resampled to 16 kHz mono and placed on one timeline with short pauses between turns. The
exact start and end of every turn on that timeline is returned: the ground truth for diarization and
for gold moments. The output is deterministic: pauses come from a hash of the episode id, and
ffmpeg runs in bit-exact mode without metadata that carries versions or dates.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from castgraph.core.errors import DependencyError, MediaError
from castgraph.ingest.audio import ffmpeg_binary as ffmpeg_binary
from castgraph.ingest.audio import wav_duration as wav_duration

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
SYNTH_VERSION = "1"
"""Bumped whenever rendering changes, so that built episodes are re-synthesised."""

LEAD_IN = 0.5
TAIL = 1.0
PAUSE_RANGE = (0.3, 0.8)
_SILENCE_THRESHOLD = 0.01
_ESPEAK_RATE = 22_050

Samples = npt.NDArray[np.float32]


class ToolMissingError(DependencyError):
    """A system program (not a Python package) is missing; the message says how to install it."""

    def __init__(self, tool: str, hint: str) -> None:
        super().__init__(tool, install=hint)


@dataclass(frozen=True, slots=True)
class Voice:
    """An espeak-ng voice (``es-419+f3``), pitch (0-99) and speed (words per minute)."""

    voice: str
    pitch: int = 50
    speed: int = 160


@dataclass(frozen=True, slots=True)
class Line:
    """One turn to render: who says it (a speaker label), with which voice, and what."""

    speaker: str
    voice: Voice
    text: str


@dataclass(frozen=True, slots=True)
class Span:
    """Where a rendered turn sits on the episode timeline, in seconds."""

    index: int
    speaker: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Encoding:
    """The compressed format episodes are published in."""

    codec: str
    extension: str
    mime: str
    args: tuple[str, ...]


MP3 = Encoding("libmp3lame", "mp3", "audio/mpeg", ("-c:a", "libmp3lame", "-b:a", "64k"))
M4A = Encoding("aac", "m4a", "audio/mp4", ("-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart"))


def espeak_binary() -> str:
    """The espeak-ng executable, or a :class:`ToolMissingError` saying how to install it."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise ToolMissingError("espeak-ng", "install espeak-ng: apt-get install espeak-ng")
    return path


def pick_encoding(ffmpeg: str) -> Encoding:
    """MP3 when this ffmpeg has libmp3lame, else AAC in M4A (the built-in encoder)."""
    listing = _run([ffmpeg, "-hide_banner", "-encoders"]).stdout.decode("utf-8", "replace")
    return MP3 if " libmp3lame " in listing else M4A


def render_line(line: Line, workdir: Path) -> Samples:
    """Speak one line with espeak-ng; the speech as 16 kHz float samples, silence trimmed."""
    text_path = workdir / "line.txt"
    wav_path = workdir / "line.wav"
    text_path.write_text(line.text, encoding="utf-8")
    v = line.voice
    _run(
        [
            espeak_binary(),
            "-b",
            "1",
            "-v",
            v.voice,
            "-p",
            str(v.pitch),
            "-s",
            str(v.speed),
            "-w",
            str(wav_path),
            "-f",
            str(text_path),
        ]
    )
    rate, samples = read_wav(wav_path)
    if rate != SAMPLE_RATE:
        from scipy.signal import resample_poly

        samples = resample_poly(samples, SAMPLE_RATE, rate).astype(np.float32)
    trimmed = _trim(samples)
    if trimmed.size == 0:
        raise MediaError(f"espeak-ng produced no speech for voice {v.voice!r}: {line.text[:40]!r}")
    return trimmed


def render_episode(episode_id: str, lines: Sequence[Line], wav_path: Path) -> list[Span]:
    """Render every line into one 16 kHz mono WAV at ``wav_path``; the span of every turn."""
    pieces: list[Samples] = [_silence(LEAD_IN)]
    spans: list[Span] = []
    cursor = _samples(LEAD_IN)
    with tempfile.TemporaryDirectory(prefix="castgraph-synth-") as tmp:
        for index, line in enumerate(lines):
            if index:
                pause = _silence(pause_after(episode_id, index - 1))
                pieces.append(pause)
                cursor += pause.size
            speech = render_line(line, Path(tmp))
            spans.append(Span(index, line.speaker, _sec(cursor), _sec(cursor + speech.size)))
            pieces.append(speech)
            cursor += speech.size
    pieces.append(_silence(TAIL))
    write_wav(wav_path, np.concatenate(pieces))
    logger.info("rendered %s: %d turns, %.1f s", episode_id, len(spans), _sec(cursor) + TAIL)
    return spans


def pause_after(episode_id: str, index: int) -> float:
    """The pause after turn ``index``: between 0.3 and 0.8 s, fixed by a hash (deterministic)."""
    digest = hashlib.sha256(f"{episode_id}:{index}".encode()).digest()
    fraction = int.from_bytes(digest[:4], "big") / 0xFFFFFFFF
    low, high = PAUSE_RANGE
    return round(low + fraction * (high - low), 2)


def encode(wav_path: Path, out_path: Path, encoding: Encoding, title: str, artist: str) -> None:
    """Compress ``wav_path`` into ``out_path`` with ffmpeg, bit-exact (same input, same bytes)."""
    partial = out_path.with_name(out_path.name + ".part")
    _run(
        [
            ffmpeg_binary(),
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(wav_path),
            "-map_metadata",
            "-1",
            "-metadata",
            f"title={title}",
            "-metadata",
            f"artist={artist}",
            "-fflags",
            "+bitexact",
            "-flags:a",
            "+bitexact",
            "-ac",
            "1",
            *encoding.args,
            "-f",
            "mp4" if encoding.extension == "m4a" else encoding.extension,
            str(partial),
        ]
    )
    partial.replace(out_path)


def read_wav(path: Path) -> tuple[int, Samples]:
    """A 16-bit PCM WAV as (sample rate, mono float samples in [-1, 1])."""
    try:
        with wave.open(str(path), "rb") as reader:
            if reader.getsampwidth() != 2:
                raise MediaError(f"{path}: expected 16-bit PCM")
            rate, channels = reader.getframerate(), reader.getnchannels()
            raw = reader.readframes(reader.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise MediaError(f"{path}: not a readable WAV file ({exc})") from exc
    data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1).astype(np.float32)
    return rate, data


def write_wav(path: Path, samples: Samples) -> None:
    """Write 16 kHz mono 16-bit PCM (atomically: a partial file never has the final name)."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    partial = path.with_name(path.name + ".part")
    with wave.open(str(partial), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(pcm.tobytes())
    partial.replace(path)


def _trim(samples: Samples) -> Samples:
    loud = np.flatnonzero(np.abs(samples) > _SILENCE_THRESHOLD)
    if loud.size == 0:
        return samples[:0]
    return samples[int(loud[0]) : int(loud[-1]) + 1]


def _samples(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE)


def _silence(seconds: float) -> Samples:
    return np.zeros(_samples(seconds), dtype=np.float32)


def _sec(samples: int) -> float:
    return round(samples / SAMPLE_RATE, 3)


def _run(command: list[str]) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(command, capture_output=True, check=True)
    except FileNotFoundError as exc:
        raise ToolMissingError(command[0], f"{command[0]} could not be started ({exc})") from exc
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode("utf-8", "replace").strip()[-500:]
        raise MediaError(
            f"{Path(command[0]).name} failed (exit {exc.returncode}): {detail}"
        ) from exc
