"""Answer quality and time to first token, over the retrieval question set.

For every question of ``bench/questions.py`` (demo facts in Spanish and English, the extra set,
near-miss unanswerables, "who said" questions, update and cross-episode chains), the answer
service runs on the same corpus and indexes as ``bench/retrieval.py``. Per generator:

- ``±5s`` / ``±15s``: answerable questions with a cited source whose ``start`` lies within
  [gold.start − w, gold.end + w] of a gold moment of the same episode. A source is a context
  block (``ContextBlock.citation``: its start is the block's first second) or, once answers cite
  moments, the cited sentence(s) (their start is the quoted second).
- ``span±15``: the earlier, looser measure: the cited span overlaps a gold moment ± 15 s.
- ``answer``: answerable questions whose answer holds the gold string (accent/case-folded;
  ``a / b`` means either, ``a, b`` both).
- ``abstain``: unanswerable questions answered with the not-found sentence (``NOT_FOUND``) or
  citing nothing; ``false abst``: the same on answerable questions.
- ``who``: questions with a ``name`` whose answer names that speaker (every part of the name,
  folded).
- ``all eps``: questions with gold moments in two or more episodes citing every one of them.
- ``newest``: update questions (two or more episodes) whose first cited gold episode is the
  newest one, and whose answer, if it gives the old figure too, gives the new one first.
- time to first token (search included), p50/p95 over ``--runs`` passes; the other figures are
  from the first pass.

The extractive answerer always runs; an LLM runs too when ``CASTGRAPH_LLM_BASE_URL`` and
``CASTGRAPH_LLM_MODEL`` are set. ``--details`` prints every question's outcome.

    python bench/answers.py [--data-dir DIR] [--runs 3] [--chunk-tokens 128] [--details]
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import retrieval as rb  # noqa: E402
from questions import Gold, Question, load_questions  # noqa: E402

import castgraph  # noqa: E402
from castgraph.core.ports import Generator  # noqa: E402
from castgraph.core.text import fold  # noqa: E402
from castgraph.demo import build_demo  # noqa: E402
from castgraph.retrieval.answer import AnswerService  # noqa: E402
from castgraph.retrieval.embeddings import make_embedder  # noqa: E402
from castgraph.retrieval.generation import make_generator  # noqa: E402
from castgraph.retrieval.generation.prompt import NOT_FOUND  # noqa: E402

WINDOWS = (5, 15)
COLUMNS = (
    "±5s",
    "±15s",
    "span±15",
    "answer",
    "abstain",
    "false abst",
    "who",
    "all eps",
    "newest",
    "TTFT p50",
    "TTFT p95",
)


def _citation(source: Any) -> Any:
    """The cited moment of a source: a context block's citation, or the source itself."""
    return getattr(source, "citation", source)


def contains_answer(text: str, answer: str) -> bool:
    """Whether ``text`` holds the gold answer (any ``/``-alternative; all its ``,`` parts)."""
    return _first_at(text, answer) is not None


# Times ("(01:21)", "[00:42]", "#t=81") and markers ("[2]") are no answer: "11" is not in "(00:11)".
_NOT_TEXT = re.compile(r"\d+(?::\d\d)+|\[\d+\]|[#?&]t=\d+")


def _find(part: str, folded: str) -> int | None:
    """Where ``part`` starts in ``folded``: a substring, or a whole number for digits."""
    if part.isdigit():
        found = re.search(rf"(?<![\d.,]){part}(?![\d]|[.,]\d)", folded)
        return found.start() if found else None
    at = folded.find(part)
    return at if at >= 0 else None


def _first_at(text: str, answer: str) -> int | None:
    """Where the earliest matching ``/``-alternative of ``answer`` starts in folded ``text``."""
    folded = _NOT_TEXT.sub(" ", fold(text))
    best = None
    for alternative in answer.replace(";", "/").split("/"):
        parts = [fold(p).strip() for p in alternative.split(",") if p.strip()]
        found = [_find(p, folded) for p in parts]
        if parts and all(at is not None for at in found):
            at = min(at for at in found if at is not None)
            best = at if best is None else min(best, at)
    return best


