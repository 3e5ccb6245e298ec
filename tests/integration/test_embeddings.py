"""The packaged embedding models, loaded from the local models directory (no download).

Both load offline, give normalised vectors of their dimension, and put paraphrases closer than
unrelated sentences in Spanish and in English. Cross-language pairs (an English question, a
Spanish passage) are reported for both models (``record_property``, so in ``--junitxml``, and
logged at INFO: ``-o log_cli=true --log-cli-level=INFO``); only the multilingual model is held
to ranking them right.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from castgraph.retrieval.embeddings import TextEmbedder, make_embedder

pytestmark = [pytest.mark.integration, pytest.mark.slow]

log = logging.getLogger(__name__)

MODELS = {"use-multilingual-v3": 512, "all-MiniLM-L6-v2": 384}
MULTILINGUAL = "use-multilingual-v3"

# (anchor, paraphrase, unrelated)
PARAPHRASES = {
    "es": (
        "Plantamos árboles en las veredas del barrio para tener más sombra.",
        "Con los vecinos pusimos árboles en la calle porque dan sombra.",
        "La masa madre fermenta dieciocho horas en la heladera.",
    ),
    "en": (
        "The sourdough starter ferments for eighteen hours in the fridge.",
        "We leave the bread dough to rise in the refrigerator for most of a day.",
        "Forty temperature sensors were hung on street lamps.",
    ),
}
# An English question, the Spanish passage that answers it, and one that does not.
CROSS_QUESTION = "Which trees did they plant with the neighbours?"
CROSS_RIGHT = "Con los vecinos plantamos tipas en cuatro cuadras, porque dan una sombra ancha."
CROSS_WRONG = "Yo dejo fermentar la masa dieciocho horas en la heladera."
TRANSLATION = (
    "The neighbours planted trees in four blocks.",
    "Los vecinos plantaron árboles en cuatro cuadras.",
    "La masa fermenta en la heladera.",
)


@pytest.fixture(scope="module", params=list(MODELS))
def embedder(request: pytest.FixtureRequest, models_dir: Path) -> Iterator[TextEmbedder]:
    model = make_embedder(request.param, models_dir=models_dir)
    model.load()
    yield model


def _matrix(embedder: TextEmbedder, texts: list[str]) -> np.ndarray:
    return np.asarray(embedder.embed(texts))


def test_loads_offline_with_its_dimension(embedder: TextEmbedder) -> None:
    assert embedder.dimension == MODELS[embedder.name]
    vectors = _matrix(embedder, ["hola", "hello world", ""])
    assert vectors.shape == (3, embedder.dimension)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = np.asarray(embedder.embed_query("¿Dónde trabaja Valeria?"))
    assert query.shape == (embedder.dimension,)
    assert np.linalg.norm(query) == pytest.approx(1.0, abs=1e-5)
    assert all(isinstance(x, float) for x in embedder.embed(["x"])[0])


def test_vectors_are_deterministic_and_batches_do_not_matter(embedder: TextEmbedder) -> None:
    texts = [f"Frase número {i} sobre el calor en Barracas." for i in range(40)]
    together = _matrix(embedder, texts)  # more than one batch of 32
    alone = np.asarray([embedder.embed([t])[0] for t in texts[:3] + texts[-3:]])
    np.testing.assert_allclose(together[[0, 1, 2, 37, 38, 39]], alone, atol=1e-4)
    # Both packaged models are symmetric: a query is embedded like a passage.
    np.testing.assert_allclose(embedder.embed_query(texts[5]), together[5], atol=1e-4)


@pytest.mark.parametrize("language", list(PARAPHRASES))
def test_paraphrases_are_closer_than_unrelated_sentences(
    embedder: TextEmbedder, language: str
) -> None:
    anchor, paraphrase, unrelated = _matrix(embedder, list(PARAPHRASES[language]))
    assert anchor @ paraphrase > anchor @ unrelated + 0.05


def test_cross_language_scores(
    embedder: TextEmbedder, record_property: Callable[[str, object], None]
) -> None:
    question = np.asarray(embedder.embed_query(CROSS_QUESTION))
    right, wrong = _matrix(embedder, [CROSS_RIGHT, CROSS_WRONG])
    english, spanish, unrelated = _matrix(embedder, list(TRANSLATION))
    scores = {
        "question_vs_answer_es": float(question @ right),
        "question_vs_unrelated_es": float(question @ wrong),
        "translation_en_es": float(english @ spanish),
        "translation_vs_unrelated": float(english @ unrelated),
    }
    for key, value in scores.items():
        record_property(f"{embedder.name}:{key}", round(value, 3))
    log.info("cross-language scores for %s: %s", embedder.name, scores)
    if embedder.name == MULTILINGUAL:
        assert scores["question_vs_answer_es"] > scores["question_vs_unrelated_es"] + 0.15
        assert scores["translation_en_es"] > 0.7
        assert scores["translation_en_es"] > scores["translation_vs_unrelated"] + 0.3


def test_concurrent_queries_match_sequential_ones(embedder: TextEmbedder) -> None:
    texts = [f"¿Qué pasó en el episodio {i}?" for i in range(16)]
    expected = [embedder.embed_query(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(embedder.embed_query, texts * 2))
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected * 2), atol=1e-5)


def test_a_model_directory_path_loads_like_its_name(models_dir: Path) -> None:
    directory = models_dir / "embeddings" / "all-MiniLM-L6-v2"
    by_path = make_embedder(str(directory), models_dir=models_dir)
    by_name = make_embedder("sentence-transformers/all-MiniLM-L6-v2", models_dir=models_dir)
    assert by_name.name == "all-MiniLM-L6-v2"
    assert by_path.name == str(directory)
    np.testing.assert_allclose(by_path.embed(["hola"]), by_name.embed(["hola"]), atol=1e-5)


def test_query_and_passage_prefixes_reach_the_model(models_dir: Path) -> None:
    plain = make_embedder("all-MiniLM-L6-v2", models_dir=models_dir)
    prefixed = make_embedder(
        "all-MiniLM-L6-v2",
        models_dir=models_dir,
        query_prefix="query: ",
        passage_prefix="passage: ",
    )
    np.testing.assert_allclose(
        prefixed.embed_query("tipas"), plain.embed(["query: tipas"])[0], atol=1e-5
    )
    np.testing.assert_allclose(
        prefixed.embed(["tipas"]), plain.embed(["passage: tipas"]), atol=1e-5
    )


def test_queries_do_not_wait_for_a_passage_batch(models_dir: Path) -> None:
    """A search's query vector is computed while a long passage batch holds the model (the
    batch's lock stands held here): searches never queue behind ingestion or each other."""
    model = make_embedder(MULTILINGUAL, models_dir=models_dir)
    model.load()
    lock = model._lock  # type: ignore[attr-defined]
    with ThreadPoolExecutor(max_workers=1) as pool:
        lock.acquire()
        try:  # released before the pool waits for its thread, even when the test fails
            query = pool.submit(model.embed_query, "¿Dónde trabaja Valeria?")
            grams = pool.submit(model.embed, ["Valeria", "dónde trabaja"])
            assert len(query.result(timeout=60)) == 512
            assert len(grams.result(timeout=60)) == 2
        finally:
            lock.release()
    long_texts = ["palabra " * 200]  # over the small-input size: the batch path, same vector
    np.testing.assert_allclose(
        model.embed(long_texts)[0], model.embed_query(long_texts[0]), atol=1e-4
    )


def test_one_blas_thread_limits_this_process() -> None:
    code = (
        "import numpy, threadpoolctl\n"
        "from castgraph.retrieval.embeddings.base import one_blas_thread\n"
        "one_blas_thread()\n"
        "print(max(i['num_threads'] for i in threadpoolctl.threadpool_info()"
        " if i['user_api'] == 'blas'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "1"
