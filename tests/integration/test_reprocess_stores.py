"""Re-processing beside the live build with the real stores: the SQLite catalog, the FTS5 keyword
index, embedded Chroma (hash embedder), the embedded graph, and the search service over them.

(a) A re-process that fails, or whose process is SIGKILLed in a stage, leaves the old version
searchable with its transcript and citations intact, and the next run finishes it. (b) While a
re-process runs and swaps, a thread searching in a loop sees, for the episode, the chunks of one
build at a time and never an empty result.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from castgraph.catalog import SqlCatalog
from castgraph.core.errors import MediaError
from castgraph.core.models import EpisodeDocument, chunk_build
from tests.reprocess_world import (
    NEW_TEXT,
    OLD_TEXT,
    QUERY,
    Mentions,
    RealStores,
    Transcriber,
    builds_found,
    episode,
    ingest,
    pipeline,
    texts,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 300.0
"""How long the child may take to reach its stage (imports, opening Chroma): a hang guard."""


def _open(data: Path, **kwargs: object) -> tuple[SqlCatalog, RealStores]:
    catalog = SqlCatalog(f"sqlite:///{data / 'c.db'}").open()
    return catalog, RealStores(data, catalog, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data directory holding the episode's first version (build 0), stores closed."""
    catalog, stores = _open(tmp_path)
    assert [e.title for e in _run(catalog, stores, tmp_path, Transcriber(OLD_TEXT)).indexed]
    stores.close()
    catalog.close()
    return tmp_path


def _run(
    catalog: SqlCatalog,
    stores: RealStores,
    data: Path,
    transcriber: Transcriber,
    *,
    force: bool = False,
    extractor: Mentions | None = None,
):  # type: ignore[no-untyped-def]
    pipe = pipeline(catalog, data / "media", stores.indexer, transcriber, extractor)
    return ingest(pipe, force=force)


def _cited(stores: RealStores) -> list[tuple[str, float, str]]:
    """What a search for QUERY cites: chunk id, start and text."""
    return [(r.chunk.id, r.chunk.start, r.chunk.text) for r in stores.search.search(QUERY, k=20)]


def _snapshot(catalog: SqlCatalog, stores: RealStores) -> tuple[object, ...]:
    ep = episode(catalog)
    document = catalog.document(ep.id)
    assert document is not None
    return texts(catalog, ep.id), _content(document), _cited(stores)


def _content(document: EpisodeDocument) -> object:
    return document.chunks, document.entities


def _finishes(catalog: SqlCatalog, stores: RealStores, data: Path) -> None:
    """The next run (no --force) finishes the re-process: build 1 everywhere, only it shown."""
    report = _run(catalog, stores, data, Transcriber(NEW_TEXT))
    assert [e.title for e in report.indexed] == ["Islas de calor"]
    ep = episode(catalog)
    assert (ep.build, ep.reprocessing, ep.retired_build) == (1, None, None)
    assert ep.reprocess_error is None
    assert texts(catalog, ep.id) == NEW_TEXT
    assert stores.builds(ep.id) == {"keyword": {1}, "vector": {1}, "graph": {1}}
    found = builds_found(stores.search)
    assert found and set(found) == {1}


@pytest.mark.parametrize("where", ["transcriber", "extractor"])
def test_a_failed_reprocess_keeps_the_old_version(data: Path, where: str) -> None:
    catalog, stores = _open(data)
    before = _snapshot(catalog, stores)
    assert {chunk_build(c[0]) for c in before[2]} == {0}  # type: ignore[attr-defined]

    def fail() -> None:
        raise MediaError("the decoder gave up")

    report = _run(
        catalog,
        stores,
        data,
        Transcriber(NEW_TEXT, fail if where == "transcriber" else None),
        force=True,
        extractor=Mentions(fail if where == "extractor" else None),
    )
    assert report.failed and not report.indexed
    ep = episode(catalog)
    assert ep.state.value == "indexed" and "the decoder gave up" in (ep.reprocess_error or "")
    assert _snapshot(catalog, stores) == before
    _finishes(catalog, stores, data)
    stores.close()
    catalog.close()