def cites_within(
    sources: tuple[Any, ...], gold: tuple[Gold, ...], titles: dict[str, str], window: float
) -> bool:
    """A cited source of a gold episode starts within ``window`` s of a gold moment."""
    for source in sources:
        c = _citation(source)
        for g in gold:
            if (
                titles.get(c.episode_id) == g.episode
                and g.start - window <= c.start <= g.end + window
            ):
                return True
    return False


def cites_span(
    sources: tuple[Any, ...], gold: tuple[Gold, ...], titles: dict[str, str], window: float = 15
) -> bool:
    """A cited span of a gold episode overlaps a gold moment widened by ``window`` s."""
    for source in sources:
        c = _citation(source)
        for g in gold:
            if (
                titles.get(c.episode_id) == g.episode
                and c.start <= g.end + window
                and c.end >= g.start - window
            ):
                return True
    return False


_NOT_FOUND = tuple(" ".join(fold(v).split()).rstrip(". ") for v in NOT_FOUND.values())


def abstains(text: str, sources: tuple[Any, ...]) -> bool:
    """The answer is the not-found sentence, or cites nothing."""
    folded = " ".join(fold(text).split())
    return not sources or not folded or any(v in folded for v in _NOT_FOUND)


def names(text: str, name: str) -> bool:
    """Every part of ``name`` (first and last name) is a word of ``text``, folded."""
    folded = fold(text)
    return all(re.search(rf"\b{re.escape(p)}\b", folded) for p in fold(name).split())


@dataclass
class Outcome:
    question: Question
    text: str
    sources: tuple[Any, ...]
    error: str | None = None


def score(o: Outcome, titles: dict[str, str], published: dict[str, date | None]) -> dict[str, Any]:
    """Per-question figures: True/False where the measure applies to the question, else None."""
    q = o.question
    row: dict[str, Any] = dict.fromkeys(COLUMNS[:9])
    abstained = abstains(o.text, o.sources)
    if not q.answerable:
        row["abstain"] = abstained
        return row
    row["false abst"] = abstained
    row["answer"] = contains_answer(o.text, q.answer)
    if q.gold:
        row["±5s"] = cites_within(o.sources, q.gold, titles, 5)
        row["±15s"] = cites_within(o.sources, q.gold, titles, 15)
        row["span±15"] = cites_span(o.sources, q.gold, titles)
    if q.name:
        row["who"] = names(o.text, q.name)
    needed = {g.episode for g in q.gold}
    cited = [titles.get(_citation(s).episode_id) for s in o.sources]
    if len(needed) >= 2:
        row["all eps"] = needed <= set(cited)
        dates = {e: published.get(e) for e in needed}
        if q.kind == "update" and all(dates.values()):
            newest = max(needed, key=lambda e: dates[e] or date.min)
            first = next((e for e in cited if e in needed), None)
            new_at = _first_at(o.text, q.answer)
            old_at = _first_at(o.text, q.old) if q.old else None
            in_order = new_at is not None and (old_at is None or new_at <= old_at)
            row["newest"] = first == newest and in_order
    return row


def ask(service: AnswerService, q: Question) -> tuple[Outcome, float]:
    started = time.perf_counter()
    text: list[str] = []
    sources: tuple[Any, ...] = ()
    first = None
    error = None
    for event in service.stream(q.question):
        if event.kind == "token":
            first = first or time.perf_counter() - started
            text.append(event.text)
        elif event.kind == "sources":
            sources = tuple(event.sources)
        elif event.kind == "error":
            error = getattr(event, "text", "") or "error"
    return Outcome(q, "".join(text), sources, error), (first or 0.0) * 1000


def run(
    service: AnswerService, questions: list[Question], runs: int
) -> tuple[list[Outcome], list[float]]:
    first_tokens: list[float] = []
    outcomes: list[Outcome] = []
    for n in range(runs):
        for q in questions:
            outcome, ttft = ask(service, q)
            first_tokens.append(ttft)
            if n == 0:
                outcomes.append(outcome)
    return outcomes, first_tokens


def summarize(rows: list[dict[str, Any]]) -> dict[str, tuple[float, int]]:
    """Share of True among the rows where each measure applies, and how many rows it applies to."""
    out = {}
    for column in COLUMNS[:9]:
        values = [r[column] for r in rows if r[column] is not None]
        out[column] = (sum(values) / len(values) if values else float("nan"), len(values))
    return out


