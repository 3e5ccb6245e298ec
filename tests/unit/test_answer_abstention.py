"""Near misses the extractive answerer must refuse: the right entity with the wrong kind of
fact, or the right kind of fact about someone else; and their answerable twins."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from castgraph.core.models import AnswerRequest, Citation, ContextBlock, Sentence
from castgraph.retrieval.generation.extractive import ExtractiveGenerator
from castgraph.retrieval.generation.prompt import NOT_FOUND

URL = "https://example.org/ep"


def _block(*sentences: Sentence, title: str = "Episodio") -> ContextBlock:
    text = " ".join(s.text for s in sentences)
    citation = Citation(
        "e1",
        title,
        URL,
        f"{URL}#t={int(sentences[0].start)}",
        sentences[0].speaker,
        sentences[0].start,
        sentences[-1].end,
        text,
        sentences=sentences,
        published=date(2024, 4, 2),
    )
    return ContextBlock(1, citation)


def _answer(question: str, block: ContextBlock, language: str) -> str:
    return ExtractiveGenerator().answer(AnswerRequest(question, language, (block,)))


def test_a_number_followed_by_a_unit_counts_the_unit() -> None:
    heard = _block(
        Sentence("Valeria told me 13 hours tipa trees on 11 blocks.", 81.0, 85.0, "Hannah")
    )
    trees = "How many tipa trees did Valeria's team plant?"
    assert _answer(trees, heard, "en") == NOT_FOUND["en"]
    planted = _block(Sentence("Valeria's team planted 300 tipa trees.", 81.0, 85.0, "Hannah"))
    assert "300 tipa trees" in _answer(trees, planted, "en")


def test_a_duration_is_not_an_age() -> None:
    since = _block(
        Sentence(
            "Tengo la panadería La Espiga desde hace quince años.", 12.0, 20.0, "Tomás Iriarte"
        )
    )
    age = "¿Cuántos años tiene Tomás Iriarte?"
    assert _answer(age, since, "es") == NOT_FOUND["es"]
    told = _block(Sentence("Yo tengo cuarenta y dos años.", 12.0, 15.0, "Tomás Iriarte"))
    assert "cuarenta y dos años" in _answer(age, told, "es")


def test_the_kind_noun_of_a_question_is_not_its_content() -> None:
    # "year" says what kind of answer is wanted; the sentence says nothing about a founding.
    block = _block(
        Sentence(
            "At the Delta Lab I have worked on green roofs for 12 years.", 30.0, 35.0, "Hannah"
        )
    )
    assert _answer("In what year was the Delta Lab founded?", block, "en") == NOT_FOUND["en"]
    started = _block(Sentence("The Delta Lab was founded in 2009.", 30.0, 33.0, "Hannah"))
    assert "2009" in _answer("In what year was the Delta Lab founded?", started, "en")


def test_a_place_must_be_more_than_the_question_names() -> None:
    block = _block(Sentence("This is Diane, I live in New Jersey.", 12.5, 14.0, "SPEAKER_00"))
    city = _answer("In what city of New Jersey does Diane live?", block, "en")
    assert city == NOT_FOUND["en"]
    assert "New Jersey" in _answer("Where does Diane live?", block, "en")


def test_a_fact_about_someone_else_in_the_turn_is_not_the_focus_fact() -> None:
    turn = _block(
        Sentence("I bought a loaf from a baker named Tomás.", 89.0, 94.0, "Hannah"),
        Sentence("His starter, Doña Rosa, is 30 years old.", 94.5, 97.7, "Hannah"),
        title="Green roofs",
    )
    assert _answer("How old is Tomás Iriarte?", turn, "en") == NOT_FOUND["en"]
    assert "30 years old" in _answer("How old is Doña Rosa?", turn, "en")
    # The sentence is about what is asked when it says it: Tomás's starter.
    assert "30 years old" in _answer("How old is Tomás Iriarte's starter?", turn, "en")


def test_the_amount_of_something_asks_for_a_number() -> None:
    hung = _block(
        Sentence("Colgamos sensores en los postes de luz del barrio.", 42.0, 50.0, "Vale")
    )
    amount = "¿Cuál es la cantidad de sensores que colgaron en los postes?"
    assert _answer(amount, hung, "es") == NOT_FOUND["es"]
    counted = _block(
        Sentence("Colgamos cuarenta sensores en los postes de luz.", 42.0, 50.0, "Vale")
    )
    assert "cuarenta sensores" in _answer(amount, counted, "es")


def test_words_asking_about_change_need_not_be_in_the_answer() -> None:
    first = _block(
        Sentence("Con los vecinos plantamos tipas en cuatro cuadras.", 74.0, 80.0, "Valeria"),
        Sentence("Dan una sombra ancha y aguantan bien la sequía.", 80.0, 86.0, "Valeria"),
    )
    later = ContextBlock(
        2,
        replace(
            _block(
                Sentence("Valeria me contó que las tipas cubren once cuadras.", 81.0, 85.0, "Ana"),
                Sentence("Los árboles dan sombra a toda la vereda.", 86.0, 90.0, "Ana"),
                title="Techos verdes",
            ).citation,
            episode_id="e3",
            published=date(2024, 5, 2),
        ),
    )
    question = "¿Cambió la cantidad de cuadras con tipas desde el primer episodio?"
    text = ExtractiveGenerator().answer(AnswerRequest(question, "es", (first, later)))
    assert text.startswith("Lo más reciente, en «Techos verdes» (2024-05-02, 01:21)"), text
