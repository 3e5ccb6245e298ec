"""The search service runs a query's retrievers concurrently, in its own bounded pool (or one
it is given); a failing retriever degrades the search to the others (issue 13), and
``rankings`` (benchmarks, debugging) raises the first failure."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from castgraph.core.errors import InputError, StorageError
from castgraph.core.models import Chunk
from castgraph.retrieval.base import Hit, Retriever, SearchFilters
from castgraph.retrieval.search import SearchService

WAIT = 10.0  # seconds a fake waits for the others before giving up: a failure, never a hang


def _chunk(cid: str) -> Chunk:
    return Chunk(
        id=cid,
        episode_id="ep1",
        ordinal=0,
        start=0.0,
        end=5.0,
        text=f"texto {cid}",
        speakers=("Ana",),
        language="es",
        title="T",
        url="https://www.youtube.com/watch?v=abc",
        published=date(2024, 1, 1),
    )


class Lookup:
    def get(self, ids: Sequence[str]) -> dict[str, Chunk]:
        return {i: _chunk(i) for i in ids}


class Meeting:
    """Returns ``ids`` only once every retriever sharing ``barrier`` is inside ``search`` at the
    same time: run one after another, the first one's wait breaks the barrier."""

    def __init__(self, barrier: threading.Barrier, ids: Sequence[str]) -> None:
        self.barrier = barrier
        self.ids = list(ids)
        self.threads: list[threading.Thread] = []

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        self.threads.append(threading.current_thread())
        self.barrier.wait(timeout=WAIT)
        return [Hit(i, 1.0) for i in self.ids]


class Failing:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        raise self.error


