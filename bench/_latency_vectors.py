"""Cheap chunk vectors for synthetic episodes: composed from embedded sentences, calibrated.

Embedding 100k chunks with ``use-multilingual-v3`` takes about an hour on 2 shared cores, so the
sentence pool (``bench/_synthetic.py``) is embedded once with the real model (cached as
``sentences-<embedder>-<pool><names>.npy``, ``<names>`` empty for the generator's own names)
and a chunk's vector is built from its sentences' vectors: their mean, normalised, with its
component along the pool's centroid set to what the model gives whole chunks (measured once
on a sample of synthetic chunks embedded for real, cached beside).

Why the correction: a plain mean cancels the sentences' individual directions but keeps their
common one, so plain means sit nearer the centroid than real chunk vectors (projection 0.78 vs
0.50 for ``use-multilingual-v3``) and look similar to every query. Measured with
``bench/retrieval.py --distractors 0,1000 --distractor-names shared`` (vector R@5 at 1000):
chunks embedded for real 0.544, plain means 0.450, calibrated 0.525; fused 0.675, 0.644, 0.688.

Vectors reach the real vector index through ``ComposedEmbedder``, whose ``embed`` composes known
chunk texts; anything else (queries, entity names, real chunks) goes to the real model.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import _synthetic as synth
import numpy as np

VECTORS_CACHE = Path(__file__).resolve().parent / ".cache" / "search_latency"  # both benchmarks
CALIBRATION_CHUNKS = 64
CALIBRATION_EPISODE = 99_999  # never indexed: benchmarks use episodes 0, 1, ...


@dataclass(frozen=True)
class Composer:
    """A chunk's vector from its sentences' vectors (see the module's docstring)."""

    vectors: np.ndarray
    centre: np.ndarray  # the unit centroid of the sentence vectors
    projection: float  # the mean projection of real chunk vectors on ``centre``

    def __call__(self, indexes: Sequence[int]) -> list[float]:
        mean = self.vectors[list(indexes)].mean(axis=0)
        rest = mean - self.centre * float(mean @ self.centre)
        norm = float(np.linalg.norm(rest)) or 1.0
        along = math.sqrt(max(0.0, 1.0 - self.projection**2))
        return [float(x) for x in self.projection * self.centre + along * rest / norm]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name)


def _stem(pool: synth.SentencePool, name: str) -> str:
    """The cache name of ``pool``'s vectors: pools with other names have other sentences."""
    return f"sentences-{_slug(name)}-{len(pool.all_texts())}{pool.tag()}"


def sentence_vectors(pool: synth.SentencePool, embedder: Any, name: str) -> np.ndarray:
    """The pool's sentence vectors from the real embedder, computed once and cached."""
    texts = pool.all_texts()
    path = VECTORS_CACHE / f"{_stem(pool, name)}.npy"
    if path.exists():
        return np.asarray(np.load(path))
    started = time.perf_counter()
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    print(f"embedded {len(texts)} pool sentences in {time.perf_counter() - started:.0f} s")
    VECTORS_CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def composer(pool: synth.SentencePool, name: str, models_dir: Path) -> Composer:
    """The calibrated composer for ``pool`` and embedder ``name`` (cached)."""
    from castgraph.retrieval.embeddings import make_embedder

    embedder = make_embedder(name, models_dir=models_dir)
    vectors = sentence_vectors(pool, embedder, name)
    centre = vectors.mean(axis=0)
    centre = centre / (float(np.linalg.norm(centre)) or 1.0)
    path = VECTORS_CACHE / f"{_stem(pool, name)}.calibration.json"
    if path.exists():
        projection = float(json.loads(path.read_text())["projection"])
    else:
        sample = synth.episode(pool, CALIBRATION_EPISODE, chunks=CALIBRATION_CHUNKS).chunks
        real = np.asarray(embedder.embed([c.text for c in sample]), dtype=np.float32)
        projection = float((real @ centre).mean())
        path.write_text(json.dumps({"projection": projection, "chunks": len(sample)}))
    return Composer(vectors, centre, projection)


class ComposedEmbedder:
    """A ``TextEmbedder`` giving known chunk texts their composed vector; the rest is real."""

    def __init__(self, real: Any, compose: Composer | None) -> None:
        self.real = real
        self.compose = compose
        self.known: dict[str, tuple[int, ...]] = {}

    @property
    def name(self) -> str:
        return str(self.real.name)

    @property
    def dimension(self) -> int:
        return int(self.real.dimension)

    def load(self) -> None:
        self.real.load()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if self.compose is not None and texts and all(text in self.known for text in texts):
            return [self.compose(self.known[text]) for text in texts]
        return list(self.real.embed(texts))

    def embed_query(self, text: str) -> list[float]:
        return list(self.real.embed_query(text))


@contextmanager
def composed_embedders(compose: Composer | None) -> Iterator[list[ComposedEmbedder]]:
    """Every embedder the wiring makes meanwhile is a ``ComposedEmbedder`` (listed in order)."""
    from castgraph.retrieval import embeddings

    real_make = embeddings.make_embedder
    made: list[ComposedEmbedder] = []

    def composed_make(model: str, **kwargs: Any) -> ComposedEmbedder:
        made.append(ComposedEmbedder(real_make(model, **kwargs), compose))
        return made[-1]

    with mock.patch.object(embeddings, "make_embedder", composed_make):
        yield made
