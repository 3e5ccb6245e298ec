"""Reciprocal rank fusion and the search service, with fake retrievers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pytest

from castgraph.core.errors import InputError
from castgraph.core.models import Chunk
from castgraph.retrieval.base import Hit, SearchFilters
from castgraph.retrieval.fusion import reciprocal_rank_fusion
from castgraph.retrieval.search import SearchService


def _chunk(cid: str, episode: str = "ep1", speaker: str = "Ana", lang: str = "es") -> Chunk:
    return Chunk(
        id=cid,
        episode_id=episode,
        ordinal=0,
        start=65.4,
        end=80.0,
        text=f"texto {cid}",
        speakers=(speaker,),
        language=lang,
        title="T",
        url="https://www.youtube.com/watch?v=abc",
        published=date(2024, 1, 1),
    )


class FixedRetriever:
    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = list(ids)
        self.calls: list[tuple[str, int, SearchFilters]] = []

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        self.calls.append((query, k, filters))
        return [Hit(i, 1.0 / (n + 1)) for n, i in enumerate(self.ids[:k])]


class Lookup:
    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = {c.id: c for c in chunks}

    def get(self, ids: Sequence[str]) -> dict[str, Chunk]:
        return {i: self.chunks[i] for i in ids if i in self.chunks}


def test_rrf_rewards_agreement_and_respects_weights() -> None:
    fused = reciprocal_rank_fusion(
        {"vector": [Hit("a", 0.9), Hit("b", 0.8)], "keyword": [Hit("b", 7.0), Hit("c", 3.0)]}
    )
    assert [f.chunk_id for f in fused] == ["b", "a", "c"]
    assert fused[0].ranks == {"vector": 2, "keyword": 1}
    weighted = reciprocal_rank_fusion(
        {"vector": [Hit("a", 0.9)], "keyword": [Hit("c", 3.0)]}, {"vector": 0.1, "keyword": 1.0}
    )
    assert [f.chunk_id for f in weighted] == ["c", "a"]


def _agreeing_at(rank: int) -> dict[str, list[Hit]]:
    """Vector and graph both rank "x" at ``rank``; the keyword retriever ranks "k" first."""
    filler = [Hit(f"f{i}", 0.5) for i in range(rank - 1)]
    return {
        "vector": [*filler, Hit("x", 0.4)],
        "keyword": [Hit("k", 9.0)],
        "graph": [*[Hit(f"g{i}", 0.5) for i in range(rank - 1)], Hit("x", 0.4)],
    }


def test_rrf_agreement_beats_a_first_place_only_within_a_page() -> None:
    def order(rank: int) -> list[str]:
        return [
            f.chunk_id
            for f in reciprocal_rank_fusion(_agreeing_at(rank))
            if f.chunk_id in {"x", "k"}
        ]

    assert order(9) == ["x", "k"]  # both on the first page: the agreement wins
    assert order(11) == ["k", "x"]  # below it: one retriever's first place wins
    plain = reciprocal_rank_fusion(_agreeing_at(40), k=60)  # the classic constant: any depth
    assert [f.chunk_id for f in plain if f.chunk_id in {"x", "k"}] == ["x", "k"]


def test_rrf_counts_a_duplicate_hit_once() -> None:
    (only,) = reciprocal_rank_fusion({"graph": [Hit("a", 1.0), Hit("a", 0.5)]})
    assert only.ranks == {"graph": 1}


def _service(visible: set[str] | None = None, **retrievers: FixedRetriever) -> SearchService:
    chunks = [
        _chunk("a"),
        _chunk("b", speaker="Ben"),
        _chunk("c", episode="ep2", lang="en"),
        _chunk("d", episode="hidden"),
    ]
    return SearchService(retrievers, Lookup(chunks), visible=lambda: visible or {"ep1", "ep2"})


def test_results_have_signals_links_and_only_visible_episodes() -> None:
    service = _service(
        vector=FixedRetriever(["d", "a", "c"]),
        keyword=FixedRetriever(["a", "zzz", "c"]),
        graph=FixedRetriever([]),
    )
    results = service.search("¿Dónde?", k=5)
    assert [r.chunk.id for r in results] == ["a", "c"]  # "d" is not indexed yet, "zzz" is gone
    assert results[0].signals == {"vector": 2, "keyword": 1, "graph": None}
    assert results[0].link == "https://www.youtube.com/watch?v=abc&t=65s"


def test_filters_reach_every_retriever_and_are_enforced() -> None:
    vector = FixedRetriever(["a", "b", "c"])
    service = _service(vector=vector)
    filters = SearchFilters(speakers=("ben",))
    assert [r.chunk.id for r in service.search("x", 3, filters)] == ["b"]
    assert vector.calls[0][2] is filters
    assert [r.chunk.id for r in service.search("x", 3, SearchFilters(languages=("en",)))] == ["c"]


def test_empty_index_gives_no_results() -> None:
    assert _service(vector=FixedRetriever([]), keyword=FixedRetriever([])).search("hola") == []


@pytest.mark.parametrize(
    ("query", "k", "message"),
    [("   ", 5, "empty"), ("x" * 1001, 5, "limit is 1000"), ("ok", 0, "k must be")],
)
def test_bad_queries_are_input_errors(query: str, k: int, message: str) -> None:
    with pytest.raises(InputError, match=message):
        _service(vector=FixedRetriever(["a"])).search(query, k)


class ReverseReranker:
    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        return [float(i) for i in range(len(passages))]


def test_reranker_reorders_the_head() -> None:
    service = SearchService(
        {"vector": FixedRetriever(["a", "b"])},
        Lookup([_chunk("a"), _chunk("b")]),
        visible=lambda: {"ep1"},
        reranker=ReverseReranker(),
    )
    assert [r.chunk.id for r in service.search("q")] == ["b", "a"]


class CountingLookup(Lookup):
    """A lookup that records which ids each call asked for."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        super().__init__(chunks)
        self.asked: list[list[str]] = []

    def get(self, ids: Sequence[str]) -> dict[str, Chunk]:
        self.asked.append(list(ids))
        return super().get(ids)


def test_only_the_head_of_the_fused_list_is_looked_up() -> None:
    ids = [f"c{n:03d}" for n in range(150)]
    hidden = {f"c{n:03d}" for n in range(25)}  # the best 25 are of an episode being indexed
    chunks = [_chunk(i, episode="busy" if i in hidden else "ep1") for i in ids]
    lookup = CountingLookup(chunks)
    # Every retriever returns its 50 candidates in the same order: fused, the same 50.
    retrievers = {name: FixedRetriever(ids) for name in ("vector", "keyword", "graph")}
    service = SearchService(retrievers, lookup, visible=lambda: {"ep1"})
    results = service.search("pan", k=5)
    # The hidden head costs wider windows (10, then 20), never the whole fused list (50 ids).
    assert [r.chunk.id for r in results] == ids[25:30]
    assert [len(asked) for asked in lookup.asked] == [10, 20]
    lookup.asked.clear()
    assert [r.chunk.id for r in service.search("pan", k=3)] == ids[25:28]
    assert sum(len(asked) for asked in lookup.asked) == 30
    lookup.asked.clear()
    everything = service.search("pan", k=100)  # fewer live chunks than k: all are read once
    assert [r.chunk.id for r in everything] == ids[25:50]
    assert sorted(i for asked in lookup.asked for i in asked) == ids[:50]
