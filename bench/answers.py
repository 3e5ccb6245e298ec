"""Answer quality and time to first token, over the retrieval question set.

For every question of ``bench/questions.py`` (demo facts in Spanish and English plus the extra
set), the answer service runs on the same corpus and indexes as ``bench/retrieval.py`` and we
count: answers whose citations include a gold moment (same episode, cited span within 15 s of it),
answers that contain the gold answer string (accent/case-folded; ``a / b`` means either), and the
time from the question to the first token (search included), p50/p95 over ``--runs`` passes.
The extractive answerer always runs; an LLM runs too when ``CASTGRAPH_LLM_BASE_URL`` and
``CASTGRAPH_LLM_MODEL`` are set.

    python bench/answers.py [--data-dir DIR] [--runs 3] [--chunk-tokens 128]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import retrieval as rb  # noqa: E402
from questions import Gold, Question, load_questions  # noqa: E402

from castgraph.core.models import ContextBlock  # noqa: E402
from castgraph.core.ports import Generator  # noqa: E402
from castgraph.core.text import fold  # noqa: E402
from castgraph.demo import build_demo  # noqa: E402
from castgraph.retrieval.answer import AnswerService  # noqa: E402
from castgraph.retrieval.embeddings import make_embedder  # noqa: E402
from castgraph.retrieval.generation import make_generator  # noqa: E402


def contains_answer(text: str, answer: str) -> bool:
    """Whether ``text`` holds the gold answer (any ``/``-alternative; all its ``,`` parts)."""
    folded = fold(text)
    for alternative in answer.replace(";", "/").split("/"):
        parts = [fold(p).strip() for p in alternative.split(",") if p.strip()]
        if parts and all(p in folded for p in parts):
            return True
    return False


def cites_gold(
    sources: tuple[ContextBlock, ...], gold: tuple[Gold, ...], titles: dict[str, str]
) -> bool:
    for block in sources:
        c = block.citation
        for g in gold:
            if (
                titles.get(c.episode_id) == g.episode
                and c.start <= g.end + 15
                and c.end >= g.start - 15
            ):
                return True
    return False


def run(
    service: AnswerService, questions: list[Question], titles: dict[str, str], runs: int
) -> dict[str, float]:
    first_tokens: list[float] = []
    cited = found = 0
    for n in range(runs):
        for q in questions:
            started = time.perf_counter()
            text, sources, first = [], (), None
            for event in service.stream(q.question):
                if event.kind == "token":
                    first = first or time.perf_counter() - started
                    text.append(event.text)
                elif event.kind == "sources":
                    sources = event.sources
            first_tokens.append((first or 0.0) * 1000)
            if n == 0:
                cited += cites_gold(sources, q.gold, titles)
                found += contains_answer("".join(text), q.answer)
    ordered = sorted(first_tokens)
    return {
        "cites gold": cited / len(questions),
        "has answer": found / len(questions),
        "TTFT p50 ms": statistics.median(ordered),
        "TTFT p95 ms": ordered[int(0.95 * (len(ordered) - 1))],
    }


def generators(embedder: object) -> dict[str, Generator]:
    found: dict[str, Generator] = {"extractive": make_generator("extractive", embedder=embedder)}
    base, model = os.environ.get("CASTGRAPH_LLM_BASE_URL"), os.environ.get("CASTGRAPH_LLM_MODEL")
    if base and model:
        found[f"llm:{model}"] = make_generator(
            "openai", base_url=base, model=model, api_key=os.environ.get("CASTGRAPH_LLM_API_KEY")
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / ".cache" / "retrieval")
    parser.add_argument(
        "--models-dir", type=Path, default=Path.home() / ".local/share/castgraph/models"
    )
    parser.add_argument("--embedder", default="use-multilingual-v3")
    parser.add_argument("--chunk-tokens", type=int, default=128)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rb.prepare_corpus(args.data_dir)
    questions = load_questions(build_demo(args.data_dir / "demo"))
    docs = rb.documents(args.data_dir, args.chunk_tokens)
    titles = rb._titles(docs)
    with tempfile.TemporaryDirectory() as work:
        _, _, search = rb.build(Path(work), args.embedder, docs, args.models_dir)
        embedder = make_embedder(args.embedder, models_dir=args.models_dir)
        print(f"{len(questions)} questions, {args.runs} runs; corpus in {args.data_dir}")
        print(
            f"{'generator':24} {'cites gold':>10} {'has answer':>10} "
            f"{'TTFT p50 ms':>12} {'TTFT p95 ms':>12}"
        )
        for name, generator in generators(embedder).items():
            m = run(AnswerService(search, generator), questions, titles, args.runs)
            print(
                f"{name:24} {m['cites gold']:10.3f} {m['has answer']:10.3f} "
                f"{m['TTFT p50 ms']:12.1f} {m['TTFT p95 ms']:12.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
