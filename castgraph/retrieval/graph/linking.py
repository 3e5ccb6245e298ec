"""Entity linking: which graph entities a question mentions, and how sure each link is.

Stages, each only on the words the earlier ones left unexplained: exact names and aliases
(longest n-gram first), a distinctive word of a longer name ("Pérez" → "José Pérez"), fuzzy
matching on a phonetic folding for misspellings and ASR variants ("Gomes" → "Gómez"), and,
with an embedder, embedding similarity between the remaining n-grams and entity names.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
from rapidfuzz import fuzz, process

from castgraph.core.ports import Embedder
from castgraph.core.text import entity_key, phonetic
from castgraph.retrieval.embeddings.cached import TextVectors
from castgraph.retrieval.graph.base import (
    GraphEntity,
    GraphSearchReader,
    LinkedEntity,
    LinkMethod,
)

MAX_NGRAM = 4
# Folded (accent-free) function words of Spanish and English questions; never linked alone.
_STOPWORD_TEXT = (
    "a al algo como con cual cuando de del dice dijo donde el ella ellos en entre es esta este "
    "habla hablo la las le les lo los me mi o para por que quien se segun sobre su sus un una "
    "uno unos y about an and are as at between by did do does for from how in is it of on or "
    "said say says tell the their this to was what when where which who with"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
CONFIDENCE: dict[LinkMethod, float] = {
    "exact": 1.0,
    "alias": 0.95,
    "partial": 0.7,
    "fuzzy": 0.9,
    "embedding": 0.8,
}
MAX_EMBEDDING_LINKS = 3
MAX_EMBEDDING_NGRAMS = 12  # 32 cost ~10x the rest of graph search for no measured gain
MAX_EMBEDDED_ENTITIES = 20_000
"""Entity names compared with a question's n-grams (the most mentioned that are not hubs): 41
MB of vectors (512 dimensions) and a few ms a question at the cap, in each process that links;
a channel's rare guests and topics must fit."""
NAME_BATCH = 1000
FUZZY_SEEN = 100_000
"""Fuzzy lookups remembered per entity index (version of the graph)."""
GRAM_CACHE = 8192
"""N-gram vectors kept (2 KiB each): questions reuse their words (guests, topics, places), and a
model call per question cost as much as the vector retriever's own query vector."""


@dataclass(slots=True)
class EntityIndex:
    """Lookup tables over the graph's entities, built once per graph version."""

    by_key: dict[str, GraphEntity] = field(default_factory=dict)
    aliases: dict[str, list[str]] = field(default_factory=dict)
    tokens: dict[str, list[str]] = field(default_factory=dict)
    fuzzy_forms: list[str] = field(default_factory=list)
    fuzzy_targets: list[tuple[str, LinkMethod]] = field(default_factory=list)
    # (phonetic form, threshold) -> (score, target number) of its best fuzzy match, or None:
    # words recur across questions, and a match scans every name and alias (~0.4 ms at 100k)
    fuzzy_seen: dict[tuple[str, float], tuple[float, int] | None] = field(default_factory=dict)

    def closest(self, form: str, threshold: float) -> tuple[float, int] | None:
        """(score, target number) of the fuzzy form closest to ``form``, if any reaches
        ``threshold`` (remembered for this index)."""
        if (form, threshold) in self.fuzzy_seen:
            return self.fuzzy_seen[form, threshold]
        best = process.extractOne(form, self.fuzzy_forms, scorer=fuzz.ratio, score_cutoff=threshold)
        found = None if best is None else (float(best[1]), int(best[2]))
        if len(self.fuzzy_seen) < FUZZY_SEEN:
            self.fuzzy_seen[form, threshold] = found
        return found

    @classmethod
    def build(cls, entities: Sequence[GraphEntity]) -> EntityIndex:
        index = cls(by_key={e.key: e for e in entities})
        for entity in entities:
            for alias in entity.aliases:
                alias_key = entity_key(alias)
                if alias_key and alias_key not in index.by_key:
                    index.aliases.setdefault(alias_key, []).append(entity.key)
            words = entity.key.split()
            for word in words if len(words) > 1 else ():
                if len(word) >= 4 and word not in STOPWORDS:
                    index.tokens.setdefault(word, []).append(entity.key)
        surfaces: list[tuple[str, str, LinkMethod]] = [(k, k, "fuzzy") for k in index.by_key]
        surfaces += [(a, k, "fuzzy") for a, keys in index.aliases.items() for k in keys]
        surfaces += [(w, k, "partial") for w, keys in index.tokens.items() for k in keys]
        for surface, key, method in surfaces:
            index.fuzzy_forms.append(phonetic(surface))
            index.fuzzy_targets.append((key, method))
        return index


