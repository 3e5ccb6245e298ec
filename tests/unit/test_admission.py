"""Admission control: the slot counter on its own, then the real app under uvicorn with slow
fake searches: 503 + Retry-After past the limit, probes still answered, slots given back after
errors, after a streamed answer and after a client leaves mid-stream."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from castgraph.api.admission import Admission
from castgraph.api.app import create_app
from castgraph.api.services import Services
from castgraph.catalog import SqlCatalog
from castgraph.core.errors import StorageError
from castgraph.core.models import AnswerRequest, Chunk
from castgraph.core.settings import Settings
from castgraph.retrieval.answer import AnswerService
from castgraph.retrieval.base import Hit, SearchFilters
from castgraph.retrieval.search import SearchService
from tests.netutil import free_port
from tests.procs import wait_for

WAIT = 20.0  # the longest any fake blocks: a failure, never a hang

# --- the counter ---


def test_slots_up_to_the_limit_then_refusals_then_a_freed_slot() -> None:
    async def scenario() -> None:
        control = Admission(2)
        assert [await control.acquire() for _ in range(3)] == [True, True, False]
        control.release()
        assert await control.acquire() is True
        assert control.held == 2

    _run(scenario())


def test_a_waiter_gets_the_freed_slot_first_and_newcomers_queue_behind() -> None:
    async def scenario() -> None:
        control = Admission(1, wait=WAIT)
        assert await control.acquire()
        waiter = asyncio.create_task(control.acquire())
        await _until(lambda: control.waiting == 1)
        await asyncio.to_thread(control.release)  # from another thread, as a worker might
        assert await waiter is True and control.held == 1  # handed over, never freed
        newcomer = asyncio.create_task(control.acquire())
        await _until(lambda: control.waiting == 1)
        assert not newcomer.done()  # no jumping the line: the slot is the waiter's
        control.release()
        assert await newcomer is True

    _run(scenario())


def test_the_line_is_as_long_as_the_limit_and_the_wait_is_bounded() -> None:
    async def scenario() -> None:
        control = Admission(1, wait=WAIT)
        assert await control.acquire()
        waiter = asyncio.create_task(control.acquire())
        await _until(lambda: control.waiting == 1)
        assert await control.acquire() is False  # the line is full: refused at once
        waiter.cancel()  # its client left: it leaves the line
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert control.waiting == 0
        control.release()
        assert control.held == 0
        short = Admission(1, wait=0.01)
        assert await short.acquire()
        assert await short.acquire() is False  # waited, then refused
        assert short.waiting == 0 and short.held == 1

    _run(scenario())


def test_bad_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        Admission(0)
    with pytest.raises(ValueError, match="at least"):
        Admission(1, wait=-1)


def _run(scenario: Any) -> None:
    """``asyncio.run`` on a thread of its own: an earlier test of the session (Playwright's sync
    API) may have left an event loop running on this one, where ``asyncio.run`` refuses."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario).result(timeout=60)


