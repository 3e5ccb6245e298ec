"""Fusion settings compared offline on the retrieval benchmark's own rankings.

For each ``--distractors`` size, the index ``bench/retrieval.py`` caches for it (built when
missing) is searched once per question: each retriever's ranking as the search service gets it
(``search_candidates`` hits, with scores). With ``--exact`` the vector retriever's list is also
computed by exact cosine search over every vector the Chroma collection holds (one matrix
product per question), to tell the approximate index's losses from the embeddings'. Each RRF
constant of ``--rrf-k`` then fuses those lists as ``SearchService`` does (no filters; the
bench corpus has one build per episode, so visibility removes nothing) and is scored like the
fused rows of ``bench/retrieval.py``, which the index column (the configured vector backend:
flat's cosine about the centre by default, Chroma's HNSW with
``CASTGRAPH_VECTOR_BACKEND=chroma``) reproduces for the same constant. The exact column is plain
cosine over every stored vector.
Searching once and fusing many times makes a comparison of fusion settings cost seconds per
setting instead of a benchmark run each (see docs/decisions.md, "Issue 12: fusion at scale").

    python bench/fusion_offline.py [--distractors 0,10000] [--rrf-k 1,5,8,20,60] [--exact]
                                   [--real-vectors] [--reuse-stale] [--rebuild]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import retrieval as bench  # noqa: E402
from _latency_build import settings_for  # noqa: E402
from questions import Question, load_questions  # noqa: E402

from castgraph.core.models import Chunk  # noqa: E402
from castgraph.core.settings import Settings  # noqa: E402
from castgraph.demo import build_demo  # noqa: E402
from castgraph.retrieval.base import Hit, SearchFilters  # noqa: E402
from castgraph.retrieval.fusion import reciprocal_rank_fusion  # noqa: E402

Lists = list[dict[str, list[Hit]]]  # per question, each retriever's ranking


def retriever_lists(services: Any, questions: list[Question]) -> Lists:
    """Each question's per-retriever rankings, as the search service fuses them."""
    none = SearchFilters()
    return [dict(services.search.rankings(q.question, none)) for q in questions]


def stored_vectors(settings: Settings, name: str) -> tuple[list[str], np.ndarray]:
    """Chunk ids and unit vectors of collection ``name`` in the configured backend's store: the
    flat file, or the embedded Chroma collection."""
    flat = settings.flat_vectors_path / f"{name}.sqlite"
    if settings.resolved_vector_backend == "flat":
        with closing(sqlite3.connect(f"file:{flat}?mode=ro", uri=True)) as conn:
            rows = conn.execute("SELECT id, vector FROM chunks ORDER BY row").fetchall()
        vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        return [str(r[0]) for r in rows], vectors.reshape(len(rows), -1)
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(
        path=str(settings.chroma_path), settings=ChromaSettings(anonymized_telemetry=False)
    )
    stored = client.get_collection(name).get(include=["embeddings"])
    matrix = np.asarray(stored["embeddings"], dtype=np.float32)
    return [str(i) for i in stored["ids"]], matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def exact_vector_lists(
    data_dir: Path, args: argparse.Namespace, texts: list[str]
) -> list[list[Hit]]:
    """Per query, the ``search_candidates`` chunks nearest it by exact (plain) cosine."""
    from castgraph.retrieval.embeddings import make_embedder
    from castgraph.retrieval.vector import collection_name

    settings = settings_for(data_dir, args.models_dir, args.embedder)
    embedder = make_embedder(settings.embedding_model, models_dir=settings.resolved_models_dir)
    ids, matrix = stored_vectors(
        settings, collection_name("chunks", embedder.name, embedder.dimension)
    )
    lists = []
    for text in texts:
        query = np.asarray(embedder.embed_query(text), dtype=np.float32)
        sims = matrix @ (query / np.linalg.norm(query))
        top = np.argsort(-sims)[: settings.search_candidates]
        lists.append([Hit(ids[i], float(sims[i])) for i in top])
    return lists


def fused_top(lists: Lists, k: int, vector: list[list[Hit]] | None = None) -> list[list[str]]:
    """Each question's top 10 chunk ids fused with RRF constant ``k`` (``vector`` replacing
    the vector retriever's lists when given)."""
    ranked = []
    for i, rankings in enumerate(lists):
        if vector is not None:
            rankings = {**rankings, "vector": vector[i]}
        ranked.append([f.chunk_id for f in reciprocal_rank_fusion(rankings, k=k)][:10])
    return ranked


def cell(questions: list[Question], ranked: list[list[str]], corpus: Any) -> str:
    chunks, titles = corpus
    m = bench.score(questions, ranked, chunks, titles)
    return f"{m['R@5']:.3f} / {m['MRR']:.3f}"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / ".cache" / "retrieval")
    parser.add_argument(
        "--models-dir", type=Path, default=Path.home() / ".local/share/castgraph/models"
    )
    parser.add_argument("--embedder", default=bench.EMBEDDERS.split(",")[0])
    parser.add_argument("--distractors", default="0,10000", help="sizes, e.g. 0,10000,100000")
    parser.add_argument("--rrf-k", default="1,5,8,20,60", help="RRF constants to compare")
    parser.add_argument("--exact", action="store_true", help="also fuse exact vector search")
    parser.add_argument("--pool", type=int, default=16000, help="distractor sentences")
    parser.add_argument("--distractor-names", choices=("disjoint", "shared"), default="disjoint")
    parser.add_argument(
        "--real-vectors", action="store_true", help="distractors embedded by the model (slow)"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached indexes")
    parser.add_argument("--reuse-stale", action="store_true", help="reuse indexes of other code")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    bench.prepare_corpus(args.data_dir)
    questions = [q for q in load_questions(build_demo(args.data_dir / "demo")) if q.gold]
    docs = bench.documents(args.data_dir, Settings().chunk_tokens)
    corpus: tuple[dict[str, Chunk], dict[str, str]] = (
        {c.id: c for d in docs for c in d.chunks},
        bench._titles(docs),
    )
    constants = [int(k) for k in args.rrf_k.split(",")]
    print(f"{len(questions)} questions; fused R@5 / MRR per RRF constant")
    for size in [int(n) for n in args.distractors.split(",")]:
        data_dir = bench.build_as_asked(docs, args.embedder, size, questions, args)
        with bench.searching(data_dir, args.embedder, args.models_dir) as services:
            lists = retriever_lists(services, questions)
        exact = None
        if args.exact:
            exact = exact_vector_lists(data_dir, args, [q.question for q in questions])
            only = [[h.chunk_id for h in hits[:10]] for hits in exact]
            print(f"{size:>7} exact plain cosine alone: {cell(questions, only, corpus)}")
        alone = [[h.chunk_id for h in rankings["vector"][:10]] for rankings in lists]
        print(f"{size:>7} index vector alone: {cell(questions, alone, corpus)}")
        for k in constants:
            row = f"{size:>7} k={k:<3} index vector: {cell(questions, fused_top(lists, k), corpus)}"
            if exact is not None:
                plain = fused_top(lists, k, exact)
                row += f"   exact plain cosine: {cell(questions, plain, corpus)}"
            print(row, flush=True)


if __name__ == "__main__":
    main()
