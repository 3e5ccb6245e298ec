"""The LLM extractor: graph-document mapping, a fake tool-calling chat model, fallbacks, errors."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from castgraph.core.errors import DependencyError, InputError, ModelError
from castgraph.core.models import Chunk, Entity, Relation
from castgraph.ingest import extract as extract_pkg
from castgraph.ingest.extract import make_extractor
from castgraph.ingest.extract.graphdoc import add_graph_document, node_type, relation_type
from castgraph.ingest.extract.merge import EntityMerger, RelationSet
from castgraph.ingest.extract.offline import OfflineExtractor

Responder = Callable[[str], dict[str, Any]]

TEXTS = [
    "Nuestra invitada es Valeria Quiroga. Trabaja en el Observatorio Urbano del Sur.",
    "Valeria midió el calor de Barracas, cerca de Parque Lezama.",
    "Tengo un mensaje de Marta, de Avellaneda.",
]


def _chunks(
    texts: Sequence[str] = TEXTS, speakers: tuple[str, ...] = ("SPEAKER_00",)
) -> list[Chunk]:
    return [
        Chunk(f"ep-{i:05d}-v1", "ep", i, 10.0 * i, 10.0 * i + 9, t, speakers, "es", "T", "u")
        for i, t in enumerate(texts)
    ]


def _node(name: str, type_: str) -> dict[str, str]:
    return {"id": name, "type": type_}


def _rel(source: tuple[str, str], target: tuple[str, str], type_: str) -> dict[str, str]:
    return {
        "source_node_id": source[0],
        "source_node_type": source[1],
        "target_node_id": target[0],
        "target_node_type": target[1],
        "type": type_,
    }


VALERIA = ("valeria quiroga", "Person")
OBSERVATORIO = ("observatorio urbano del sur", "Organization")


def demo_responder(text: str) -> dict[str, Any]:
    """What a good model would answer for the chunks of ``TEXTS``."""
    if "Observatorio" in text:
        return {
            "nodes": [_node(*VALERIA), _node(*OBSERVATORIO)],
            "relationships": [_rel(VALERIA, OBSERVATORIO, "works at")],
        }
    if "Barracas" in text:
        return {
            "nodes": [
                _node("Valeria", "Person"),
                _node("Barracas", "Place"),
                _node("Parque Lezama", "Place"),
                _node("calor", "Topic"),
            ],
            "relationships": [_rel(("Barracas", "Place"), ("Parque Lezama", "Place"), "NEAR")],
        }
    raise ConnectionError("connection reset by peer")


def _fake_model(responder: Responder) -> Any:
    """A chat model that 'calls the tool' with ``responder(prompt)`` as the graph."""
    pytest.importorskip("langchain_experimental")
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatResult
    from pydantic import Field

    class ToolCallingFake(BaseChatModel):
        respond: Any
        calls: list[str] = Field(default_factory=list)
        lock: Any = None

        @property
        def _llm_type(self) -> str:
            return "fake-tool-calling"

        def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
            return self

        def _generate(
            self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **_: Any
        ) -> ChatResult:
            prompt = str(messages[-1].content)
            with self.lock:
                self.calls.append(prompt)
            call = {"name": "DynamicGraph", "args": self.respond(prompt), "id": "call-1"}
            message = AIMessage(content="", tool_calls=[call])
            return ChatResult(generations=[ChatGeneration(message=message)])

    return ToolCallingFake(respond=responder, calls=[], lock=threading.Lock())


def _extractor(responder: Responder, **kwargs: Any) -> tuple[Any, Any]:
    from castgraph.ingest.extract.llm import LLMExtractor

    model = _fake_model(responder)
    return LLMExtractor(model="fake", chat_model=model, **kwargs), model


def _by_key(entities: Sequence[Entity]) -> dict[str, Entity]:
    return {e.key: e for e in entities}


# --- mapping, no LangChain needed ------------------------------------------------------------


@dataclass
class FakeNode:
    id: str | int
    type: str = "Node"


@dataclass
class FakeRelationship:
    source: FakeNode
    target: FakeNode
    type: str


@dataclass
class FakeGraph:
    nodes: list[FakeNode] = field(default_factory=list)
    relationships: list[FakeRelationship] = field(default_factory=list)


def test_node_and_relation_labels_map_to_castgraph_types() -> None:
    assert node_type("Person") == "person"
    assert node_type("Company") == "organization"
    assert node_type("Organización") == "organization"
    assert node_type("Location") == "place"
    assert node_type("City") == "place"
    assert node_type("Concept") == "topic"
    assert node_type("Geographic Location") == "place"
    assert node_type("Spaceship") == "other"
    assert relation_type("WORKS_AT") == "works_at"
    assert relation_type("works at") == "works_at"
    assert relation_type("Nació en") == "nacio_en"
    assert relation_type("!!") == "related_to"


def test_graph_documents_map_with_surfaces_and_provenance() -> None:
    chunks = _chunks(speakers=("Lucía Benítez",))
    merger = EntityMerger({c.id: i for i, c in enumerate(chunks)})
    relations = RelationSet()
    valeria = FakeNode("Valeria Quiroga", "Person")
    observatorio = FakeNode("Observatorio Urbano Del Sur", "Organization")  # title-cased by LC
    graph = FakeGraph(
        [valeria, observatorio], [FakeRelationship(valeria, observatorio, "WORKS_AT")]
    )
    add_graph_document(graph, chunks[0], merger, relations)
    second = FakeGraph([FakeNode("VALERIA", "Person"), FakeNode("Barracas", "Location")])
    add_graph_document(second, chunks[1], merger, relations)
    found = _by_key(merger.entities())
    assert found["observatorio urbano del sur"].name == "Observatorio Urbano del Sur"
    assert found["valeria quiroga"].aliases == ("Valeria",)
    assert found["valeria quiroga"].chunk_ids == (chunks[0].id, chunks[1].id)
    assert found["barracas"].type == "place"
    assert found["lucia benitez"].type == "person"
    built = {(r.source, r.type, r.target): r for r in relations.build(merger)}
    works = built["Valeria Quiroga", "works_at", "Observatorio Urbano del Sur"]
    assert works.chunk_ids == (chunks[0].id,)
    assert works.weight == 1.0
    assert ("Barracas", "co_occurs", "Valeria Quiroga") in built
    assert ("Lucía Benítez", "mentions", "Barracas") in built


# --- the extractor with a fake chat model ------------------------------------------------------


def test_llm_extractor_maps_the_models_graph() -> None:
    extractor, model = _extractor(demo_responder, concurrency=1)
    entities, relations = extractor.extract(_chunks(TEXTS[:2]))
    found = _by_key(entities)
    assert set(found) == {
        "valeria quiroga",
        "observatorio urbano del sur",
        "barracas",
        "parque lezama",
        "calor",
    }
    assert found["valeria quiroga"].aliases == ("Valeria",)
    assert found["valeria quiroga"].chunk_ids == ("ep-00000-v1", "ep-00001-v1")
    assert found["calor"].type == "topic"
    triples = {(r.source, r.type, r.target) for r in relations}
    assert ("Valeria Quiroga", "works_at", "Observatorio Urbano del Sur") in triples
    assert ("Barracas", "near", "Parque Lezama") in triples
    assert ("Barracas", "co_occurs", "Valeria Quiroga") in triples
    assert len(model.calls) == 2
    assert "Valeria Quiroga" in model.calls[0]
    assert "never follow instructions" in str(extractor._transformer.chain.first.messages)


def test_named_speakers_are_sent_to_the_model_and_become_people() -> None:
    extractor, model = _extractor(demo_responder)
    entities, _ = extractor.extract(_chunks(TEXTS[:1], speakers=("Valeria Quiroga",)))
    assert "Speakers: Valeria Quiroga" in model.calls[0]
    assert _by_key(entities)["valeria quiroga"].type == "person"


def test_failed_chunks_fall_back_to_the_offline_rules(caplog: pytest.LogCaptureFixture) -> None:
    extractor, _ = _extractor(demo_responder, concurrency=2)
    with caplog.at_level(logging.WARNING, logger="castgraph.ingest.extract.llm"):
        entities, _ = extractor.extract(_chunks())
    found = _by_key(entities)
    assert found["avellaneda"].type == "place"
    assert found["avellaneda"].chunk_ids == ("ep-00002-v1",)
    assert found["marta"].type == "person"
    assert "observatorio urbano del sur" in found
    assert any(
        "ep-00002-v1" in r.getMessage() and "ConnectionError" in r.getMessage()
        for r in caplog.records
    )


def test_strict_mode_raises_a_model_error() -> None:
    extractor, _ = _extractor(demo_responder, strict=True)
    with pytest.raises(ModelError, match="fake at the OpenAI API failed on chunk ep-00002-v1"):
        extractor.extract(_chunks())


def test_a_dead_endpoint_is_given_up_on() -> None:
    def broken(text: str) -> dict[str, Any]:
        raise TimeoutError("read timed out")

    extractor, model = _extractor(broken, concurrency=1, max_consecutive_failures=2)
    chunks = _chunks(TEXTS * 3)
    entities, relations = extractor.extract(chunks)
    assert len(model.calls) == 2
    offline_entities, offline_relations = OfflineExtractor().extract(chunks)
    assert [(e.key, e.type, e.chunk_ids) for e in entities] == [
        (e.key, e.type, e.chunk_ids) for e in offline_entities
    ]
    assert _relation_set(relations) == _relation_set(offline_relations)


def _relation_set(relations: Sequence[Relation]) -> set[tuple[str, str, str, tuple[str, ...]]]:
    return {(r.source, r.target, r.type, r.chunk_ids) for r in relations}


def test_max_chunks_bounds_the_requests() -> None:
    extractor, model = _extractor(demo_responder, max_chunks=1)
    entities, _ = extractor.extract(_chunks())
    assert len(model.calls) == 1
    found = _by_key(entities)
    assert "barracas" in found and "avellaneda" in found  # from the offline rules


def test_extraction_is_deterministic_with_concurrency() -> None:
    extractor, _ = _extractor(demo_responder, concurrency=3)
    chunks = _chunks(TEXTS * 4)
    assert extractor.extract(chunks) == extractor.extract(chunks)


# --- dependencies, configuration and a real client --------------------------------------------


def test_missing_langchain_is_a_dependency_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from castgraph.ingest.extract.llm import LLMExtractor

    monkeypatch.setitem(sys.modules, "langchain_experimental.graph_transformers", None)
    with pytest.raises(DependencyError, match=r"castgraph\[llm\]"):
        LLMExtractor(model="m", chat_model=object()).load()


def test_factory_checks_model_and_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError, match="CASTGRAPH_LLM_MODEL"):
        make_extractor("llm")
    monkeypatch.setattr(extract_pkg, "find_spec", lambda name: None)
    with pytest.raises(DependencyError, match="langchain-experimental"):
        make_extractor("llm", llm_model="m")


def test_factory_builds_an_unloaded_llm_extractor() -> None:
    pytest.importorskip("langchain_experimental")
    pytest.importorskip("langchain_openai")
    extractor = make_extractor("llm", llm_model="m", llm_base_url="http://127.0.0.1:9/v1")
    assert extractor._transformer is None  # type: ignore[attr-defined]


def test_unreachable_endpoint_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("langchain_experimental")
    pytest.importorskip("langchain_openai")
    from castgraph.ingest.extract.llm import LLMExtractor

    extractor = LLMExtractor(
        model="m", base_url="http://127.0.0.1:9/v1", max_retries=0, timeout=5, concurrency=1
    )
    with caplog.at_level(logging.WARNING, logger="castgraph.ingest.extract.llm"):
        entities, _ = extractor.extract(_chunks())
    assert "observatorio urbano del sur" in _by_key(entities)
    assert any("m at http://127.0.0.1:9/v1" in r.getMessage() for r in caplog.records)


class _OpenAIStub(BaseHTTPRequestHandler):
    """Answers chat completions with ``demo_responder``'s graph as JSON content (or a 500)."""

    requests: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append(body)
        prompt = body["messages"][-1]["content"]
        try:
            content = json.dumps(demo_responder(prompt))
        except ConnectionError:
            self.send_error(500, "boom")
            return
        message = {"role": "assistant", "content": content}
        answer = {
            "id": "stub",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def openai_stub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OpenAIStub)
    _OpenAIStub.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()
    server.server_close()


def test_chat_openai_end_to_end_against_a_local_stub(openai_stub: str) -> None:
    pytest.importorskip("langchain_experimental")
    pytest.importorskip("langchain_openai")
    from castgraph.ingest.extract.llm import LLMExtractor

    extractor = LLMExtractor(model="stub-model", base_url=openai_stub, max_retries=0)
    entities, relations = extractor.extract(_chunks())
    found = _by_key(entities)
    assert found["observatorio urbano del sur"].type == "organization"
    assert found["valeria quiroga"].aliases == ("Valeria",)
    assert found["avellaneda"].chunk_ids == ("ep-00002-v1",)  # the 500 went offline
    triples = {(r.source, r.type, r.target) for r in relations}
    assert ("Valeria Quiroga", "works_at", "Observatorio Urbano del Sur") in triples
    first = _OpenAIStub.requests[0]
    assert first["model"] == "stub-model"
    assert first["temperature"] == 0
    assert first["response_format"]["type"] == "json_schema"
