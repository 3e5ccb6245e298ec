"""One mapping from castgraph's exception tree to HTTP: ``/api`` and ``/v1`` give the same status
for the same error (``/v1`` in OpenAI's envelope), unexpected errors are JSON too, and a failure
in the middle of a stream ends it with an error event (logged) instead of cutting it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from castgraph.api.app import create_app
from castgraph.api.services import Services
from castgraph.catalog import SqlCatalog
from castgraph.core.errors import (
    CastgraphError,
    DependencyError,
    GenerationError,
    InputError,
    LockedError,
    MediaError,
    ModelError,
    NotFoundError,
    SourceError,
    StorageError,
    UnsafeURLError,
)
from castgraph.core.models import AnswerRequest
from castgraph.core.settings import Settings
from castgraph.retrieval.answer import AnswerEvent
from castgraph.retrieval.base import SearchFilters

EXPECTED: list[tuple[Exception, int]] = [
    (InputError("the question is empty"), 422),
    (UnsafeURLError("http://10.0.0.1 is private"), 422),
    (MediaError("not a media file"), 422),
    (NotFoundError("no episode 'abc'"), 404),
    (LockedError("held by castgraph ingest"), 409),
    (SourceError("the video is private"), 502),
    (DependencyError("chromadb", "vector"), 503),
    (ModelError("model files are missing"), 503),
    (StorageError("catalog error: disk I/O error"), 503),
    (GenerationError("the LLM endpoint is unreachable"), 503),
    (CastgraphError("something castgraph did not classify"), 500),
]
QUESTION = {"question": "¿pan?", "stream": False}
COMPLETION = {"messages": [{"role": "user", "content": "¿pan?"}]}


class FailingAnswers:
    """``prepare`` raises ``before``; ``generate`` yields a context and a token, then raises
    ``during`` (when set)."""

    def __init__(self) -> None:
        self.before: BaseException | None = None
        self.during: BaseException | None = None

    def prepare(
        self, question: str, history: Sequence[Any] = (), filters: SearchFilters | None = None
    ) -> AnswerRequest:
        if self.before is not None:
            raise self.before
        return AnswerRequest(question=question, language="es", blocks=())

    def generate(self, request: AnswerRequest) -> Iterator[AnswerEvent]:
        yield AnswerEvent("context", sources=())
        yield AnswerEvent("token", "Según ")
        if self.during is not None:
            raise self.during
        yield AnswerEvent("done", info={"fallback": False})


class NoSearch:
    def search(self, query: str, k: int, filters: SearchFilters | None = None) -> list[Any]:
        raise StorageError("the keyword index is unreadable")

    def search_outcome(self, query: str, k: int, filters: SearchFilters | None = None) -> Any:
        return self.search(query, k, filters)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[TestClient, FailingAnswers]]:
    catalog = SqlCatalog(f"sqlite:///{tmp_path / 'catalog.db'}").open()
    answers = FailingAnswers()
    services = Services(catalog, NoSearch(), None, [catalog.close], answers=answers)  # type: ignore[arg-type]
    app = create_app(Settings(data_dir=tmp_path / "data"), services=lambda _s: services)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, answers


def _name(value: object) -> str:
    return type(value).__name__ if isinstance(value, Exception) else str(value)


@pytest.mark.parametrize(("error", "status"), EXPECTED, ids=_name)
def test_api_and_v1_give_the_same_status_for_each_error(
    rig: tuple[TestClient, FailingAnswers], error: Exception, status: int
) -> None:
    client, answers = rig
    answers.before = error
    api = client.post("/api/chat", json=QUESTION)
    v1 = client.post("/v1/chat/completions", json=COMPLETION)
    assert api.status_code == status and api.json() == {"detail": str(error)}
    assert v1.status_code == status
    envelope = v1.json()["error"]
    assert envelope["code"] == status and envelope["message"] == str(error)
    kind = "server_error" if status >= 500 else "invalid_request_error"
    assert envelope["type"] == ("not_found_error" if status == 404 else kind)


def test_an_unexpected_error_is_a_json_500_without_internals(
    rig: tuple[TestClient, FailingAnswers],
) -> None:
    client, answers = rig
    answers.before = RuntimeError("secret internals at /srv/castgraph/x.py")
    api = client.post("/api/chat", json=QUESTION)
    v1 = client.post("/v1/chat/completions", json=COMPLETION)
    assert api.status_code == v1.status_code == 500
    assert "internal server error" in api.json()["detail"]
    assert v1.json()["error"]["code"] == 500 and v1.json()["error"]["type"] == "server_error"
    assert "secret" not in api.text + v1.text


def test_validation_and_http_errors_share_the_v1_envelope(
    rig: tuple[TestClient, FailingAnswers],
) -> None:
    client, _ = rig
    api = client.post("/api/chat", json={"question": ""})
    v1 = client.post("/v1/chat/completions", json={"messages": "nope"})
    assert api.status_code == v1.status_code == 422
    assert "question" in api.json()["detail"] and api.json()["errors"]
    assert v1.json()["error"]["code"] == 422 and "messages" in v1.json()["error"]["message"]
    search = client.get("/api/search", params={"q": "pan"})
    assert search.status_code == 503 and search.json() == {
        "detail": "the keyword index is unreadable"
    }


def _sse(body: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (StorageError("the vector index went away"), 503, "the vector index went away"),
        (NotFoundError("no episode 'abc'"), 404, "no episode 'abc'"),
        (KeyError("boom"), 500, "internal server error"),
    ],
    ids=["storage", "not-found", "unexpected"],
)
def test_a_failure_mid_stream_ends_with_an_error_event(
    rig: tuple[TestClient, FailingAnswers],
    caplog: pytest.LogCaptureFixture,
    error: Exception,
    status: int,
    message: str,
) -> None:
    client, answers = rig
    answers.during = error
    with caplog.at_level(logging.ERROR, logger="castgraph"):
        response = client.post("/api/chat", json={"question": "¿pan?"})
    assert response.status_code == 200
    events = _sse(response.text)
    assert [kind for kind, _ in events] == ["context", "token", "error"]
    assert events[-1][1]["status"] == status and message in events[-1][1]["message"]
    [record] = [r for r in caplog.records if r.getMessage() == "stream failed"]
    assert record.path == "/api/chat" and record.status == status  # type: ignore[attr-defined]
    assert record.error_type == type(error).__name__  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("error", "status"),
    [(StorageError("the vector index went away"), 503), (KeyError("boom"), 500)],
    ids=["storage", "unexpected"],
)
def test_a_failure_mid_v1_stream_ends_with_an_error_chunk_and_done(
    rig: tuple[TestClient, FailingAnswers], error: Exception, status: int
) -> None:
    client, answers = rig
    answers.during = error
    response = client.post("/v1/chat/completions", json={**COMPLETION, "stream": True})
    assert response.status_code == 200
    data = [line.removeprefix("data: ") for line in response.text.splitlines() if line]
    assert data[-1] == "[DONE]"
    final = json.loads(data[-2])
    assert final["error"]["code"] == status and final["error"]["type"] == "server_error"
    assert json.loads(data[1])["choices"][0]["delta"]["content"] == "Según "


def test_a_generation_error_event_mid_v1_stream_also_ends_with_done(
    rig: tuple[TestClient, FailingAnswers],
) -> None:
    client, answers = rig
    answers.during = None
    original = answers.generate

    def failing(request: AnswerRequest) -> Iterator[AnswerEvent]:
        yield from list(original(request))[:2]
        yield AnswerEvent("error", "the LLM endpoint is unreachable", info={"status": 503})

    answers.generate = failing  # type: ignore[method-assign]
    response = client.post("/v1/chat/completions", json={**COMPLETION, "stream": True})
    data = [line.removeprefix("data: ") for line in response.text.splitlines() if line]
    assert data[-1] == "[DONE]" and json.loads(data[-2])["error"]["code"] == 503
