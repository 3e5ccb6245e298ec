"""Embedding benchmark: load time, passage throughput, query latency and cross-language retrieval.

For each model (the packaged ones by default):

- cold load: a fresh Python process imports castgraph and the model's library and loads the
  model (median of ``--runs``); warm load: a second load in a process that imported them;
- throughput: passages of about 100 words (demo transcript turns joined), ``--batch-size`` at a
  time, in chunks per second (median of ``--runs``);
- query latency: p50 and p90 of ``--queries`` single ``embed_query`` calls;
- retrieval: every turn of the three demo episodes (Spanish and English) is a passage; each
  demo fact's Spanish and English question must find its turn. Prints rank-1 accuracy and MRR
  per question language and passage language.

    python bench/embeddings.py [--models use-multilingual-v3,all-MiniLM-L6-v2] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "castgraph" / "demo" / "scripts"
DEFAULT_MODELS = "use-multilingual-v3,all-MiniLM-L6-v2"
COLD_LOAD = """
import sys, time
started = time.perf_counter()
from pathlib import Path
from castgraph.retrieval.embeddings import make_embedder
embedder = make_embedder(sys.argv[1], models_dir=Path(sys.argv[2]))
embedder.load()
embedder.embed_query("hola")
print(time.perf_counter() - started)
"""


@dataclass(frozen=True)
class Question:
    text: str
    language: str
    passage: int


def load_demo(min_words: int = 0) -> tuple[list[str], list[str], list[Question]]:
    """(passages, their languages, questions) from the demo episode scripts.

    Each passage packs consecutive turns of one episode until it holds ``min_words`` words (0:
    one turn per passage), like the chunker keeping a host's question with its answer.
    """
    passages: list[str] = []
    languages: list[str] = []
    questions: list[Question] = []
    for path in sorted(SCRIPTS.glob("ep*.json")):
        script = json.loads(path.read_text(encoding="utf-8"))
        where: list[int] = []
        current: list[str] = []
        for turn in script["turns"]:
            where.append(len(passages))
            current.append(turn["text"])
            if sum(len(t.split()) for t in current) >= min_words:
                passages.append(" ".join(current))
                current = []
        if current:
            passages.append(" ".join(current))
        languages.extend([script["language"]] * (len(passages) - len(languages)))
        for fact in script["facts"]:
            for lang in ("es", "en"):
                text = fact[f"question_{lang}"]
                questions.append(Question(text, lang, where[fact["turn_index"]]))
    return passages, languages, questions


def long_passages(turns: list[str], count: int, words: int = 100) -> list[str]:
    """``count`` passages of about ``words`` words made by joining consecutive turns."""
    out: list[str] = []
    current: list[str] = []
    i = 0
    while len(out) < count:
        current.extend(turns[i % len(turns)].split())
        i += 1
        if len(current) >= words:
            out.append(" ".join(current[:words]))
            current = current[words:]
    return out


def cold_load(model: str, models_dir: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", COLD_LOAD, model, str(models_dir)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def measure_speed(model: str, models_dir: Path, args: argparse.Namespace) -> dict[str, float]:
    from castgraph.retrieval.embeddings import make_embedder

    make_embedder(model, models_dir=models_dir).load()  # imports the library once
    started = time.perf_counter()
    embedder = make_embedder(model, models_dir=models_dir, batch_size=args.batch_size)
    embedder.load()
    warm_load = time.perf_counter() - started
    passages, _, questions = load_demo()
    texts = long_passages(passages, args.passages)
    embedder.embed(texts[: args.batch_size])  # warm-up
    rates = []
    for _ in range(args.runs):
        started = time.perf_counter()
        embedder.embed(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
    latencies = []
    for i in range(args.queries):
        started = time.perf_counter()
        embedder.embed_query(questions[i % len(questions)].text)
        latencies.append((time.perf_counter() - started) * 1000)
    return {
        "warm_load_s": warm_load,
        "chunks_per_s": statistics.median(rates),
        "query_p50_ms": float(np.percentile(latencies, 50)),
        "query_p90_ms": float(np.percentile(latencies, 90)),
    }


def measure_retrieval(
    model: str, models_dir: Path, min_words: int
) -> dict[tuple[str, str], tuple[float, float, int]]:
    """{(question lang, passage lang): (rank-1 accuracy, MRR, questions)}, plus ("all", "all")."""
    from castgraph.retrieval.embeddings import make_embedder

    embedder = make_embedder(model, models_dir=models_dir)
    passages, languages, questions = load_demo(min_words)
    matrix = np.asarray(embedder.embed(passages))
    ranks: dict[tuple[str, str], list[int]] = defaultdict(list)
    for question in questions:
        scores = matrix @ np.asarray(embedder.embed_query(question.text))
        rank = int((scores > scores[question.passage]).sum()) + 1
        ranks[(question.language, languages[question.passage])].append(rank)
        ranks[("all", "all")].append(rank)
    return {
        key: (
            sum(r == 1 for r in found) / len(found),
            float(np.mean([1 / r for r in found])),
            len(found),
        )
        for key, found in sorted(ranks.items())
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated model names")
    parser.add_argument("--models-dir", type=Path, default=None, help="default: the settings'")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--passages", type=int, default=64, help="~100-word passages per run")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument(
        "--passage-words",
        default="0,60",
        help="retrieval passages: turns packed to at least N words (0 = single turns), per N",
    )
    parser.add_argument("--skip-cold", action="store_true", help="skip the cold-load processes")
    args = parser.parse_args()
    models_dir = args.models_dir
    if models_dir is None:
        from castgraph.core.settings import Settings

        models_dir = Settings().resolved_models_dir
    sizes = [int(n) for n in args.passage_words.split(",") if n.strip()]
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        report(model, models_dir, sizes, args)


def report(model: str, models_dir: Path, sizes: list[int], args: argparse.Namespace) -> None:
    """Print every figure for one model."""
    print(f"== {model}")
    if not args.skip_cold:
        cold = cold_load(model, models_dir, args.runs)
        print(f"  cold load (fresh process: imports + load + first query): {cold:.2f} s")
    speed = measure_speed(model, models_dir, args)
    print(f"  warm load: {speed['warm_load_s']:.2f} s")
    print(
        f"  throughput: {speed['chunks_per_s']:.1f} chunks/s "
        f"(~100 words, batch {args.batch_size}, {args.passages} passages)"
    )
    p50, p90 = speed["query_p50_ms"], speed["query_p90_ms"]
    print(f"  query latency: p50 {p50:.1f} ms, p90 {p90:.1f} ms ({args.queries} queries)")
    for size in sizes:
        label = "single turns" if size == 0 else f"turns packed to >= {size} words"
        results = measure_retrieval(model, models_dir, size)
        print(f"  retrieval over demo passages ({label}):")
        for (q_lang, p_lang), (top1, mrr, n) in results.items():
            print(
                f"    {q_lang} question -> {p_lang} passage: "
                f"rank-1 {top1:.0%}  MRR {mrr:.2f}  n={n}"
            )


if __name__ == "__main__":
    main()