async def _until(check: Any) -> None:
    for _ in range(int(WAIT * 100)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


# --- the app under uvicorn ---


class Gate:
    """A retriever: a query with "wait" blocks until the gate opens, "boom" fails, others pass."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self._inside = 0
        self._changed = threading.Condition()

    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        if "boom" in query:
            raise StorageError("the index is unreadable")
        if "wait" in query:
            with self._changed:
                self._inside += 1
                self._changed.notify_all()
            try:
                assert self.opened.wait(WAIT), "the gate never opened"
            finally:
                with self._changed:
                    self._inside -= 1
        return [Hit("a", 1.0)]

    def wait_inside(self, n: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: self._inside >= n, WAIT), f"{n} never came in"


class Chunks:
    def get(self, ids: Sequence[str]) -> dict[str, Chunk]:
        return {
            i: Chunk(
                id=i,
                episode_id="ep1",
                ordinal=0,
                start=1.0,
                end=9.0,
                text="Tomás vende pan en Tandil.",
                speakers=("Ana",),
                language="es",
                title="Pan",
                url="https://example.org/pan.mp3",
                published=date(2024, 1, 1),
            )
            for i in ids
        }


class Talker:
    """A generator that talks until told to finish (or WAIT), recording whether it was closed."""

    def __init__(self) -> None:
        self.finish = threading.Event()
        self.closed = threading.Event()

    def stream(self, request: AnswerRequest) -> Iterator[str]:
        try:
            deadline = time.monotonic() + WAIT
            while not self.finish.wait(0.02) and time.monotonic() < deadline:
                yield "pan [1] "
        finally:
            self.closed.set()


@dataclass
class Served:
    url: str
    app: FastAPI
    gate: Gate
    talker: Talker

    @property
    def admission(self) -> Admission:
        control: Admission = self.app.state.admission
        return control


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """Starts the real app under uvicorn with the given settings; stops it after the test."""
    servers: list[tuple[uvicorn.Server, threading.Thread, Served]] = []
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}").open()

    def start(**settings: Any) -> Served:
        gate, talker = Gate(), Talker()
        search = SearchService({"vector": gate}, Chunks(), visible=lambda: {"ep1"})
        services = Services(catalog, search, None, answers=AnswerService(search, talker))
        config = Settings(data_dir=tmp_path / "data", worker=False, **settings)
        app = create_app(config, services=lambda _s: services)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        served = Served(f"http://127.0.0.1:{port}", app, gate, talker)
        servers.append((server, thread, served))
        wait_for(lambda: server.started, WAIT, "uvicorn to start")
        return served

    yield start
    for server, thread, served in servers:
        served.gate.opened.set()  # a failed test lets its blocked requests go at once
        served.talker.finish.set()
        server.should_exit = True
        thread.join(timeout=WAIT)
    catalog.close()


def _busy(response: httpx.Response, retry_after: str = "1") -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == retry_after


def test_a_full_server_refuses_with_503_and_still_answers_probes(serve: Any) -> None:
    served: Served = serve(max_inflight=2, admission_wait_ms=0)
    with ThreadPoolExecutor(2) as clients:
        held = [
            clients.submit(httpx.get, f"{served.url}/api/search?q=wait", timeout=WAIT)
            for _ in range(2)
        ]
        served.gate.wait_inside(2)
        refused = httpx.get(f"{served.url}/api/search?q=pan")
        _busy(refused)
        assert "busy" in refused.json()["detail"]
        chat = httpx.post(f"{served.url}/api/chat", json={"question": "¿pan?", "stream": False})
        _busy(chat)
        openai = httpx.post(
            f"{served.url}/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "¿pan?"}]},
        )
        _busy(openai)
        assert openai.json()["error"]["code"] == 503  # OpenAI's envelope under /v1
        # never refused: probes, browsing, the model list
        assert httpx.get(f"{served.url}/healthz").json()["status"] == "ok"
        assert httpx.get(f"{served.url}/api/episodes").status_code == 200
        assert httpx.get(f"{served.url}/v1/models").status_code == 200
        served.gate.opened.set()
        assert [h.result(WAIT).status_code for h in held] == [200, 200]
    wait_for(lambda: served.admission.held == 0, WAIT, "the slots to come back")
    assert httpx.get(f"{served.url}/api/search?q=pan").status_code == 200


def test_a_burst_waits_in_line_for_a_slot(serve: Any) -> None:
    served: Served = serve(max_inflight=1, admission_wait_ms=10_000)
    with ThreadPoolExecutor(2) as clients:
        first = clients.submit(httpx.get, f"{served.url}/api/search?q=wait", timeout=WAIT)
        served.gate.wait_inside(1)
        second = clients.submit(httpx.get, f"{served.url}/api/search?q=pan", timeout=WAIT)
        wait_for(lambda: served.admission.waiting == 1, WAIT, "the second to wait in line")
        full = httpx.get(f"{served.url}/api/search?q=pan")  # the line is full: no wait
        _busy(full, retry_after="10")  # the configured wait, rounded up
        served.gate.opened.set()
        assert first.result(WAIT).status_code == 200
        assert second.result(WAIT).status_code == 200


def test_failed_requests_give_their_slot_back(serve: Any) -> None:
    served: Served = serve(max_inflight=1, admission_wait_ms=0)
    for _ in range(3):
        failed = httpx.get(f"{served.url}/api/search?q=boom")
        assert failed.status_code == 503 and "unreadable" in failed.json()["detail"]
        assert "retry-after" not in failed.headers  # a failure, not a full server
    too_long = httpx.get(f"{served.url}/api/search", params={"q": "x" * 2000})
    assert too_long.status_code == 422
    assert served.admission.held == 0
    assert httpx.get(f"{served.url}/api/search?q=pan").status_code == 200


def test_a_stream_holds_its_slot_until_it_ends(serve: Any) -> None:
    served: Served = serve(max_inflight=1, admission_wait_ms=0)
    with httpx.stream("POST", f"{served.url}/api/chat", json={"question": "¿pan?"}) as stream:
        lines = stream.iter_lines()
        assert next(line for line in lines if line.startswith("event: token"))
        _busy(httpx.get(f"{served.url}/api/search?q=pan"))
        served.talker.finish.set()
        assert any(line.startswith("event: done") for line in lines)
    wait_for(lambda: served.admission.held == 0, WAIT, "the stream's slot to come back")
    assert httpx.get(f"{served.url}/api/search?q=pan").status_code == 200


def test_a_client_leaving_mid_stream_gives_the_slot_back(serve: Any) -> None:
    served: Served = serve(max_inflight=1, admission_wait_ms=0)
    body = {"messages": [{"role": "user", "content": "¿pan?"}], "stream": True}
    with httpx.stream("POST", f"{served.url}/v1/chat/completions", json=body) as stream:
        lines = stream.iter_lines()
        assert next(line for line in lines if "pan [1]" in line)
        assert served.admission.held == 1
    # the client hung up mid-answer: the answer stops and its slot comes back
    assert served.talker.closed.wait(WAIT), "generation went on after the client left"
    assert not served.talker.finish.is_set()
    wait_for(lambda: served.admission.held == 0, WAIT, "the slot to come back")
    assert httpx.get(f"{served.url}/api/search?q=pan").status_code == 200


def test_probes_answer_when_admitted_requests_fill_the_default_threadpool(serve: Any) -> None:
    # anyio lends 40 threads by default; 40 blocked searches would take them all
    served: Served = serve(max_inflight=40, admission_wait_ms=0)
    with ThreadPoolExecutor(40) as clients:
        held = [
            clients.submit(httpx.get, f"{served.url}/api/search?q=wait", timeout=WAIT)
            for _ in range(40)
        ]
        try:
            served.gate.wait_inside(40)
            _busy(httpx.get(f"{served.url}/api/search?q=pan"))
            assert httpx.get(f"{served.url}/healthz", timeout=WAIT / 2).status_code == 200
        finally:
            served.gate.opened.set()
        assert all(h.result(WAIT).status_code == 200 for h in held)
