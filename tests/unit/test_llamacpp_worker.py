"""The local model (llama.cpp) behind a fake ``llama_cpp``: generation on a worker of its own,
readers that stop reading never hold the model, a bounded line (503 + Retry-After past it), and
probes and searches answered while answers are written (issue 13)."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import types
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from castgraph.api import _indexes
from castgraph.api.app import create_app
from castgraph.api.services import Services
from castgraph.catalog import SqlCatalog
from castgraph.core.errors import GenerationError
from castgraph.core.models import AnswerRequest, Chunk, Citation, ContextBlock
from castgraph.core.settings import Settings
from castgraph.retrieval.base import Hit, SearchFilters
from castgraph.retrieval.embeddings import make_embedder
from castgraph.retrieval.generation.llamacpp import LlamaCppGenerator
from castgraph.retrieval.search import SearchService
from tests.netutil import free_port
from tests.procs import wait_for

WAIT = 20.0  # the longest anything here waits: a failure, never a hang
TOKEN = "pan [1] "


class World:
    """What the fake model does: tokens of ``size`` characters, each only once ``gate`` is
    open; how many generations run at once (one model: never more than one)."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.size = len(TOKEN)
        self.active = self.peak = self.closed = 0
        self._lock = threading.Lock()

    def chunks(self, max_tokens: int) -> Iterator[dict[str, Any]]:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            for _ in range(max_tokens):
                assert self.gate.wait(WAIT), "the gate never opened"
                text = (TOKEN * (self.size // len(TOKEN) + 1))[: self.size]
                yield {"choices": [{"delta": {"content": text}}]}
        finally:
            with self._lock:
                self.active -= 1
                self.closed += 1


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> World:
    """A fake ``llama_cpp`` module whose model streams what ``World`` says."""
    found = World()

    class Llama:
        def __init__(self, **_kwargs: Any) -> None:
            pass

        def create_chat_completion(self, *, max_tokens: int, **_kwargs: Any) -> Any:
            return found.chunks(max_tokens)

    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(Llama=Llama))
    (tmp_path / "model.gguf").write_bytes(b"GGUF" + bytes(64))
    return found


def _request() -> AnswerRequest:
    citation = Citation("ep1", "Pan", "u", "u#t=1", "Ana", 1.0, 9.0, "Tomás vende pan.")
    return AnswerRequest("¿pan?", "es", (ContextBlock(1, citation),))


def _within(seconds: float, work: Any) -> Any:
    """``work()``'s result, or an AssertionError when it has not returned in ``seconds``."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert result, f"still blocked after {seconds:g} s"
    return result[0]


# --- the generator on its own ---


def test_a_reader_that_stops_reading_does_not_hold_the_model(world: World, tmp_path: Path) -> None:
    generator = LlamaCppGenerator(tmp_path / "model.gguf", max_tokens=20)
    first = generator.stream(_request())
    second = None
    try:
        assert next(first) == TOKEN  # ... and this reader reads no more (its stream stays open)
        second = generator.stream(_request())
        assert _within(WAIT / 2, lambda: next(second)) == TOKEN
        assert "".join(second) == TOKEN * 19
    finally:
        first.close()  # (before the fix, this lets a blocked reader go)
        if second is not None:
            with contextlib.suppress(ValueError):  # still being stepped by a blocked reader
                second.close()
    assert world.peak == 1


def test_answers_past_the_line_are_refused_at_once_and_a_leaver_frees_its_place(
    world: World, tmp_path: Path
) -> None:
    from castgraph.core.errors import BusyError

    generator = LlamaCppGenerator(tmp_path / "model.gguf", max_tokens=3, queue=1)
    world.gate.clear()
    writing, waiting = generator.stream(_request()), generator.stream(_request())
    with pytest.raises(BusyError, match="busy") as refused:
        generator.stream(_request())
    assert refused.value.retry_after >= 1 and isinstance(refused.value, GenerationError)
    waiting.close()  # its reader left the line: its place is free, and it is never generated
    again = generator.stream(_request())
    world.gate.set()
    assert _within(WAIT, lambda: "".join(writing)) == TOKEN * 3
    assert _within(WAIT, lambda: "".join(again)) == TOKEN * 3
    wait_for(lambda: world.closed == 2, WAIT, "both generations to end")
    assert world.peak == 1
    generator.close()


def test_a_reader_that_leaves_stops_its_generation(world: World, tmp_path: Path) -> None:
    generator = LlamaCppGenerator(tmp_path / "model.gguf", max_tokens=10_000)
    stream = generator.stream(_request())
    assert next(stream) == TOKEN
    stream.close()
    wait_for(lambda: world.closed == 1, WAIT, "the generation to stop")
    assert "".join(generator.stream(_request()))[:8] == TOKEN  # the model is free again
    generator.close()


# --- the app under uvicorn ---


class Retriever:
    def search(self, query: str, k: int, filters: SearchFilters) -> list[Hit]:
        return [Hit("a", 1.0)]


class Chunks:
    def get(self, ids: Any) -> dict[str, Chunk]:
        text, url = "Tomás vende pan en Tandil.", "https://example.org/pan.mp3"
        return {
            i: Chunk(i, "ep1", 0, 1.0, 9.0, text, ("Ana",), "es", "Pan", url, date(2024, 1, 1))
            for i in ids
        }


@pytest.fixture
def served(world: World, tmp_path: Path) -> Iterator[str]:
    """The real app with the llama.cpp generator (fake model): at most 8 searches and answers
    at once, one answer written and one waiting."""
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}").open()
    settings = Settings(
        data_dir=tmp_path / "data",
        worker=False,
        max_inflight=8,
        admission_wait_ms=0,
        generator="llamacpp",
        llm_model_path=tmp_path / "model.gguf",
        llm_max_tokens=160,
        llm_queue=1,
    )
    search = SearchService({"vector": Retriever()}, Chunks(), visible=lambda: {"ep1"})
    embedder = make_embedder("hash", models_dir=tmp_path)
    answers = _indexes.answers(settings, search, embedder, None)
    services = Services(catalog, search, None, answers=answers)
    app = create_app(settings, services=lambda _s: services)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, WAIT, "uvicorn to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        world.gate.set()
        server.should_exit = True
        thread.join(timeout=WAIT)
        catalog.close()


def _first_token(url: str) -> str:
    with httpx.stream("POST", f"{url}/api/chat", json={"question": "¿pan?"}, timeout=WAIT) as r:
        return next(line for line in r.iter_lines() if line.startswith("event: token"))


def test_a_client_that_stops_reading_leaves_the_model_to_the_others(
    world: World, served: str
) -> None:
    world.size = 64 * 1024  # 160 tokens: 10 MiB, more than the sockets can hold unread
    with socket.socket() as stalled:
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(("127.0.0.1", int(served.rsplit(":", 1)[1])))
        body = b'{"question": "\\u00bfpan?"}'
        stalled.sendall(
            b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        stalled.settimeout(WAIT)
        received = b""
        while b"event: token" not in received and len(received) < 65536:
            received += stalled.recv(4096)
        assert b"event: token" in received  # and this client reads no more
        assert _within(WAIT, lambda: _first_token(served)).startswith("event: token")
        assert httpx.get(f"{served}/healthz", timeout=WAIT).status_code == 200
        assert httpx.get(f"{served}/api/search?q=pan", timeout=WAIT).status_code == 200
    assert world.peak == 1


def test_chats_past_the_line_get_503_while_probes_and_searches_answer(
    world: World, served: str
) -> None:
    world.gate.clear()  # the first answer is being written, slowly
    question = {"question": "¿pan?"}
    with (
        ThreadPoolExecutor(2) as clients,
        httpx.stream("POST", f"{served}/api/chat", json=question, timeout=WAIT) as writing,
        httpx.stream("POST", f"{served}/api/chat", json=question, timeout=WAIT) as waiting,
    ):
        refused = httpx.post(f"{served}/api/chat", json={**question, "stream": False})
        assert refused.status_code == 503, refused.text
        assert int(refused.headers["retry-after"]) >= 1 and "busy" in refused.json()["detail"]
        openai = httpx.post(
            f"{served}/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "¿pan?"}], "stream": True},
            timeout=WAIT,
        )
        assert openai.status_code == 503 and "retry-after" in openai.headers
        assert openai.json()["error"]["code"] == 503
        assert httpx.get(f"{served}/healthz", timeout=WAIT).status_code == 200
        assert httpx.get(f"{served}/api/search?q=pan", timeout=WAIT).status_code == 200
        world.gate.set()
        done = [clients.submit(lambda r: list(r.iter_lines()), r) for r in (writing, waiting)]
        for lines in done:
            assert "event: done" in lines.result(WAIT)
    assert world.peak == 1