@dataclass(slots=True)
class _Query:
    """The folded words of a question and which of them a link already explains."""

    words: list[str]
    used: list[bool]
    links: dict[str, LinkedEntity] = field(default_factory=dict)

    def spans(self, max_n: int = MAX_NGRAM, min_n: int = 1) -> Iterator[tuple[int, int, str]]:
        """Unexplained n-grams of ``min_n``..``max_n`` words, longest first."""
        for n in range(min(max_n, len(self.words)), min_n - 1, -1):
            for i in range(len(self.words) - n + 1):
                if not any(self.used[i : i + n]):
                    yield i, i + n, " ".join(self.words[i : i + n])

    def content(self, start: int, end: int, min_chars: int) -> bool:
        """Whether the span is worth approximate matching: no function word at either edge."""
        edge = {self.words[start], self.words[end - 1]}
        return not edge & STOPWORDS and sum(len(w) for w in self.words[start:end]) >= min_chars

    def add(self, entity: GraphEntity, confidence: float, method: LinkMethod, text: str) -> None:
        old = self.links.get(entity.key)
        if old is None or old.confidence < confidence:
            link = LinkedEntity(entity.key, entity.name, entity.type, confidence, method, text)
            self.links[entity.key] = link


class EntityLinker:
    """Links questions to a reader's entities; caches its tables until the reader's version
    changes (the name vectors, by entity name, until a name leaves the compared set)."""

    def __init__(
        self,
        store: GraphSearchReader,
        *,
        embedder: Embedder | None = None,
        fuzzy_threshold: float = 88.0,
        embedding_threshold: float = 0.6,
        max_embedded_entities: int = MAX_EMBEDDED_ENTITIES,
        hub_mentions: int | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.fuzzy_threshold = fuzzy_threshold
        self.embedding_threshold = embedding_threshold
        self.max_embedded_entities = max_embedded_entities
        self.hub_mentions = hub_mentions
        self._index: tuple[str, EntityIndex] | None = None
        self._matrix: _NameMatrix | None = None
        self._grams = TextVectors(embedder, GRAM_CACHE) if embedder is not None else None
        self._lock = threading.Lock()

    def index(self) -> EntityIndex:
        """The lookup tables for the graph as it is now."""
        version = self.store.version()
        cached = self._index
        if cached is None or cached[0] != version:
            cached = (version, EntityIndex.build(self.store.entities()))
            self._index = cached
        return cached[1]

    def link(self, query: str, index: EntityIndex | None = None) -> list[LinkedEntity]:
        """The entities ``query`` mentions, most confident first (against ``index``, by default
        the tables for the graph as it is now)."""
        index = self.index() if index is None else index
        words = entity_key(query).split()
        if not words or not index.by_key:
            return []
        state = _Query(words, [False] * len(words))
        self._exact(state, index)
        # Whole misspelt names before single words, so "Carlos Gomes" links as one name.
        self._fuzzy(state, index, min_n=2)
        self._partial(state, index)
        self._fuzzy(state, index, min_n=1)
        # Embedding is the costly last resort (one model call per question), for the words the
        # cheaper matches left unexplained, capped at MAX_EMBEDDING_NGRAMS to bound its cost.
        if self.embedder is not None and not all(state.used):
            self._embedding(state, index)
        return sorted(state.links.values(), key=lambda link: (-link.confidence, link.key))

    def _exact(self, state: _Query, index: EntityIndex) -> None:
        for start, end, text in state.spans():
            if end - start == 1 and (text in STOPWORDS or len(text) < 2):
                continue
            if text in index.by_key:
                state.add(index.by_key[text], CONFIDENCE["exact"], "exact", text)
            elif text in index.aliases:
                keys = index.aliases[text]
                for key in keys:
                    state.add(index.by_key[key], CONFIDENCE["alias"] / len(keys), "alias", text)
            else:
                continue
            state.used[start:end] = [True] * (end - start)

    def _partial(self, state: _Query, index: EntityIndex) -> None:
        for start, _end, word in state.spans(max_n=1):
            keys = index.tokens.get(word, [])
            if not keys or len(keys) > 3:
                continue  # a word shared by many names identifies none of them
            for key in keys:
                state.add(index.by_key[key], CONFIDENCE["partial"] / len(keys), "partial", word)
            state.used[start] = True

    def _fuzzy(self, state: _Query, index: EntityIndex, *, min_n: int) -> None:
        if not index.fuzzy_forms:
            return
        for start, end, text in state.spans(max_n=MAX_NGRAM - 1, min_n=min_n):
            if any(state.used[start:end]) or not state.content(start, end, min_chars=4):
                continue
            best = index.closest(phonetic(text), self.fuzzy_threshold)
            if best is None:
                continue
            key, method = index.fuzzy_targets[best[1]]
            weight = CONFIDENCE["fuzzy"] if method == "fuzzy" else CONFIDENCE["partial"] * 0.9
            state.add(index.by_key[key], weight * best[0] / 100.0, "fuzzy", text)
            state.used[start:end] = [True] * (end - start)

    def _embedding(self, state: _Query, index: EntityIndex) -> None:
        assert self.embedder is not None and self._grams is not None
        spans = state.spans(max_n=3)
        grams = [(s, e, t) for s, e, t in spans if state.content(s, e, min_chars=3)]
        grams = grams[:MAX_EMBEDDING_NGRAMS]
        keys, matrix = self._entity_matrix(index)
        if not grams or not keys:
            return
        queries = _normalise(self._grams.matrix([t for _, _, t in grams]))
        sims = queries @ matrix
        best: dict[str, tuple[float, str]] = {}
        for row, (_, _, text) in enumerate(grams):
            col = int(np.argmax(sims[row]))
            sim = float(sims[row, col])
            if sim >= self.embedding_threshold and sim > best.get(keys[col], (0.0, ""))[0]:
                best[keys[col]] = (sim, text)
        ranked = sorted(best.items(), key=lambda item: -item[1][0])[:MAX_EMBEDDING_LINKS]
        for key, (sim, text) in ranked:
            state.add(index.by_key[key], CONFIDENCE["embedding"] * sim, "embedding", text)

    def prepare(self, index: EntityIndex | None = None) -> None:
        """Embed the names embedding links compare against now (read-ahead), so that the first
        question needing them does not wait for thousands of names (about 3,500 a second)."""
        if self.embedder is not None:
            self._entity_matrix(self.index() if index is None else index)

    def _entity_matrix(self, index: EntityIndex) -> tuple[list[str], np.ndarray]:
        """Name vectors of the most mentioned entities, normalised, as columns (float32,
        contiguous: one small matrix product per question), built once per ``index``: sorting
        and stacking thousands of vectors per question cost more than the matching. One build
        at a time: a search that waited for another's build uses it."""
        built = self._matrix
        if built is None or built.index is not index:
            with self._lock:
                built = self._matrix
                if built is None or built.index is not index:
                    built = self._matrix = self._build_matrix(index, built)
        return built.keys, built.columns

    def _build_matrix(self, index: EntityIndex, previous: _NameMatrix | None) -> _NameMatrix:
        """Name vectors of the most mentioned entities that are not hubs (``hub_mentions``: graph
        search never reads a hub's mentions, so an uncertain link to one brings only noise).
        Names the ``previous`` build had keep their vectors; only new ones are embedded."""
        hub = self.hub_mentions
        top = [e for e in index.by_key.values() if hub is None or e.mentions <= hub]
        top = sorted(top, key=lambda e: (-e.mentions, e.key))[: self.max_embedded_entities]
        names = [(e.key, e.name) for e in top]
        known = previous.positions if previous is not None else {}
        missing = [n for n in names if n not in known]
        fresh = self._embed_names([name for _, name in missing])
        reused = previous.columns if previous is not None and len(missing) < len(names) else None
        if fresh is None and (reused is None or missing):  # no names, or no model to embed them
            return _NameMatrix(index, [], {}, np.zeros((0, 0), dtype=np.float32))
        dimension = fresh.shape[1] if fresh is not None else cast(np.ndarray, reused).shape[0]
        columns = np.empty((dimension, len(names)), dtype=np.float32)
        if reused is not None:
            kept = [(column, known[n]) for column, n in enumerate(names) if n in known]
            columns[:, [to for to, _ in kept]] = reused[:, [at for _, at in kept]]
        if fresh is not None:
            columns[:, [column for column, n in enumerate(names) if n not in known]] = fresh.T
        positions = {n: column for column, n in enumerate(names)}
        return _NameMatrix(index, [key for key, _ in names], positions, columns)

    def _embed_names(self, names: list[str]) -> np.ndarray | None:
        """Unit float32 rows for ``names``, embedded ``NAME_BATCH`` at a time (a model returns
        Python floats: 20,000 names at once would hold 330 MB of them); None without any."""
        if not names or self.embedder is None:
            return None
        rows = [
            _normalise(np.asarray(self.embedder.embed(names[i : i + NAME_BATCH]), np.float32))
            for i in range(0, len(names), NAME_BATCH)
        ]
        return np.vstack(rows)


@dataclass(frozen=True, slots=True)
class _NameMatrix:
    """The names embedding links compare against, for one entity index."""

    index: EntityIndex
    keys: list[str]
    positions: dict[tuple[str, str], int]  # (entity key, name) → column
    columns: np.ndarray  # dimension × names, unit float32, contiguous


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0.0, 1.0, norms)