class Slow:
    """Finishes only when released (or after WAIT), recording that it did."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        self.entered.set()
        self.release.wait(timeout=WAIT)
        self.finished.set()
        return [Hit("s", 1.0)]


def _service(retrievers: dict[str, Retriever], **kwargs: object) -> SearchService:
    return SearchService(retrievers, Lookup(), visible=lambda: {"ep1"}, **kwargs)  # type: ignore[arg-type]


def test_the_three_retrievers_run_at_the_same_time() -> None:
    barrier = threading.Barrier(3)
    retrievers = {
        "vector": Meeting(barrier, ["a", "b"]),
        "keyword": Meeting(barrier, ["b"]),
        "graph": Meeting(barrier, ["c"]),
    }
    service = _service(dict(retrievers))
    try:
        rankings = service.rankings("pan", SearchFilters())
        assert list(rankings) == ["vector", "keyword", "graph"]  # the service's order
        assert {n: [h.chunk_id for h in r] for n, r in rankings.items()} == {
            "vector": ["a", "b"],
            "keyword": ["b"],
            "graph": ["c"],
        }
        # the calling thread ran one of them itself; the pool ran the other two
        threads = {t for r in retrievers.values() for t in r.threads}
        assert threading.current_thread() in threads and len(threads) == 3
        assert service.search("pan", 3)[0].chunk.id == "b"  # fused as before
    finally:
        service.close()


def test_concurrent_queries_share_one_bounded_pool() -> None:
    # Two threads in the pool: two queries at once need both, and each caller runs one more.
    barrier = threading.Barrier(4)
    vector, keyword = Meeting(barrier, ["a"]), Meeting(barrier, ["b"])
    service = _service({"vector": vector, "keyword": keyword}, threads=2)
    with ThreadPoolExecutor(2) as callers:
        first = callers.submit(service.rankings, "uno", SearchFilters())
        second = callers.submit(service.rankings, "dos", SearchFilters())
        assert first.result(WAIT)["keyword"] == [Hit("b", 1.0)]
        assert second.result(WAIT)["vector"] == [Hit("a", 1.0)]
    pool = set(keyword.threads)
    assert len(pool) == 2 and not pool & set(vector.threads)
    assert all(t.name.startswith("castgraph-retriever") for t in pool)
    service.close()
    assert not any(t.is_alive() for t in pool), "close() left retriever threads running"


@pytest.mark.parametrize("failing", ["vector", "graph"])
def test_a_failing_retriever_degrades_the_search_to_the_others(failing: str) -> None:
    slow = Slow()
    retrievers: dict[str, Retriever] = {"vector": slow, "keyword": slow, "graph": slow}
    retrievers[failing] = Failing(StorageError("the index is unreadable"))
    service = _service(retrievers)
    slow.release.set()
    try:
        outcome = service.search_outcome("pan")
        assert slow.finished.is_set()
        assert [(d.component, d.message) for d in outcome.degraded] == [
            (failing, "the index is unreadable")
        ]
        assert [r.chunk.id for r in outcome.results] == ["s"]  # the others' hits, fused
        assert [r.chunk.id for r in service.search("pan")] == ["s"]
        with pytest.raises(StorageError, match="unreadable"):  # benchmarks see every failure
            service.rankings("pan", SearchFilters())
    finally:
        service.close()


def test_the_search_fails_when_every_retriever_fails_or_the_query_is_refused() -> None:
    service = _service(
        {"vector": Failing(StorageError("vector down")), "keyword": Failing(KeyError("x"))}
    )
    with pytest.raises(StorageError, match="vector down"):
        service.search("pan")
    service = _service({"vector": Failing(InputError("too long")), "keyword": Slow()})
    service._retrievers["keyword"].release.set()  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="too long"):
        service.search("pan")
    service.close()


def test_the_error_waits_for_the_retrievers_still_running() -> None:
    slow = Slow()
    service = _service({"vector": Failing(InputError("bad query")), "keyword": slow})
    errors: list[BaseException] = []

    def search() -> None:
        try:
            service.rankings("pan", SearchFilters())
        except InputError as exc:
            errors.append(exc)

    caller = threading.Thread(target=search)
    caller.start()
    assert slow.entered.wait(WAIT)
    caller.join(timeout=0.2)
    assert caller.is_alive() and not errors, "the error left a retriever running behind it"
    slow.release.set()
    caller.join(timeout=WAIT)
    assert len(errors) == 1 and slow.finished.is_set()
    service.close()


def test_the_first_failure_in_retriever_order_is_raised() -> None:
    service = _service(
        {
            "vector": Failing(StorageError("vector down")),
            "keyword": Failing(InputError("keyword down")),
        }
    )
    with pytest.raises(StorageError, match="vector down"):
        service.rankings("pan", SearchFilters())
    service = _service(
        {"vector": Slow(), "keyword": Failing(InputError("first")), "graph": Failing(KeyError())}
    )
    service._retrievers["vector"].release.set()  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="first"):
        service.rankings("pan", SearchFilters())
    service.close()


def test_one_retriever_runs_on_the_calling_thread_without_a_pool() -> None:
    barrier = threading.Barrier(1)
    only = Meeting(barrier, ["a"])
    service = _service({"vector": only})
    assert service.rankings("pan", SearchFilters()) == {"vector": [Hit("a", 1.0)]}
    assert only.threads == [threading.current_thread()]
    assert service._executor is None  # no pool was ever started
    service.close()


def test_a_given_pool_is_used_and_left_to_its_owner() -> None:
    barrier = threading.Barrier(2)
    with ThreadPoolExecutor(1, thread_name_prefix="owner") as pool:
        retrievers = {"vector": Meeting(barrier, ["a"]), "keyword": Meeting(barrier, ["b"])}
        service = _service(dict(retrievers), executor=pool)
        service.rankings("pan", SearchFilters())
        service.close()
        assert pool.submit(lambda: 42).result(WAIT) == 42  # still open: its owner closes it
    with pytest.raises(ValueError, match="threads"):
        _service({}, threads=0)


def test_after_close_the_retrievers_run_one_after_another() -> None:
    first, second = Slow(), Slow()
    first.release.set()
    second.release.set()
    service = _service({"vector": first, "keyword": second})
    service.close()
    service.close()  # twice is fine
    assert service.rankings("pan", SearchFilters()) == {
        "vector": [Hit("s", 1.0)],
        "keyword": [Hit("s", 1.0)],
    }
    assert service._executor is None  # closing does not start a new pool


class Recording:
    """Records which thread ran it for which query; query "first" waits for ``release``."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release
        self.threads: dict[str, set[threading.Thread]] = {}

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        self.threads.setdefault(query, set()).add(threading.current_thread())
        if query == "first":
            self.release.wait(timeout=WAIT)
        return [Hit("a", 1.0)]


def test_a_busy_service_runs_each_query_on_its_own_thread() -> None:
    release = threading.Event()
    recording = Recording(release)
    service = _service(
        {"vector": recording, "keyword": recording, "graph": recording}, concurrent_up_to=1
    )
    try:
        with ThreadPoolExecutor(2, thread_name_prefix="caller") as callers:
            first = callers.submit(service.search, "first")
            while len(recording.threads.get("first", ())) < 3:  # all three are running
                release.wait(0.01)
            second = callers.submit(service.search, "second")
            assert [r.chunk.id for r in second.result(WAIT)] == ["a"]  # while "first" waits
            release.set()
            assert [r.chunk.id for r in first.result(WAIT)] == ["a"]
        # alone, "first" ran its retrievers on three threads; "second", with "first" still
        # in flight (2 > 1), ran all three on its caller's thread
        assert len(recording.threads["first"]) == 3
        (only,) = recording.threads["second"]
        assert only.name.startswith("caller")
    finally:
        service.close()
