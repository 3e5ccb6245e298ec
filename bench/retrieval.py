"""Retrieval quality: vector only (a plain Chroma similarity search, the original project's
approach), keyword only (BM25), graph only and the fused pipeline, on one question set.

The corpus is the demo channel plus the shared fixtures, ingested for real (ASR, diarization)
into ``--data-dir`` once (``castgraph demo`` + ``castgraph ingest``); every configuration then
re-chunks and re-extracts the stored transcripts and builds its own indexes, so chunk sizes and
embedders are compared on the same transcripts in one run.

Metrics per question (gold = episode + time span; a result hits a gold moment when it is from
that episode and its span overlaps the gold span): recall@k = share of the question's gold
moments hit in the top k; MRR = 1 / rank of the first hit; start±15s = the top result starts
within 15 s of a gold moment's start.

Graph search reads the graph read model, as the server does, with ``--hops`` RELATED steps
(default: the server's ``graph_hops``) and ``--mention-budget`` (hub handling: entities named
in more chunks than this are neither expanded into nor read past the budget).

    python bench/retrieval.py [--data-dir DIR] [--embedders use-multilingual-v3,all-MiniLM-L6-v2]
                              [--chunk-tokens 96,160,256] [--hops 1] [--mention-budget 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from questions import Gold, Question, load_questions  # noqa: E402

from castgraph.catalog import SqlCatalog  # noqa: E402
from castgraph.core.models import Chunk, EpisodeDocument, Transcript  # noqa: E402
from castgraph.core.settings import Settings  # noqa: E402
from castgraph.demo import build_demo  # noqa: E402
from castgraph.ingest.chunking import ChunkingOptions, chunk_transcript  # noqa: E402
from castgraph.ingest.extract import make_extractor  # noqa: E402
from castgraph.retrieval.base import Hit, SearchFilters  # noqa: E402
from castgraph.retrieval.embeddings import make_embedder  # noqa: E402
from castgraph.retrieval.graph import make_graph_store  # noqa: E402
from castgraph.retrieval.graph.readmodel import GraphReadModel  # noqa: E402
from castgraph.retrieval.graph.retriever import GraphRetriever  # noqa: E402
from castgraph.retrieval.indexer import StoresIndexer, graph_writes  # noqa: E402
from castgraph.retrieval.keyword import KeywordIndex  # noqa: E402
from castgraph.retrieval.search import SearchService  # noqa: E402
from castgraph.retrieval.vector import ChromaVectorIndex  # noqa: E402

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
Search = Callable[[str, int], list[Hit]]


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


def build(  # type: ignore[no-untyped-def]
    work: Path, embedder_name: str, docs: list[EpisodeDocument], models_dir: Path, graph_options
):
    """Open fresh indexes in ``work`` and write ``docs``; returns the searches per mode."""
    embedder = make_embedder(embedder_name, models_dir=models_dir)
    keyword = KeywordIndex(work / "keyword.sqlite").open()
    vector = ChromaVectorIndex(embedder, path=work / "chroma").open()
    graph = make_graph_store("embedded", path=work / "graph.lbug").open()
    read_model = GraphReadModel(work / "graph-read.sqlite").open()
    indexer = StoresIndexer(keyword, vector, graph_writes(graph, read_model))
    for doc in docs:
        indexer.index(doc)
    graph_retriever = GraphRetriever(read_model, embedder=embedder, **graph_options)
    visible = {d.episode.id for d in docs}
    service = SearchService(
        {"vector": vector, "keyword": keyword, "graph": graph_retriever},
        keyword,
        visible=lambda: visible,
    )
    none = SearchFilters()

    def fused(q: str, k: int) -> list[Hit]:
        return [Hit(r.chunk.id, r.score) for r in service.search(q, k)]

    searches: dict[str, Search] = {
        "vector": lambda q, k: vector.search(q, k, none),
        "keyword": lambda q, k: keyword.search(q, k, none),
        "graph": lambda q, k: graph_retriever.search(q, k, none),
        "fused": fused,
    }
    return searches, keyword, service


def _hits(chunk: Chunk, gold: Gold, titles: dict[str, str]) -> bool:
    if titles.get(chunk.episode_id) != gold.episode:
        return False
    return chunk.start <= gold.end and chunk.end >= gold.start


def score(
    questions: list[Question], search: Search, lookup: KeywordIndex, titles: dict[str, str]
) -> dict[str, float]:
    """Mean recall@1/5/10, MRR and start±15s over the questions."""
    rows: dict[str, list[float]] = defaultdict(list)
    for q in questions:
        hits = search(q.question, 10)
        chunks = lookup.get([h.chunk_id for h in hits])
        ranked = [chunks[h.chunk_id] for h in hits if h.chunk_id in chunks]
        for k in (1, 5, 10):
            found = sum(any(_hits(c, g, titles) for c in ranked[:k]) for g in q.gold)
            rows[f"R@{k}"].append(found / len(q.gold))
        first = next(
            (i for i, c in enumerate(ranked, 1) if any(_hits(c, g, titles) for g in q.gold)), None
        )
        rows["MRR"].append(1.0 / first if first else 0.0)
        top = ranked[0] if ranked else None
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / ".cache" / "retrieval")
    parser.add_argument(
        "--models-dir", type=Path, default=Path.home() / ".local/share/castgraph/models"
    )
    parser.add_argument("--embedders", default="use-multilingual-v3,all-MiniLM-L6-v2")
    parser.add_argument("--chunk-tokens", default="96,160,256")
    parser.add_argument("--by-kind", action="store_true", help="Also print fused R@5 per kind.")
    parser.add_argument("--hops", type=int, default=Settings.model_fields["graph_hops"].default)
    parser.add_argument("--mention-budget", type=int, default=2000)
    args = parser.parse_args()
    graph_options = {"hops": args.hops, "mention_budget": args.mention_budget}
    print(f"graph search: {graph_options}")
    prepare_corpus(args.data_dir)
    channel = build_demo(args.data_dir / "demo")
    questions = [q for q in load_questions(channel) if q.gold]  # unanswerables have no gold
    print(f"{len(questions)} questions; corpus in {args.data_dir}")
    header = f"{'chunk':>5} {'embedder':22} {'mode':8} " + " ".join(
        f"{m:>9}" for m in ("R@1", "R@5", "R@10", "MRR", "start±15s")
    )
    print(header)
    for tokens in [int(t) for t in args.chunk_tokens.split(",")]:
        docs = documents(args.data_dir, tokens)
        titles = _titles(docs)
        for name in args.embedders.split(","):
            with tempfile.TemporaryDirectory() as work:
                searches, lookup, _ = build(Path(work), name, docs, args.models_dir, graph_options)
                for mode in MODES:
                    if mode in ("keyword", "graph") and name != args.embedders.split(",")[0]:
                        continue  # identical for every embedder
                    m = score(questions, searches[mode], lookup, titles)
                    cells = " ".join(
                        f"{m[c]:9.3f}" for c in ("R@1", "R@5", "R@10", "MRR", "start±15s")
                    )
                    print(f"{tokens:5d} {name:22} {mode:8} {cells}", flush=True)
                if args.by_kind:
                    _by_kind(questions, searches["fused"], lookup, titles)


def _by_kind(questions, search, lookup, titles) -> None:  # type: ignore[no-untyped-def]
    kinds = sorted({q.kind for q in questions})
    for kind in kinds:
        subset = [q for q in questions if q.kind == kind]
        m = score(subset, search, lookup, titles)
        print(f"      fused R@5 for {kind:9} ({len(subset):2d} questions): {m['R@5']:.3f}")


if __name__ == "__main__":
    main()
