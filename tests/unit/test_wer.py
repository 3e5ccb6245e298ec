"""Word error rate and the text normalisation shared by reference and hypothesis."""

from __future__ import annotations

import pytest

from castgraph.evaluation.wer import (
    normalize_text,
    number_to_words,
    word_edit_distance,
    word_error_rate,
)


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Hello,  World!", "en", "hello world"),
        ("¿Qué tal? ¡Muy bien!", "es", "qué tal muy bien"),
        ("Mr. Quilter is the apostle", "en", "mister quilter is the apostle"),
        ("Al Señor D. Manuel, y la Sra. Pérez", "es", "al señor don manuel y la señora pérez"),
        ("I didn't know — you were there…", "en", "i didn't know you were there"),
        ("‘quoted’ 'words'", "en", "quoted words"),
        ("well-known ok", "en", "well known okay"),
        ("20 de Septiembre de 1881", "es", "veinte de septiembre de mil ochocientos ochenta y uno"),
        (
            "It costs 1,500 or 2.5%",
            "en",
            "it costs one thousand five hundred or two point five percent",
        ),
        ("1.500 y 2,5", "es", "mil quinientos y dos coma cinco"),
        ("ÁRBOL Árbol", "es", "árbol árbol"),
        ("Mr. Smith 12", None, "mr smith 12"),
    ],
)
def test_normalize_text(text: str, language: str | None, expected: str) -> None:
    assert normalize_text(text, language) == expected


def test_abbreviation_needs_its_dot() -> None:
    assert normalize_text("la letra d y el sr", "es") == "la letra d y el sr"


def test_language_tags_are_reduced_to_the_primary_language() -> None:
    assert normalize_text("Sr. 2", "es-ES") == "señor dos"
    assert normalize_text("Mr. 2", "en_US") == "mister two"


@pytest.mark.parametrize(
    ("number", "english", "spanish"),
    [
        (0, "zero", "cero"),
        (16, "sixteen", "dieciséis"),
        (21, "twenty one", "veintiuno"),
        (45, "forty five", "cuarenta y cinco"),
        (100, "one hundred", "cien"),
        (101, "one hundred one", "ciento uno"),
        (555, "five hundred fifty five", "quinientos cincuenta y cinco"),
        (1000, "one thousand", "mil"),
        (21000, "twenty one thousand", "veintiún mil"),
        (1_000_000, "one million", "un millón"),
        (3_200_000, "three million two hundred thousand", "tres millones doscientos mil"),
        (1_000_000_000, "one billion", "mil millones"),
    ],
)
def test_number_to_words(number: int, english: str, spanish: str) -> None:
    assert number_to_words(number, "en") == english
    assert number_to_words(number, "es") == spanish


def test_digits_and_words_score_the_same() -> None:
    assert word_error_rate("I have twenty five cats", "I have 25 cats.", "en") == 0.0
    assert word_error_rate("tengo veinticinco gatos", "Tengo 25 gatos", "es") == 0.0


def test_word_error_rate_counts_substitutions_deletions_insertions() -> None:
    assert word_error_rate("a b c d", "a x c d", "en") == pytest.approx(0.25)
    assert word_error_rate("a b c d", "a c d", "en") == pytest.approx(0.25)
    assert word_error_rate("a b c d", "a b c d e f", "en") == pytest.approx(0.5)
    assert word_error_rate("a b", "c d e f", "en") == pytest.approx(2.0)


def test_empty_reference() -> None:
    assert word_error_rate("", "", "en") == 0.0
    assert word_error_rate("¿?", "something", "es") == 1.0


def test_normalisation_is_symmetric() -> None:
    pairs = [
        ("Mr. Brown paid 5", "mister brown paid five"),
        ("D. Pedro, 1881", "don pedro mil ochocientos ochenta y uno"),
    ]
    for (a, b), lang in zip(pairs, ("en", "es"), strict=True):
        assert word_error_rate(a, b, lang) == 0.0
        assert word_error_rate(b, a, lang) == 0.0


def test_word_edit_distance() -> None:
    assert word_edit_distance([], ["a"]) == 1
    assert word_edit_distance(["a"], []) == 1
    assert word_edit_distance(["kitten"], ["kitten"]) == 0
    assert word_edit_distance(list("kitten"), list("sitting")) == 3
