"""Audio extraction and inspection: any media file → 16 kHz mono 16-bit WAV, via ffmpeg.

ffmpeg is the system one on ``PATH`` when there is one, else the binary bundled with the
``imageio-ffmpeg`` wheel.

Media files are downloads from anywhere, so ffmpeg (and PyAV's probe) read local files only
(``-protocol_whitelist file,pipe``: a "media" file that is an HLS playlist or an SDP description
cannot make it fetch URLs or open sockets), each run is killed past a timeout, and decoding stops
at a maximum duration, which bounds the WAV written to disk.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from castgraph.core.errors import DependencyError, MediaError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
"""The sample rate of every extracted WAV file (what the ASR and diarization models expect)."""

SILENCE_DBFS = -45.0
"""Frames quieter than this RMS level (dB relative to full scale) count as silence."""

LOCAL_ONLY = "file,pipe"
"""The protocols ffmpeg may open while reading a media file: no network, whatever it holds."""

DEFAULT_TIMEOUT_S = 1800.0
"""How long one ffmpeg run may take unless the caller says (``CASTGRAPH_FFMPEG_TIMEOUT``)."""


class FFmpegNotFoundError(DependencyError):
    """Neither a system ffmpeg nor the imageio-ffmpeg binary is available."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            "ffmpeg",
            install="install it (e.g. apt install ffmpeg / brew install ffmpeg) "
            f"or run  pip install imageio-ffmpeg  ({detail})",
        )