def _wait_for(path: Path, child: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while not path.exists():
        if child.poll() is not None:
            tail = log.read_text()[-3000:]
            pytest.fail(f"the re-process exited with {child.returncode}:\n{tail}")
        if time.monotonic() > deadline:
            child.kill()
            pytest.fail(f"the re-process did not reach its stage:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("at", "stage"), [("transcribing", "transcribing"), ("staged", "indexing")]
)
def test_a_reprocess_killed_mid_run_keeps_the_old_version(data: Path, at: str, stage: str) -> None:
    catalog, stores = _open(data)
    before = _snapshot(catalog, stores)
    stores.close()  # one writer per data directory: the child takes the graph's lock
    catalog.close()
    ready, log = data / "ready", data / "child.log"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with log.open("wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.reprocess_world", str(data), at, str(ready)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        _wait_for(ready, child, log)
        child.send_signal(signal.SIGKILL)
        child.wait()
    catalog, stores = _open(data)
    ep = episode(catalog)
    assert (ep.state.value, ep.reprocessing, ep.build) == ("indexed", stage, 0)
    staged = {0, 1} if at == "staged" else {0}
    assert stores.builds(ep.id) == {"keyword": staged, "vector": staged, "graph": {0}}
    assert _snapshot(catalog, stores) == before
    _finishes(catalog, stores, data)
    stores.close()
    catalog.close()


class Searcher:
    """Searches in a loop on its own thread, recording the builds each search returned."""

    def __init__(self, search: Callable[[], list[int]]) -> None:
        self._search = search
        self.seen: list[list[int]] = []
        self.errors: list[BaseException] = []
        self._done = threading.Event()
        self._more = threading.Condition()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Searcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._done.is_set():
            try:
                found = self._search()
            except BaseException as exc:  # reported by the test, not lost in the thread
                self.errors.append(exc)
                found = []
            with self._more:
                self.seen.append(found)
                self._more.notify_all()

    def wait(self, searches: int = 3) -> None:
        """Block until ``searches`` more searches ran (so they overlap what the caller does)."""
        with self._more:
            target = len(self.seen) + searches
            if not self._more.wait_for(lambda: len(self.seen) >= target, timeout=120):
                raise AssertionError("the searching thread stopped answering")


class GateGraph:
    """The graph store, letting searches run right after the graph swapped builds."""

    def __init__(self, store: object, searcher: Callable[[], Searcher | None]) -> None:
        self._store, self._searcher = store, searcher

    def upsert_episode(self, document: EpisodeDocument) -> None:
        self._store.upsert_episode(document)  # type: ignore[attr-defined]
        searcher = self._searcher()
        if searcher is not None:
            searcher.wait()

    def delete_episode(self, episode_id: str) -> None:
        self._store.delete_episode(episode_id)  # type: ignore[attr-defined]


@pytest.fixture
def swapping(data: Path) -> Iterator[tuple[SqlCatalog, RealStores, list[Searcher]]]:
    holder: list[Searcher] = []
    catalog, stores = _open(
        data, graph_wrapper=lambda g: GateGraph(g, lambda: holder[0] if holder else None)
    )
    yield catalog, stores, holder
    stores.close()
    catalog.close()


def test_a_successful_reprocess_swaps_atomically_for_a_searching_thread(
    data: Path, swapping: tuple[SqlCatalog, RealStores, list[Searcher]]
) -> None:
    catalog, stores, holder = swapping
    with Searcher(lambda: builds_found(stores.search)) as searcher:
        holder.append(searcher)
        searcher.wait()
        transcriber = Transcriber(NEW_TEXT, searcher.wait)
        report = _run(
            catalog, stores, data, transcriber, force=True, extractor=Mentions(searcher.wait)
        )
        assert [e.title for e in report.indexed] == ["Islas de calor"]
        searcher.wait()
    assert not searcher.errors, searcher.errors
    assert all(found for found in searcher.seen), "a search found nothing for the episode"
    mixed = [found for found in searcher.seen if len(set(found)) != 1]
    assert not mixed, f"searches mixed builds: {mixed[:3]}"
    order = [found[0] for found in searcher.seen]
    assert order[0] == 0 and order[-1] == 1 and order == sorted(order)  # one switch, never back
