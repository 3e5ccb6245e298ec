"""The keyword analyzer: folding, ¿¡, stopwords, Spanish/English stemming, query terms."""

from __future__ import annotations

import threading

import pytest

from castgraph.retrieval.keyword.analyzer import (
    ENGLISH_STOPWORDS,
    SPANISH_STOPWORDS,
    algorithm_for,
    analyze,
    query_terms,
    tokenize,
)


@pytest.mark.parametrize(
    "words",
    [
        ("canción", "canciones", "cancion", "CANCIÓN"),
        ("música", "musica", "músicos"),
        ("tecnología", "tecnologia", "tecnológico", "tecnologías"),
        ("política", "políticas", "político", "politica"),
        ("información", "informacion", "informaciones"),
        ("niño", "niños", "nino"),
    ],
)
def test_spanish_variants_share_one_term(words: tuple[str, ...]) -> None:
    terms = {tuple(analyze(w, "es")) for w in words}
    assert len(terms) == 1, terms
    assert len(terms.pop()) == 1


@pytest.mark.parametrize(
    "words", [("running", "runs", "run", "Running"), ("café", "cafe"), ("naïve", "naive")]
)
def test_english_variants_share_one_term(words: tuple[str, ...]) -> None:
    assert len({tuple(analyze(w, "en")) for w in words}) == 1


def test_inverted_punctuation_and_accents_are_folded_away() -> None:
    assert analyze("¿Qué opinas de la música?", "es") == ["opin", "music"]
    assert analyze("¡Ñandú!", "es") == analyze("nandu", "es")
    assert "¿" not in "".join(tokenize("¿¡Hola!?"))


def test_stopwords_are_dropped_per_language() -> None:
    assert analyze("el de la que y en los", "es") == []
    assert analyze("the of and to in is it", "en") == []
    # Each language drops only its own function words.
    assert analyze("the", "es") == ["the"]
    assert analyze("los", "en") == ["los"]


def test_stopword_lists_are_folded() -> None:
    for word in SPANISH_STOPWORDS | ENGLISH_STOPWORDS:
        assert tokenize(word) == [word]


def test_numbers_and_alphanumerics_are_kept() -> None:
    assert analyze("COVID19 en 2023", "es") == ["covid19", "2023"]
    assert "1984" in analyze("the year 1984", "en")


def test_unsupported_language_is_folded_but_not_stemmed_or_stopped() -> None:
    assert analyze("Ñandú corriendo", "fr") == ["nandu", "corriendo"]
    assert analyze("Ñandú corriendo", None) == ["nandu", "corriendo"]
    assert analyze("Привет мир 中文", "ru") == ["привет", "мир", "中文"]


def test_language_codes_are_normalised() -> None:
    assert algorithm_for("es-ES") == "spanish"
    assert algorithm_for("EN_us") == "english"
    assert algorithm_for("pt") is None
    assert algorithm_for("") is None
    assert analyze("Running", "EN") == ["run"]


def test_empty_and_punctuation_only_text() -> None:
    assert analyze("", "es") == []
    assert analyze("¿¡?! ... -- \"\" '' _", "en") == []
    assert query_terms("   ") == []


def test_query_terms_merge_both_languages() -> None:
    terms = query_terms("canciones running")
    assert analyze("canción", "es")[0] in terms
    assert "run" in terms
    assert len(terms) == len(set(terms))


def test_query_terms_drop_stopwords_of_both_languages_when_unsure() -> None:
    assert query_terms("the la de of") == []
    assert query_terms("¿Qué es la inflación?") == ["inflacion"]


def test_query_terms_keep_words_that_are_content_in_the_query_language() -> None:
    # "son" is a Spanish stopword ("they are") but a content word in an English question.
    assert "son" in query_terms("who is the son of the president")
    assert "son" not in query_terms("¿quiénes son los invitados de hoy?")


def test_query_terms_keep_order() -> None:
    terms = query_terms("zeta alpha")
    assert terms.index("zeta") < terms.index("alpha")


def test_stemming_is_consistent_across_threads() -> None:
    text = "Las canciones de los niños corriendo; the runners were running everywhere"
    expected = (analyze(text, "es"), analyze(text, "en"))
    results: list[tuple[list[str], list[str]]] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(200):
            got = (analyze(text, "es"), analyze(text, "en"))
            with lock:
                results.append(got)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 800
    assert all(r == expected for r in results)