@functools.lru_cache(maxsize=1)
def ffmpeg_binary() -> str:
    """The ffmpeg executable to run: ``ffmpeg`` on PATH, else imageio-ffmpeg's bundled binary."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError as e:
        raise FFmpegNotFoundError("imageio-ffmpeg is not installed") from e
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as e:
        raise FFmpegNotFoundError(str(e)) from e


def _last_error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "no error output"


def extract_wav(
    src: Path,
    dst: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    max_duration: float | None = None,
) -> float:
    """Decode the first audio stream of ``src`` into ``dst`` (16 kHz mono s16 WAV).

    Writes ``dst`` atomically (a ``.tmp`` file renamed at the end) and returns its duration in
    seconds. Raises ``MediaError`` when ffmpeg cannot decode ``src``, it holds no audio, ffmpeg
    runs longer than ``timeout`` seconds (it is killed), or the audio lasts longer than
    ``max_duration`` seconds (decoding stops just past it: nothing longer is written).
    """
    if not src.is_file():
        raise MediaError(f"no such media file: {src}")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    cap = ["-t", f"{max_duration + 1:.3f}"] if max_duration is not None else []
    cmd = [
        ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-protocol_whitelist", LOCAL_ONLY, "-i", str(src), *cap, "-map", "0:a:0", "-vn", "-sn",
        "-dn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le", "-f", "wav", str(tmp),
    ]  # fmt: skip
    try:
        _run_ffmpeg(cmd, src, timeout)
        duration = wav_duration(tmp)
        if duration <= 0:
            raise MediaError(f"{src} contains no audio samples: check that the file is complete")
        if max_duration is not None and duration > max_duration:
            raise MediaError(
                f"{src} lasts longer than {max_duration:.0f} s, the limit "
                "(CASTGRAPH_MAX_DURATION_S): refused"
            )
        tmp.replace(dst)
    finally:
        tmp.unlink(missing_ok=True)
    log.debug("extracted %.1f s of audio from %s to %s", duration, src, dst)
    return duration


def _run_ffmpeg(cmd: list[str], src: Path, timeout: float) -> None:
    try:  # on timeout, ``run`` kills ffmpeg (SIGKILL) and reaps it before raising
        proc = subprocess.run(
            cmd, capture_output=True, text=True, errors="replace", timeout=timeout
        )
    except subprocess.TimeoutExpired as e:
        raise MediaError(
            f"ffmpeg took longer than {timeout:.0f} s to decode {src} and was stopped "
            "(CASTGRAPH_FFMPEG_TIMEOUT)"
        ) from e
    except OSError as e:
        raise FFmpegNotFoundError(f"could not run {cmd[0]}: {e}") from e
    if proc.returncode == 0:
        return
    reason = _last_error_line(proc.stderr)
    if "matches no streams" in proc.stderr:
        raise MediaError(f"{src} has no audio track: give a file with sound")
    if _looks_like_html(src):
        reason = "it is a web page (HTML): the server answered with a page, not the media"
    raise MediaError(f"{src} is not a media file ffmpeg can decode: {reason}")


def _looks_like_html(path: Path) -> bool:
    """Whether ``path`` starts like an HTML page (what servers send for errors or logins)."""
    try:
        with path.open("rb") as f:
            head = f.read(512).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    except OSError:
        return False
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def wav_duration(path: Path) -> float:
    """The duration of a PCM WAV file in seconds, from its header."""
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / float(w.getframerate())
    except (OSError, EOFError, wave.Error) as e:
        raise MediaError(f"{path} is not a readable WAV file: {e}") from e


def read_audio(path: Path) -> npt.NDArray[np.float32]:
    """Any WAV/FLAC/OGG file as 16 kHz mono float32 (downmixed, resampled); else MediaError."""
    import soundfile

    if not path.is_file():
        raise MediaError(f"audio file not found: {path}")
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as e:
        raise MediaError(f"cannot decode {path} as audio: {e}") from e
    mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if rate != SAMPLE_RATE and mono.size:
        from scipy.signal import resample_poly

        gcd = int(np.gcd(int(rate), SAMPLE_RATE))
        mono = resample_poly(mono, SAMPLE_RATE // gcd, int(rate) // gcd)
    return np.ascontiguousarray(mono, dtype=np.float32)


def load_wav(path: Path) -> npt.NDArray[np.float32]:
    """Samples of a 16 kHz mono 16-bit WAV (as written by ``extract_wav``) in [-1, 1]."""
    try:
        with wave.open(str(path), "rb") as w:
            _check_format(w, path)
            raw = w.readframes(w.getnframes())
    except (OSError, EOFError, wave.Error) as e:
        raise MediaError(f"{path} is not a readable WAV file: {e}") from e
    return (np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)


def _check_format(w: wave.Wave_read, path: Path) -> None:
    shape = (w.getframerate(), w.getnchannels(), w.getsampwidth())
    if shape != (SAMPLE_RATE, 1, 2):
        raise MediaError(
            f"{path} is {shape[0]} Hz, {shape[1]} channel(s), {8 * shape[2]}-bit: expected "
            "16 kHz mono 16-bit; convert it with extract_wav first"
        )


def speech_ratio(
    path: Path, *, threshold_dbfs: float = SILENCE_DBFS, frame_seconds: float = 0.03
) -> float:
    """The fraction of ``frame_seconds`` frames whose RMS level is above ``threshold_dbfs``.

    Energy only: it tells sound from (near-)silence, not speech from music. Reads the file in
    blocks, so long episodes need little memory.
    """
    frame = max(1, round(frame_seconds * SAMPLE_RATE))
    threshold = 10 ** (threshold_dbfs / 20) * 32768.0
    loud = total = 0
    try:
        with wave.open(str(path), "rb") as w:
            _check_format(w, path)
            while raw := w.readframes(frame * 2000):
                samples = np.frombuffer(raw, dtype="<i2").astype(np.float64)
                width = min(frame, len(samples))
                blocks = samples[: len(samples) // width * width].reshape(-1, width)
                rms = np.sqrt(np.mean(blocks**2, axis=1))
                loud += int(np.count_nonzero(rms > threshold))
                total += len(rms)
    except (OSError, EOFError, wave.Error) as e:
        raise MediaError(f"{path} is not a readable WAV file: {e}") from e
    return loud / total if total else 0.0


def is_silent(path: Path, *, min_ratio: float = 0.01, threshold_dbfs: float = SILENCE_DBFS) -> bool:
    """True when less than ``min_ratio`` of a 16 kHz mono WAV rises above ``threshold_dbfs``.

    Lets the pipeline say "no speech found in …" instead of transcribing silence.
    """
    return speech_ratio(path, threshold_dbfs=threshold_dbfs) < min_ratio


def probe_duration(path: Path) -> float | None:
    """A media file's duration in seconds read from its container (PyAV), None when unknown."""
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(str(path), container_options={"protocol_whitelist": LOCAL_ONLY}) as container:
            if container.duration is not None and container.duration > 0:
                return float(container.duration) / 1_000_000
            for stream in container.streams:
                if stream.duration is not None and stream.time_base is not None:
                    return float(stream.duration * stream.time_base)
    except Exception as e:  # PyAV raises many error types for non-media files
        log.debug("could not probe the duration of %s: %s", path, e)
        return None
    return None
