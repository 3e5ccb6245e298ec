"""A long silence through a real ingest run (issue 13): time, peak memory and disk, leftovers.

Generates N hours of silence with ffmpeg's ``anullsrc`` as a 6 kbit/s Opus file (~2.7 MB an hour),
ingests it as a local file through the pipeline with the real decoding (ffmpeg → 16 kHz WAV) and
the real silence check (streamed in blocks), and a transcriber that counts its calls. Expected:
the episode fails with "no speech found … the audio is silent" before speech recognition, the
WAV (~115 MB an hour) is removed, and the process's memory stays flat whatever the length.

    python bench/hostile_silence.py            # 4 hours
    python bench/hostile_silence.py --hours 1
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from castgraph.catalog import SqlCatalog
from castgraph.core.models import Diarization, Transcript
from castgraph.ingest import audio
from castgraph.ingest.pipeline import IngestOptions, IngestPipeline, Stages
from castgraph.ingest.sources import LocalSource


class _Counting:
    calls = 0

    def load(self) -> None:
        pass

    def transcribe(self, wav_path: Path, **_kwargs: Any) -> Transcript:
        self.calls += 1
        return Transcript("en", (), 0.0)


def _peak_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # Linux: KiB


def _watch_disk(folder: Path, peak: list[int], stop: threading.Event) -> None:
    while not stop.wait(0.5):
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        peak[0] = max(peak[0], size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=4.0)
    args = parser.parse_args()
    seconds = args.hours * 3600
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = work / "silence.opus"
        started = time.perf_counter()
        subprocess.run(
            [audio.ffmpeg_binary(), "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi",
             "-i", f"anullsrc=r=8000:cl=mono:d={seconds}", "-c:a", "libopus", "-b:a", "6k",
             str(src)],
            check=True,
        )  # fmt: skip
        made = time.perf_counter() - started
        transcriber = _Counting()

        def assign(transcript: Transcript, _d: Diarization | None) -> Transcript:
            return transcript

        def extract(s: Path, d: Path) -> float:
            return audio.extract_wav(s, d, max_duration=seconds + 60)

        stages = Stages(transcriber, None, extract, audio.is_silent, assign, name_speakers=None)
        media = work / "media"
        catalog = SqlCatalog(f"sqlite:///{work / 'catalog.db'}").open()
        peak_disk = [0]
        stop = threading.Event()
        watcher = threading.Thread(target=_watch_disk, args=(media, peak_disk, stop), daemon=True)
        watcher.start()
        try:
            started = time.perf_counter()
            report = IngestPipeline(catalog, stages, media).run(
                [(str(src), LocalSource())], IngestOptions()
            )
            took = time.perf_counter() - started
        finally:
            stop.set()
            watcher.join()
            catalog.close()
        left = [str(p) for p in media.rglob("*") if p.is_file()] if media.exists() else []
        (failed,) = report.failed
        print(f"silence: {args.hours:g} h, source file {src.stat().st_size / 2**20:.1f} MiB "
              f"(made in {made:.1f} s)")  # fmt: skip
        print(f"ingest run: {took:.1f} s; outcome: {failed.state.value}: {failed.error}")
        print(f"speech recognition calls: {transcriber.calls}")
        print(f"peak RSS: this process {_peak_mib(resource.RUSAGE_SELF):.0f} MiB, "
              f"ffmpeg {_peak_mib(resource.RUSAGE_CHILDREN):.0f} MiB")  # fmt: skip
        print(f"peak disk in the media dir: {peak_disk[0] / 2**20:.0f} MiB; left after: {left}")


if __name__ == "__main__":
    main()