def _cell(value: float, width: int) -> str:
    return f"{'—':>{width}}" if value != value else f"{value:{width}.3f}"


def report(
    name: str,
    questions: list[Question],
    outcomes: list[Outcome],
    first_tokens: list[float],
    titles: dict[str, str],
    published: dict[str, date | None],
    details: bool,
) -> None:
    rows = [score(o, titles, published) for o in outcomes]
    m = summarize(rows)
    ordered = sorted(first_tokens)
    p50 = statistics.median(ordered)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    cells = " ".join(_cell(m[c][0], max(7, len(c))) for c in COLUMNS[:9])
    print(f"{name:24} {cells} {p50:9.1f} {p95:9.1f}", flush=True)
    errors = sum(o.error is not None for o in outcomes)
    if errors:
        print(f"{'':24} {errors} answers ended with an error event")
    for kind in sorted({q.kind for q in questions}):
        subset = [r for r, o in zip(rows, outcomes, strict=True) if o.question.kind == kind]
        k = summarize(subset)
        parts = [
            f"{c} {k[c][0]:.2f}"
            for c in ("±5s", "±15s", "answer", "abstain", "false abst", "who", "all eps", "newest")
            if k[c][1]
        ]
        print(f"  {kind:12} n={len(subset):2d}  " + "  ".join(parts), flush=True)
    if details:
        for row, o in zip(rows, outcomes, strict=True):
            marks = " ".join(f"{c}={'y' if v else 'n'}" for c, v in row.items() if v is not None)
            cited = ", ".join(
                f"{titles.get(_citation(s).episode_id, '?')[:18]}@{_citation(s).start:.0f}"
                for s in o.sources
            )
            answer = " ".join(o.text.split())[:110]
            print(f"    {o.question.id:28} {marks}\n      {answer!r}\n      cites: {cited}")


def answer_service(search: Any, generator: Generator, embedder: object, llm: bool) -> AnswerService:
    """The service as the server wires it (moments aligned by embeddings, the LLM figure check),
    as far as the code under test has those options, so older code runs too."""
    accepted = inspect.signature(AnswerService).parameters
    options: dict[str, Any] = {}
    if "similarity" in accepted:
        from castgraph.retrieval.generation.moments import embedding_similarity

        options["similarity"] = embedding_similarity(embedder)  # type: ignore[arg-type]
    if "check_figures" in accepted:
        options["check_figures"] = llm
    return AnswerService(search, generator, **options)


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
    parser.add_argument("--details", action="store_true", help="Print every question's outcome.")
    args = parser.parse_args()
    rb.prepare_corpus(args.data_dir)
    questions = load_questions(build_demo(args.data_dir / "demo"))
    docs = rb.documents(args.data_dir, args.chunk_tokens)
    titles = rb._titles(docs)
    published = {titles[d.episode.id]: d.episode.published for d in docs}
    answerable = [q for q in questions if q.answerable]
    data_dir = rb.build(docs, args.embedder, 0, args.models_dir)
    with rb.searching(data_dir, args.embedder, args.models_dir) as services:
        search = services.search
        embedder = make_embedder(args.embedder, models_dir=args.models_dir)
        print(
            f"{len(questions)} questions ({len(answerable)} answerable, "
            f"{len(questions) - len(answerable)} unanswerable, "
            f"{sum(q.name is not None for q in questions)} who, "
            f"{sum(len({g.episode for g in q.gold}) >= 2 for q in questions)} multi-episode, "
            f"{sum(q.kind == 'update' for q in questions)} update), {args.runs} runs; "
            f"corpus in {args.data_dir}; code in {Path(castgraph.__file__).parent}"
        )
        header = " ".join(f"{c:>{max(7, len(c))}}" for c in COLUMNS[:9])
        print(f"{'generator':24} {header} {'TTFT p50':>9} {'TTFT p95':>9}")
        for name, generator in generators(embedder).items():
            service = answer_service(search, generator, embedder, name != "extractive")
            outcomes, first_tokens = run(service, questions, args.runs)
            report(name, questions, outcomes, first_tokens, titles, published, args.details)


if __name__ == "__main__":
    main()
