"""Ingestion benchmark: wall time, real-time factor per stage and peak RSS, per ASR backend.

Runs the real stages (ffmpeg extraction, ASR, diarization, storing in the SQLite catalog) on the
shared fixtures and on a 10-minute file made by concatenating them, once per backend in a child
process (so peak RSS is that backend's own), ``--runs`` times each, and prints medians and the
ratio of each backend to the first one (the baseline) measured in the same run.

    python bench/ingest.py [--runs 3] [--backends faster-whisper,openai-whisper] [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "audio"
CLIPS = [
    "en_jfk/jfk.flac",
    "en_conversation_2spk/conversation.wav",
    "en_ami_4spk/EN2002a_30s.wav",
    "es_mls_1spk/13697_11991_000000.opus",
    "es_librivox_1spk/capitan_veneno_es.mp3",
    "es_3spk_constructed/es_3spk_constructed.wav",
]
STAGES = ["extract", "asr", "diarize", "store"]


def make_long_file(dest: Path, minutes: float = 10.0) -> Path:
    """Concatenate the fixtures (re-encoded as mp3, like a podcast) up to ``minutes``."""
    wavs = []
    for i, clip in enumerate(CLIPS):
        wav = dest / f"part{i}.wav"
        _ffmpeg("-i", str(FIXTURES / clip), "-ar", "16000", "-ac", "1", str(wav))
        wavs.append(wav)
    listing = dest / "list.txt"
    total, lines = 0.0, []
    while total < minutes * 60:
        for wav in wavs:
            lines.append(f"file '{wav}'")
            total += _duration(wav)
    listing.write_text("\n".join(lines))
    out = dest / "long.mp3"
    _ffmpeg(
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        str(listing),
        "-t",
        str(minutes * 60),
        "-ac",
        "1",
        "-b:a",
        "64k",
        str(out),
    )
    return out


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


def _duration(path: Path) -> float:
    import soundfile

    return float(soundfile.info(str(path)).duration)


def worker(backend: str, files: list[Path], runs: int, models_dir: Path) -> dict[str, Any]:
    """Run every stage on every file ``runs`` times in this process; returns timings and RSS."""
    from castgraph.catalog import SqlCatalog
    from castgraph.core.models import MediaItem
    from castgraph.ingest import audio
    from castgraph.ingest.align import assign_speakers
    from castgraph.ingest.diarize import make_diarizer
    from castgraph.ingest.transcribe import make_transcriber

    transcriber = make_transcriber(backend, model="base", models_dir=models_dir, cpu_threads=2)
    diarizer = make_diarizer("embedding", models_dir=models_dir)
    assert diarizer is not None
    t0 = time.perf_counter()
    transcriber.load()
    diarizer.load()
    load_s = time.perf_counter() - t0
    results: dict[str, Any] = {"load_s": load_s, "files": {}}
    with tempfile.TemporaryDirectory() as tmp:
        catalog = SqlCatalog(f"sqlite:///{tmp}/bench.db").open()
        for path in files:
            per_run = []
            for run in range(runs):
                wav = Path(tmp) / f"{path.stem}.{run}.wav"
                times: dict[str, float] = {}
                t = time.perf_counter()
                duration = audio.extract_wav(path, wav)
                times["extract"] = time.perf_counter() - t
                t = time.perf_counter()
                transcript = transcriber.transcribe(wav)
                times["asr"] = time.perf_counter() - t
                t = time.perf_counter()
                diarization = diarizer.diarize(wav)
                times["diarize"] = time.perf_counter() - t
                t = time.perf_counter()
                episode = catalog.register(
                    MediaItem(source_id=f"bench:{path}", url=str(path), title=path.stem)
                )
                catalog.save_transcript(
                    episode.id, assign_speakers(transcript, diarization), diarization
                )
                times["store"] = time.perf_counter() - t
                per_run.append({"duration": duration, **times})
            results["files"][path.name] = per_run
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return results


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def report(all_results: dict[str, dict[str, Any]]) -> None:
    """Print one table per file and a summary with ratios to the baseline backend."""
    backends = list(all_results)
    base = backends[0]
    files = list(all_results[base]["files"])
    print(f"\nmedian of runs; RTF = seconds of processing per second of audio; baseline = {base}")
    header = (
        f"{'file':34} {'backend':15} {'audio s':>8} {'wall s':>8} "
        + " ".join(f"{'RTF ' + s:>12}" for s in STAGES)
        + f" {'RTF all':>8} {'vs base':>8}"
    )
    print(header)
    for name in files:
        base_wall = _wall(all_results[base]["files"][name])
        for backend in backends:
            runs = all_results[backend]["files"][name]
            dur, wall = _median(runs, "duration"), _wall(runs)
            rtfs = " ".join(f"{_median(runs, s) / dur:12.3f}" for s in STAGES)
            print(
                f"{name[:34]:34} {backend:15} {dur:8.1f} {wall:8.2f} {rtfs} {wall / dur:8.3f} "
                f"{wall / base_wall:8.2f}x"
            )
    print(f"\n{'backend':15} {'model load s':>12} {'peak RSS MB':>12}")
    for backend in backends:
        r = all_results[backend]
        print(f"{backend:15} {r['load_s']:12.1f} {r['peak_rss_mb']:12.0f}")


def _wall(runs: list[dict[str, float]]) -> float:
    return statistics.median(sum(r[s] for s in STAGES) for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="faster-whisper,openai-whisper")
    parser.add_argument("--quick", action="store_true", help="fixtures only, no 10-minute file")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--files", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()

    from castgraph.core.settings import Settings
    from castgraph.modelfiles import install_packaged

    models_dir = Settings().resolved_models_dir
    if args.worker:
        result = worker(args.worker, [Path(f) for f in args.files], args.runs, models_dir)
        print(json.dumps(result))
        return
    if not FIXTURES.is_dir():
        sys.exit(f"shared fixtures not found at {FIXTURES}")
    install_packaged(models_dir)
    with tempfile.TemporaryDirectory() as tmp:
        files = [FIXTURES / c for c in CLIPS]
        if not args.quick:
            files.append(make_long_file(Path(tmp), args.minutes))
        results = {}
        for backend in args.backends.split(","):
            print(f"running {backend} ({args.runs} runs of {len(files)} files)…", file=sys.stderr)
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    backend,
                    "--runs",
                    str(args.runs),
                    "--files",
                    *map(str, files),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            results[backend] = json.loads(proc.stdout.strip().splitlines()[-1])
    report(results)


if __name__ == "__main__":
    main()
