"""Post-check of LLM answers: claims whose figures no cited sentence states are dropped."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from castgraph.core.models import Citation
from castgraph.retrieval.generation.postcheck import (
    check_numbers,
    number_mentions,
    support_text,
)

SUPPORT = {
    1: "Lucía: En Barracas pusimos cuarenta sensores en 2019.",
    2: "Valeria Quiroga: Hoy son 1.500 vecinos los que miran los datos.",
}


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("dos mil diecinueve", [{2019}]),
        ("veinte y tres sensores", [{23}]),
        ("three hundred and twenty", [{320}]),
        ("mil quinientos", [{1500}]),
        ("1.500 personas", [{1500, Decimal("1.5")}]),
        ("3,5 millones", [{3_500_000}]),
        ("entre 30 y 40", [{30}, {40}]),
        ("one of them, uno de ellos", []),
        ("SPEAKER_00 lo dijo a los 12:30 [1][2, 3]", []),
    ],
)
def test_figures_are_read_from_digits_and_number_words(
    text: str, values: list[set[Decimal]]
) -> None:
    assert [set(m) for m in number_mentions(text)] == values


def test_supported_figures_are_kept_in_any_spelling() -> None:
    answer = "Lucía dice que pusieron 40 sensores en dos mil diecinueve [1]. Hoy son 1500 [2]."
    assert check_numbers(answer, SUPPORT) == (answer, [])
    plain = "Lucía trabaja en el Observatorio [1]. Uno de ellos falló [2]."
    assert check_numbers(plain, SUPPORT) == (plain, [])


def test_a_figure_the_cited_sentence_does_not_state_is_dropped() -> None:
    answer = "Pusieron 40 sensores [1]. Eran 60 el año pasado [1]. Hoy son 1.500 vecinos [1]."
    cleaned, dropped = check_numbers(answer, SUPPORT)
    assert cleaned == "Pusieron 40 sensores [1]."
    assert dropped == ["Eran 60 el año pasado [1].", "Hoy son 1.500 vecinos [1]."]


def test_uncited_claims_borrow_the_next_citation_of_their_line() -> None:
    answer = "Lo contó Lucía. Pusieron 40 sensores en 2019. Lo dijo en Barracas [1]. Y en 2021."
    cleaned, dropped = check_numbers(answer, SUPPORT)
    assert dropped == ["Y en 2021."]
    assert cleaned == "Lo contó Lucía. Pusieron 40 sensores en 2019. Lo dijo en Barracas [1]."


def test_invented_citations_support_nothing_and_list_items_drop_whole() -> None:
    answer = "Según el episodio:\n- En 2019, 40 sensores [1].\n- En 2023, 90 sensores [99].\n\nFin."
    cleaned, dropped = check_numbers(answer, SUPPORT)
    assert dropped == ["- En 2023, 90 sensores [99]."]
    assert cleaned == "Según el episodio:\n- En 2019, 40 sensores [1].\n\nFin."


def test_when_no_cited_claim_is_left_the_answer_is_empty() -> None:
    assert check_numbers("Son 70 sensores [1].", SUPPORT) == ("", ["Son 70 sensores [1]."])
    preamble = "Según los episodios:\n- 2021: 70 sensores [1].\n- 2023: 90 [2]."
    assert check_numbers(preamble, SUPPORT) == ("", preamble.split("\n")[1:])


def test_support_text_adds_the_title_and_publication_date() -> None:
    citation = Citation(
        "ep",
        "Episodio 12",
        "u",
        "u#t=4",
        "Ana",
        4.0,
        9.0,
        "Son treinta.",
        published=date(2024, 5, 1),
    )
    support = {1: support_text(citation)}
    answer = "En el episodio 12, del 1 de mayo de 2024, Ana dice en el segundo 4 que son 30 [1]."
    assert check_numbers(answer, support) == (answer, [])
