"""Per-client rate limits: the token bucket on an injected clock, and 429 + Retry-After on
``/api/search``, ``/api/chat`` and ``/v1/chat/completions`` over a real SQLite catalog."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from castgraph.api.app import create_app
from castgraph.api.ratelimit import RateLimiter, rate_limits
from castgraph.api.services import Services
from castgraph.catalog import SqlCatalog
from castgraph.core.models import Chunk
from castgraph.core.settings import Settings
from castgraph.retrieval.search import SearchService

KEY = "s3cret"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_the_limit_then_one_a_refill_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(6, clock=clock)  # 6 a minute: one token every 10 s
    assert [limiter.acquire("a") for _ in range(6)] == [0.0] * 6
    assert limiter.acquire("a") == pytest.approx(10.0)
    clock.now += 4
    assert limiter.acquire("a") == pytest.approx(6.0)  # a refused request costs nothing
    clock.now += 6
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == pytest.approx(10.0)
    assert limiter.acquire("b") == 0.0  # every client has its own bucket


def test_a_bucket_never_fills_beyond_the_limit() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock=clock)
    limiter.acquire("a")
    clock.now += 3600
    assert [limiter.acquire("a") for _ in range(4)][-1] == pytest.approx(20.0)


def test_idle_clients_are_forgotten_and_memory_is_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(10, clock=clock, max_clients=100)
    for n in range(50):
        limiter.acquire(f"old{n}")
    clock.now += 30
    limiter.acquire("recent")
    assert len(limiter) == 51
    clock.now += 30  # the first 50 idle a full minute: full again, the same as absent
    limiter.acquire("new")
    assert len(limiter) == 2
    for n in range(500):
        limiter.acquire(f"flood{n}")
    assert len(limiter) == 100


def test_concurrent_requests_take_exactly_the_limit() -> None:
    limiter = RateLimiter(50, clock=Clock())  # the clock stands still: no refill
    allowed: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        for _ in range(20):
            ok = limiter.acquire("same") == 0.0
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 160 and sum(allowed) == 50


def test_a_limit_of_zero_turns_that_limit_off(tmp_path: Path) -> None:
    limits = rate_limits(Settings(data_dir=tmp_path, rate_limit_chat=0, rate_limit_search=5))
    assert set(limits) == {"search"} and limits["search"].per_minute == 5
    with pytest.raises(ValueError, match="at least 1"):
        RateLimiter(0)


class _NoChunks:
    def get(self, ids: object) -> dict[str, Chunk]:
        return {}


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[SqlCatalog]:
    opened = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}").open()
    yield opened
    opened.close()


def _app(catalog: SqlCatalog, tmp_path: Path, clock: Clock, **settings: Any) -> FastAPI:
    config = Settings(data_dir=tmp_path / "data", api_key=KEY, **settings)  # type: ignore[arg-type]
    services = Services(catalog, SearchService({}, _NoChunks(), visible=set), None)
    app = create_app(config, services=lambda _s: services)
    app.state.rate_limits = rate_limits(config, clock)
    return app


def test_search_answers_429_with_retry_after(catalog: SqlCatalog, tmp_path: Path) -> None:
    clock = Clock()
    app = _app(catalog, tmp_path, clock, rate_limit_search=2)
    with TestClient(app) as client:
        assert [client.get("/api/search?q=pan").status_code for _ in range(2)] == [200, 200]
        refused = client.get("/api/search?q=pan")
        assert refused.status_code == 429 and refused.headers["retry-after"] == "30"
        assert "at most 2 a minute" in refused.json()["detail"]
        assert client.get("/api/search").status_code == 429  # limited before validation
        # another address has its own bucket
        with TestClient(app, client=("192.0.2.7", 40000)) as other:
            assert other.get("/api/search?q=pan").status_code == 200
        clock.now += 30
        assert client.get("/api/search?q=pan").status_code == 200


def test_the_keys_holder_has_a_bucket_of_its_own(catalog: SqlCatalog, tmp_path: Path) -> None:
    app = _app(catalog, tmp_path, Clock(), rate_limit_search=1)
    with TestClient(app) as client:
        assert client.get("/api/search?q=pan").status_code == 200
        assert client.get("/api/search?q=pan").status_code == 429
        # made-up keys do not buy fresh buckets: the address's stays spent
        for fake in ("a", "b", "clé"):
            sent = [(b"X-API-Key", fake.encode())]
            assert client.get("/api/search?q=pan", headers=sent).status_code == 429
        held = client.get("/api/search?q=pan", headers={"Authorization": f"Bearer {KEY}"})
        assert held.status_code == 200
        assert client.get("/api/search?q=pan", headers={"X-API-Key": KEY}).status_code == 429


def test_chat_and_the_openai_endpoint_share_one_bucket(catalog: SqlCatalog, tmp_path: Path) -> None:
    app = _app(catalog, tmp_path, Clock(), rate_limit_chat=1, rate_limit_search=0)
    with TestClient(app) as client:
        # no answerer is configured here: 503, but the question was counted
        assert client.post("/api/chat", json={"question": "¿pan?"}).status_code == 503
        again = client.post("/api/chat", json={"question": "¿pan?"})
        assert again.status_code == 429 and again.headers["retry-after"] == "60"
        body = {"messages": [{"role": "user", "content": "¿pan?"}]}
        openai = client.post("/v1/chat/completions", json=body)
        assert openai.status_code == 429 and openai.headers["retry-after"] == "60"
        error = openai.json()["error"]  # OpenAI's envelope: its clients show error.message
        assert error["code"] == 429 and "retry in 60 s" in error["message"]
        assert [client.get("/api/search?q=x").status_code for _ in range(5)] == [200] * 5
