"""Mapping LangChain graph documents (nodes and relationships of one chunk) to castgraph's model.

Works on any objects shaped like ``langchain_community.graphs.graph_document.GraphDocument``, so
it needs no LangChain import. The graph transformer title-cases node ids ("Observatorio Urbano
Del Sur"); the form written in the chunk is recovered when the name occurs there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from castgraph.core.models import Chunk
from castgraph.core.text import entity_key, fold
from castgraph.ingest.extract.candidates import tokenize
from castgraph.ingest.extract.lexicon import words
from castgraph.ingest.extract.merge import EntityMerger, RelationSet, real_speakers, relate_chunk

__all__ = ["GraphDocumentLike", "add_graph_document", "node_type", "relation_type"]

_TYPES: dict[str, frozenset[str]] = {
    "person": words(
        "person people human individual persona personaje character speaker host guest author "
        "scientist researcher artist politician"
    ),
    "organization": words(
        "organization organisation organizacion company empresa institution institucion "
        "university universidad business corporation agency group team club band ngo "
        "government party school lab laboratory bakery panaderia cooperative brand "
        "publisher media"
    ),
    "place": words(
        "place location lugar city ciudad country pais region neighborhood neighbourhood barrio "
        "area state province provincia street calle park parque market mercado building venue "
        "landmark address continent town village geographic_location"
    ),
    "topic": words(
        "topic tema concept concepto subject theme idea field phenomenon technology science "
        "process activity method practice issue problem"
    ),
}
_NON_WORD = re.compile(r"[^a-z0-9]+")


class NodeLike(Protocol):
    """What the mapping reads from a graph node."""

    @property
    def id(self) -> str | int: ...

    @property
    def type(self) -> str: ...


class RelationshipLike(Protocol):
    """What the mapping reads from a graph relationship."""

    @property
    def source(self) -> NodeLike: ...

    @property
    def target(self) -> NodeLike: ...

    @property
    def type(self) -> str: ...


class GraphDocumentLike(Protocol):
    """What the mapping reads from a graph document."""

    @property
    def nodes(self) -> Sequence[NodeLike]: ...

    @property
    def relationships(self) -> Sequence[RelationshipLike]: ...


def node_type(label: str) -> str:
    """castgraph's entity type for an LLM node label ("Company" → "organization")."""
    folded = _NON_WORD.sub("_", fold(label)).strip("_")
    for type_, labels in _TYPES.items():
        if folded in labels or folded.replace("_", "") in labels:
            return type_
    return "other"


def relation_type(label: str) -> str:
    """A relation label in castgraph's form: folded snake case ("WORKS AT" → "works_at")."""
    return _NON_WORD.sub("_", fold(label)).strip("_") or "related_to"


def add_graph_document(
    document: GraphDocumentLike, chunk: Chunk, merger: EntityMerger, relations: RelationSet
) -> None:
    """Record one chunk's graph: its nodes, relationships, co-occurrences and speakers."""
    keys: dict[str, tuple[str, str]] = {}

    def add(node: NodeLike) -> str:
        name = str(node.id).strip()
        if name not in keys:
            type_ = node_type(node.type)
            keys[name] = (merger.add(surface_in(chunk.text, name) or name, type_, chunk.id), type_)
        return keys[name][0]

    for node in document.nodes:
        add(node)
    for rel in document.relationships:
        source, target = add(rel.source), add(rel.target)
        relations.add(source, target, relation_type(rel.type), chunk.id)
    speaker_keys = [merger.add(s, "person", chunk.id) for s in real_speakers(chunk)]
    present = [(key, type_) for key, type_ in keys.values() if key]
    relate_chunk(relations, chunk.id, present, [k for k in speaker_keys if k])


def surface_in(text: str, name: str) -> str | None:
    """The form ``name`` takes in ``text`` (same words up to case and accents), if present."""
    target = entity_key(name).split()
    if not target:
        return None
    tokens = tokenize(text)
    keys = [entity_key(t.text) for t in tokens]
    size = len(target)
    for i in range(len(tokens) - size + 1):
        if keys[i : i + size] == target:
            return " ".join(text[tokens[i].start : tokens[i + size - 1].end].split())
    return None
