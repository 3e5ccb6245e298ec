"""Audio extraction with the real ffmpeg on generated tones and broken files."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from castgraph.core.errors import MediaError
from castgraph.ingest import audio
from castgraph.ingest.audio import (
    extract_wav,
    ffmpeg_binary,
    is_silent,
    load_wav,
    probe_duration,
    speech_ratio,
)
from tests.mediaserver import make_tone


def _write_wav(path: Path, samples: np.ndarray, rate: int = 16_000) -> Path:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def test_ffmpeg_binary_is_runnable() -> None:
    assert Path(ffmpeg_binary()).is_file()


def test_ffmpeg_falls_back_to_imageio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    audio.ffmpeg_binary.cache_clear()
    try:
        assert "imageio_ffmpeg" in ffmpeg_binary()
    finally:
        audio.ffmpeg_binary.cache_clear()


@pytest.mark.parametrize("suffix", [".mp3", ".m4a", ".opus", ".mp4"])
def test_extract_wav_makes_16k_mono(tmp_path: Path, suffix: str) -> None:
    src = make_tone(tmp_path / f"tone{suffix}", seconds=1.5, ffmpeg=ffmpeg_binary())
    dst = tmp_path / "out" / "tone.wav"
    duration = extract_wav(src, dst)
    assert duration == pytest.approx(1.5, abs=0.1)
    with wave.open(str(dst), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16_000, 1, 2)
    assert not dst.with_name(dst.name + ".tmp").exists()
    samples = load_wav(dst)
    assert samples.dtype == np.float32
    assert len(samples) == pytest.approx(1.5 * 16_000, rel=0.05)
    assert 0.05 < float(np.abs(samples).max()) <= 1.0  # ffmpeg's sine is 1/8 of full scale
    assert probe_duration(src) == pytest.approx(1.5, abs=0.15)


def test_corrupt_file_is_a_media_error(tmp_path: Path) -> None:
    src = tmp_path / "notes.mp3"
    src.write_text("this is not audio at all\n" * 50)
    dst = tmp_path / "x.wav"
    with pytest.raises(MediaError, match=r"notes\.mp3 is not a media file ffmpeg can decode: "):
        extract_wav(src, dst)
    assert not dst.exists()
    assert not (tmp_path / "x.wav.tmp").exists()
    assert probe_duration(src) is None


def test_file_without_audio_track(tmp_path: Path) -> None:
    src = tmp_path / "image.png"
    subprocess.run(
        [ffmpeg_binary(), "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
         "color=c=red:s=32x32:d=1", "-frames:v", "1", str(src)],
        check=True,
    )  # fmt: skip
    with pytest.raises(MediaError, match="has no audio track"):
        extract_wav(src, tmp_path / "x.wav")


def test_missing_source_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no such media file"):
        extract_wav(tmp_path / "gone.mp3", tmp_path / "x.wav")


def test_silence_detection(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(16_000 * 2) / 16_000
    tone = _write_wav(tmp_path / "tone.wav", 0.3 * np.sin(2 * np.pi * 220 * t))
    digital = _write_wav(tmp_path / "zero.wav", np.zeros(16_000 * 2))
    hiss = _write_wav(tmp_path / "hiss.wav", 0.0005 * rng.standard_normal(16_000 * 2))
    half = _write_wav(
        tmp_path / "half.wav",
        np.concatenate([np.zeros(16_000), 0.3 * np.sin(2 * np.pi * t[:16_000])]),
    )
    assert speech_ratio(tone) == pytest.approx(1.0)
    assert not is_silent(tone)
    assert is_silent(digital)
    assert speech_ratio(digital) == 0.0
    assert is_silent(hiss)
    assert speech_ratio(half) == pytest.approx(0.5, abs=0.05)
    assert is_silent(_write_wav(tmp_path / "empty.wav", np.zeros(0)))


def test_load_wav_rejects_other_formats(tmp_path: Path) -> None:
    path = _write_wav(tmp_path / "x.wav", np.zeros(100), rate=44_100)
    with pytest.raises(MediaError, match="expected 16 kHz mono"):
        load_wav(path)


def test_no_ffmpeg_at_all_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import imageio_ffmpeg

    from castgraph.core.errors import DependencyError

    def missing() -> str:
        raise RuntimeError("no ffmpeg exe could be found")

    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", missing)
    audio.ffmpeg_binary.cache_clear()
    try:
        with pytest.raises(DependencyError, match="apt install ffmpeg"):
            ffmpeg_binary()
    finally:
        audio.ffmpeg_binary.cache_clear()
