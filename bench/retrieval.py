"""Retrieval quality: vector only (a plain Chroma similarity search, the original project's
approach), keyword only (BM25), graph only and the fused pipeline, on one question set.

The corpus is the demo channel plus the shared fixtures, ingested for real (ASR, diarization)
into ``--data-dir`` once (``castgraph demo`` + ``castgraph ingest``); every configuration then
re-chunks and re-extracts the stored transcripts and writes them into fresh indexes through the
ordinary path (catalog, ``services.indexer``, searched through ``services.search`` as wired by
the settings, so ``CASTGRAPH_*`` variables such as ``CASTGRAPH_GRAPH_HOPS`` apply), so chunk
sizes and embedders are compared on the same transcripts in one run. Built indexes are cached in
``bench/.cache/retrieval-indexes/`` and rebuilt when the documents, embedder, distractors or the
index-writing code change (``--rebuild`` forces it, ``--reuse-stale`` ignores code changes).

Distractors (``--distractors 0,10000,100000``): that many synthetic chunks (the search-latency
generator, ``bench/_synthetic.py``; episodes of 200 chunks, their entities from the same offline
extractor, composed sentence vectors: ``bench/_latency_vectors.py``) are indexed beside the corpus
like real chunks, one index per size; they never share an id or title with a real episode, so
a distractor in the top k only pushes gold moments down. With distractors and no
``--embedders``/``--chunk-tokens``, one embedder and the server's chunk size are used.
``--distractor-names disjoint`` (the default) renames the distractors' people, places and
organisations so that none shares a name token with the corpus (every word of its chunks, of
its entities' names and aliases and of the questions, folded), as a channel's other episodes
have other guests;
``shared`` keeps the generator's names, which include the corpus's own: an adversarial stress
(see docs/decisions.md, "Issue 12: scale benchmarks").

Metrics per question (gold = episode + time span; a result hits a gold moment when it is from
that episode and its span overlaps the gold span): recall@k = share of the question's gold
moments hit in the top k; MRR = 1 / rank of the first hit; start±15s = the top result starts
within 15 s of a gold moment's start.

    python bench/retrieval.py [--data-dir DIR] [--embedders use-multilingual-v3,all-MiniLM-L6-v2]
                              [--chunk-tokens 96,160,256] [--distractors 0,10000,100000]
                              [--pool 16000] [--distractor-names disjoint|shared]
                              [--rebuild] [--reuse-stale] [--by-kind]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _synthetic as synth  # noqa: E402
from _latency_build import CACHE, code_fingerprint, fill, settings_for  # noqa: E402
from _latency_vectors import composer  # noqa: E402
from questions import Gold, Question, load_questions  # noqa: E402

from castgraph.catalog import SqlCatalog  # noqa: E402
from castgraph.core.models import Chunk, EpisodeDocument, Transcript  # noqa: E402
from castgraph.core.text import fold  # noqa: E402
from castgraph.demo import build_demo  # noqa: E402
from castgraph.ingest.chunking import ChunkingOptions, chunk_transcript  # noqa: E402
from castgraph.ingest.extract import make_extractor  # noqa: E402
from castgraph.retrieval.base import SearchFilters  # noqa: E402

INDEX_CACHE = CACHE / "retrieval-indexes"
EMBEDDERS, CHUNK_TOKENS = "use-multilingual-v3,all-MiniLM-L6-v2", "96,160,256"
# Fused R@5 at 0 distractors before issue 12 (its target: no lower), on this machine's ingest of
# the corpus (23 chunks): c292b7b's own bench/retrieval.py --chunk-tokens 128 on the same catalog
# (session 22). The issue's 0.949 was session 18's ingest of the same audio (22 chunks); Whisper
# does not transcribe it identically on every machine, so re-measure after a new ingest.
BASELINE_R5 = 0.9375  # 75 of the 80 questions (printed 0.938 in tables)
MAX_DROP = 0.05  # fused R@5 at the most distractors: at most 5 points below 0 distractors
FIXTURES = ROOT.parent / "shared" / "fixtures" / "audio"
FIXTURE_FILES = [
    "en_conversation_2spk/conversation.wav",
    "es_3spk_constructed/es_3spk_constructed.wav",
    "en_jfk/jfk.flac",
    "en_librispeech/2412-153948-0000.flac",
    "en_librispeech/61-70968-0000.flac",
    "en_librispeech/1272-128104-0000_picovoice_leopard_test.wav",
    "es_mls_1spk/13697_11991_000000.opus",
]
MODES = ("vector", "keyword", "graph", "fused")
METRICS = ("R@1", "R@5", "R@10", "MRR", "start±15s")
Ranked = list[list[str]]  # per question, the chunk ids ranked


def prepare_corpus(data_dir: Path) -> None:
    """Ingest the demo and the fixtures into ``data_dir`` unless already there."""
    catalog = SqlCatalog(f"sqlite:///{data_dir / 'catalog.db'}").open()
    done = {e.title for e in catalog.list_episodes() if e.state.value == "indexed"}
    catalog.close()
    env = {**os.environ, "CASTGRAPH_DATA_DIR": str(data_dir)}
    cli = [sys.executable, "-m", "castgraph"]
    if len(done) < 3:
        subprocess.run([*cli, "demo", "-q"], env=env, check=True)
    missing = [str(FIXTURES / f) for f in FIXTURE_FILES if Path(f).stem not in done]
    if missing and FIXTURES.is_dir():
        subprocess.run([*cli, "ingest", "-q", *missing], env=env, check=False)


def documents(data_dir: Path, max_tokens: int) -> list[EpisodeDocument]:
    """Every stored transcript re-chunked at ``max_tokens`` and re-extracted offline."""
    catalog = SqlCatalog(f"sqlite:///{data_dir / 'catalog.db'}").open()
    extractor = make_extractor("offline")
    options = ChunkingOptions(max_tokens, max(4, max_tokens // 5))
    docs = []
    for episode in catalog.list_episodes():
        if episode.state.value != "indexed":
            continue
        segments = tuple(catalog.segments(episode.id))
        transcript = Transcript(episode.language or "es", segments, episode.duration or 0.0)
        chunks = chunk_transcript(episode, transcript, options)
        entities, relations = extractor.extract(chunks)
        docs.append(EpisodeDocument(episode, tuple(chunks), tuple(entities), tuple(relations)))
    catalog.close()
    return docs


def build_as_asked(
    docs: list[EpisodeDocument],
    embedder: str,
    distractors: int,
    questions: Sequence[Question],
    args: argparse.Namespace,
) -> Path:
    """``build`` with the command line's options (the distractors' names avoid the words of
    every question and answer)."""
    return build(
        docs,
        embedder,
        distractors,
        args.models_dir,
        pool=args.pool,
        names=args.distractor_names,
        questions=[text for q in questions for text in (q.question, q.answer)],
        rebuild=args.rebuild,
        reuse_stale=args.reuse_stale,
        real_vectors=getattr(args, "real_vectors", False),
    )


def build(
    docs: list[EpisodeDocument],
    embedder: str,
    distractors: int,
    models_dir: Path,
    *,
    pool: int = 16000,
    names: str = "disjoint",
    questions: Sequence[str] = (),
    rebuild: bool = False,
    reuse_stale: bool = False,
    real_vectors: bool = False,
) -> Path:
    """A data directory holding ``docs`` and ``distractors`` synthetic chunks in every index,
    built through the ordinary indexing path; cached under ``bench/.cache/retrieval-indexes``
    and rebuilt when the documents, the embedder, the pool, the distractors' ``names``
    (``disjoint`` from the words of the corpus and ``questions``, or ``shared``) or the
    index-writing code change."""
    wanted: dict[str, Any] = {"docs": _fingerprint(docs), "embedder": embedder}
    wanted |= {"distractors": distractors, "pool": pool if distractors else None}
    wanted["vectors"] = "real" if real_vectors or not distractors else "composed"
    avoid = corpus_words(docs, questions) if names == "disjoint" else frozenset()
    digest = hashlib.sha256(" ".join(sorted(avoid)).encode()).hexdigest()[:10]
    wanted["names"] = f"{names}-{digest}" if distractors else None
    if not reuse_stale:
        wanted["code"] = code_fingerprint()
    slug = "".join(c if c.isalnum() else "-" for c in embedder)
    data_dir = INDEX_CACHE / f"{slug}-{wanted['docs'][:10]}-{distractors}-{wanted['vectors']}"
    data_dir = data_dir.with_name(f"{data_dir.name}-{names}") if distractors else data_dir
    backend = settings_for(data_dir, models_dir, embedder).resolved_vector_backend
    if backend != "chroma":  # CASTGRAPH_VECTOR_BACKEND: indexes of their own
        wanted["vector_backend"] = backend
        data_dir = data_dir.with_name(f"{data_dir.name}-{backend}")
    marker_path = data_dir / "bench-built.json"
    marker = json.loads(marker_path.read_text()) if marker_path.exists() else {}
    if rebuild or any(marker.get(key) != value for key, value in wanted.items()):
        sentences = synth.sentence_pool(pool, avoid=avoid) if distractors else None
        compose = None
        if sentences is not None and not real_vectors:
            compose = composer(sentences, embedder, models_dir)
        print(f"  building {distractors} distractors beside the corpus in {data_dir}", flush=True)
        shutil.rmtree(data_dir, ignore_errors=True)
        settings = settings_for(data_dir, models_dir, embedder)
        timings = fill(data_dir, settings, sentences, compose, distractors, docs)
        marker = {**wanted, "build_s": timings}
        marker_path.write_text(json.dumps(marker, indent=2))
        print(f"  built in {timings['total']:.0f} s (indexes {timings['index']:.0f} s)")
    return data_dir


@contextmanager
def searching(data_dir: Path, embedder: str, models_dir: Path) -> Iterator[Any]:
    """The services a server would open on ``data_dir`` (read-only), closed on exit."""
    from castgraph.api import wiring

    services = wiring.open_services(settings_for(data_dir, models_dir, embedder), read_only=True)
    try:
        yield services
    finally:
        services.close()


def corpus_words(docs: list[EpisodeDocument], questions: Sequence[str] = ()) -> frozenset[str]:
    """Every folded word of the corpus's chunks, titles, entity names and aliases and of the
    ``questions``: the name tokens ``--distractor-names disjoint`` keeps out of the distractors
    (the questions' too: ASR spells names by ear, "Santelmo" in the corpus for "San Telmo")."""
    texts = [c.text for d in docs for c in d.chunks] + [d.episode.title for d in docs]
    texts += questions
    texts += [n for d in docs for e in d.entities for n in (e.name, *e.aliases)]
    return frozenset(w for text in texts for w in re.findall(r"\w+", fold(text)))


def _fingerprint(docs: list[EpisodeDocument]) -> str:
    digest = hashlib.sha256()
    for d in docs:
        digest.update(repr((d.episode.id, d.episode.title, d.chunks, d.entities)).encode())
        digest.update(repr(d.relations).encode())
    return digest.hexdigest()[:16]


def rankings(services: Any, questions: list[Question]) -> dict[str, Ranked]:
    """Per mode, each question's top 10 chunk ids: each retriever's own, and the fused search."""
    ranked: dict[str, Ranked] = defaultdict(list)
    none = SearchFilters()
    for q in questions:
        for mode, hits in services.search.rankings(q.question, none).items():
            ranked[mode].append([h.chunk_id for h in hits[:10]])
        ranked["fused"].append([r.chunk.id for r in services.search.search(q.question, 10)])
    return ranked


def _hits(chunk: Chunk | None, gold: Gold, titles: dict[str, str]) -> bool:
    if chunk is None or titles.get(chunk.episode_id) != gold.episode:
        return False  # a distractor, or another episode
    return chunk.start <= gold.end and chunk.end >= gold.start


def score(
    questions: list[Question], ranked: Ranked, chunks: dict[str, Chunk], titles: dict[str, str]
) -> dict[str, float]:
    """Mean recall@1/5/10, MRR and start±15s over the questions; ``ranked[i]`` is question
    i's ranking; ids not in ``chunks`` (the corpus) are distractors: misses that take a rank."""
    rows: dict[str, list[float]] = defaultdict(list)
    for q, ids in zip(questions, ranked, strict=True):
        found = [chunks.get(i) for i in ids]
        for k in (1, 5, 10):
            hit = sum(any(_hits(c, g, titles) for c in found[:k]) for g in q.gold)
            rows[f"R@{k}"].append(hit / len(q.gold))
        first = next(
            (i for i, c in enumerate(found, 1) if any(_hits(c, g, titles) for g in q.gold)), None
        )
        rows["MRR"].append(1.0 / first if first else 0.0)
        top = found[0] if found else None
        near = top is not None and any(
            titles.get(top.episode_id) == g.episode and abs(top.start - g.start) <= 15
            for g in q.gold
        )
        rows["start±15s"].append(float(near))
    return {name: statistics.fmean(values) for name, values in rows.items()}


def _titles(docs: list[EpisodeDocument]) -> dict[str, str]:
    """Episode id → the name gold moments use: the demo title, or a local file's stem."""
    names = {}
    for d in docs:
        stem = Path(d.episode.url.split("#")[0]).stem if d.episode.url.startswith("file:") else None
        names[d.episode.id] = stem or d.episode.title
    return names


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / ".cache" / "retrieval")
    parser.add_argument(
        "--models-dir", type=Path, default=Path.home() / ".local/share/castgraph/models"
    )
    parser.add_argument("--embedders", default=None, help=f"default {EMBEDDERS}")
    parser.add_argument("--chunk-tokens", default=None, help=f"default {CHUNK_TOKENS}")
    parser.add_argument("--distractors", default="0", help="synthetic chunks added, e.g. 0,10000")
    parser.add_argument("--pool", type=int, default=16000, help="distractor sentences")
    parser.add_argument(
        "--distractor-names",
        choices=("disjoint", "shared"),
        default="disjoint",
        help="distractors' people and places: none of the corpus's (default), or the "
        "generator's, which include the corpus's own (an adversarial stress)",
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached indexes")
    parser.add_argument(
        "--reuse-stale", action="store_true", help="reuse indexes built by other code"
    )
    parser.add_argument(
        "--real-vectors",
        action="store_true",
        help="embed distractor chunks with the model (slow) instead of composing sentence vectors",
    )
    parser.add_argument("--by-kind", action="store_true", help="Also print fused R@5 per kind.")
    args = parser.parse_args()
    args.sizes = [int(n) for n in args.distractors.split(",") if n.strip()]
    scaled = any(args.sizes)
    if args.embedders is None:
        args.embedders = EMBEDDERS.split(",")[0] if scaled else EMBEDDERS
    if args.chunk_tokens is None:
        from castgraph.core.settings import Settings

        args.chunk_tokens = str(Settings().chunk_tokens) if scaled else CHUNK_TOKENS
    return args


def main() -> None:
    args = parse_args()
    prepare_corpus(args.data_dir)
    channel = build_demo(args.data_dir / "demo")
    questions = [q for q in load_questions(channel) if q.gold]  # unanswerables have no gold
    print(f"{len(questions)} questions; corpus in {args.data_dir}")
    print(
        f"{'chunk':>5} {'embedder':22} {'distract.':>9} {'mode':8} "
        + " ".join(f"{m:>9}" for m in METRICS)
    )
    embedders = args.embedders.split(",")
    fused_r5: dict[tuple[int, str], dict[int, float]] = defaultdict(dict)
    for tokens in [int(t) for t in args.chunk_tokens.split(",")]:
        docs = documents(args.data_dir, tokens)
        for name in embedders:
            modes = MODES if name == embedders[0] else ("vector", "fused")  # the rest: the same
            for size in args.sizes:
                m = measure(docs, tokens, name, size, questions, modes, args)
                fused_r5[(tokens, name)][size] = m["R@5"]
    if any(args.sizes):
        _report_scale(fused_r5)


def measure(
    docs: list[EpisodeDocument],
    tokens: int,
    name: str,
    size: int,
    questions: list[Question],
    modes: tuple[str, ...],
    args: argparse.Namespace,
) -> dict[str, float]:
    """Print one row per mode for this configuration; the fused metrics."""
    data_dir = build_as_asked(docs, name, size, questions, args)
    with searching(data_dir, name, args.models_dir) as services:
        ranked = rankings(services, questions)
    titles, chunks = _titles(docs), {c.id: c for d in docs for c in d.chunks}
    for mode in modes:
        m = score(questions, ranked[mode], chunks, titles)
        cells = " ".join(f"{m[c]:9.3f}" for c in METRICS)
        print(f"{tokens:5d} {name:22} {size:9d} {mode:8} {cells}", flush=True)
    if args.by_kind:
        _by_kind(questions, ranked["fused"], chunks, titles)
    return score(questions, ranked["fused"], chunks, titles)


def _by_kind(
    questions: list[Question], ranked: Ranked, chunks: dict[str, Chunk], titles: dict[str, str]
) -> None:
    for kind in sorted({q.kind for q in questions}):
        picked = [i for i, q in enumerate(questions) if q.kind == kind]
        subset = [questions[i] for i in picked]
        m = score(subset, [ranked[i] for i in picked], chunks, titles)
        print(f"      fused R@5 for {kind:9} ({len(subset):2d} questions): {m['R@5']:.3f}")


def _report_scale(fused_r5: dict[tuple[int, str], dict[int, float]]) -> None:
    """Fused R@5 against the issue's targets: no lower than before at 0 distractors, at most
    ``MAX_DROP`` below the 0-distractor figure at the most distractors."""
    print(f"\nfused R@5 by distractors (targets: >= {BASELINE_R5} at 0; drop <= 5 points at most)")
    for (tokens, name), by_size in fused_r5.items():
        cells = ", ".join(f"{n}: {r:.3f}" for n, r in sorted(by_size.items()))
        notes = []
        if 0 in by_size:
            notes.append(f"at 0 {'met' if by_size[0] >= BASELINE_R5 else 'MISSED'}")
            most = max(by_size)
            if most:
                drop = by_size[0] - by_size[most]
                verdict = "met" if drop <= MAX_DROP else "MISSED"
                notes.append(f"drop at {most}: {100 * drop:.1f} points, {verdict}")
        print(f"  {tokens:5d} {name:22} {cells}  ({'; '.join(notes)})")


if __name__ == "__main__":
    main()
