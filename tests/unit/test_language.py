"""Deterministic Spanish/English detection of questions and transcript text."""

from __future__ import annotations

import pytest

from castgraph.core.language import detect_language, language_scores


@pytest.mark.parametrize(
    "text",
    [
        "¿Dónde trabaja Valeria Quiroga?",
        "¿Cuántas horas fermenta la masa en la heladera?",
        "donde trabaja valeria quiroga",  # no accents, no ¿: function words decide
        "Qué árboles plantaron con los vecinos de Barracas",
        "¡Qué calor hace en Barracas!",
        "Trabajo en el Observatorio Urbano del Sur, un grupo chico que estudia el clima.",
    ],
)
def test_spanish(text: str) -> None:
    assert detect_language(text, default="en") == "es"


@pytest.mark.parametrize(
    "text",
    [
        "Where does Valeria Quiroga work?",
        "How many hours does the dough ferment?",
        "Who is Tomás Iriarte?",  # an accented name does not make a question Spanish
        "What is the name of Tomás Iriarte’s sourdough starter?",  # curly apostrophe
        "Which one cools a street better, green roofs or trees?",
        "I study green roofs. In Rotterdam we now have about twelve hectares of roofs.",
    ],
)
def test_english(text: str) -> None:
    assert detect_language(text, default="es") == "en"


@pytest.mark.parametrize("text", ["", "   ", "Hola", "Barracas", "Doña Rosa", "OK", "42", "?"])
def test_short_or_ambiguous_text_gets_the_default(text: str) -> None:
    assert detect_language(text) == "es"
    assert detect_language(text, default="en") == "en"


def test_inverted_marks_weigh_more_than_accents() -> None:
    spanish, english = language_scores("¿Tucumán?")
    assert spanish > english
    assert detect_language("¿Tucumán?", default="en") == "es"


def test_is_deterministic() -> None:
    text = "¿Y qué pasó con Doña Rosa during the heat wave?"
    assert len({detect_language(text) for _ in range(5)}) == 1
