"""Cited moments: sentences with their own second and speaker, honest abstention, newest first."""

from __future__ import annotations

from datetime import date

from castgraph.core.models import AnswerRequest, Citation, ContextBlock, Sentence
from castgraph.retrieval.generation.extractive import ExtractiveGenerator
from castgraph.retrieval.generation.moments import claims, resolve_claim, resolve_moments
from castgraph.retrieval.generation.prompt import NOT_FOUND

URL = "https://www.youtube.com/watch?v=abc"
TITLE = "Barracas, una isla de calor"

# A host's question, the guest's answer, the host's reaction: one block of 30 s.
SENTENCES = (
    Sentence("Valeria, contanos dónde trabajás.", 20.0, 22.5, "Nicolás Paz"),
    Sentence(
        "Trabajo en el Observatorio Urbano del Sur, en Barracas.", 23.0, 27.0, "Valeria Quiroga"
    ),
    Sentence("Empezamos en dos mil diecinueve.", 27.2, 29.0, "Valeria Quiroga"),
    Sentence("Colgamos cuarenta sensores en postes de luz.", 40.0, 43.5, "Valeria Quiroga"),
    Sentence("Es muchísimo.", 44.0, 45.0, "Lucía Benítez"),
)


def _block(
    number: int = 1,
    sentences: tuple[Sentence, ...] = SENTENCES,
    *,
    episode: str = "ep1",
    title: str = TITLE,
    published: date | None = date(2024, 3, 5),
) -> ContextBlock:
    text = " ".join(s.text for s in sentences)
    start, end = sentences[0].start, sentences[-1].end
    citation = Citation(
        episode,
        title,
        URL,
        f"{URL}&t={int(start)}s",
        sentences[0].speaker,
        start,
        end,
        text,
        sentences=sentences,
        published=published,
    )
    return ContextBlock(number, citation)


def _ask(question: str, *blocks: ContextBlock, language: str = "es") -> AnswerRequest:
    return AnswerRequest(question, language, blocks)


def test_claims_are_the_sentences_that_carry_each_marker() -> None:
    found = claims("Trabaja en el Observatorio [1]. Empezaron en 2019 y midieron el calor [2][1].")
    assert found == [
        (1, "Trabaja en el Observatorio"),
        (2, "Empezaron en 2019 y midieron el calor"),
        (1, "Empezaron en 2019 y midieron el calor"),
    ]


def test_a_verbatim_quote_resolves_to_its_sentence_second_and_speaker() -> None:
    answer = "Según Valeria Quiroga (00:23): “Colgamos cuarenta sensores en postes de luz.” [1]"
    (source,) = resolve_moments(answer, [_block()])
    c = source.citation
    assert source.number == 1 and c.kind == "quote"
    assert (c.start, c.end, c.speaker) == (40.0, 43.5, "Valeria Quiroga")
    assert c.link == f"{URL}&t=40s"  # the quoted second, not the block's 20 s
    assert c.text == "Colgamos cuarenta sensores en postes de luz."
    assert c.context is not None and (c.context.start, c.context.end) == (20.0, 45.0)


def test_a_cut_quote_still_matches_and_can_span_two_sentences() -> None:
    quoted = "“Trabajo en el Observatorio Urbano del Sur, en Barracas. Empezamos en dos mil…”"
    resolution = resolve_claim(f"Dice {quoted}", SENTENCES)
    assert (resolution.kind, resolution.first, resolution.last) == ("quote", 1, 2)


def test_a_paraphrase_aligns_to_the_best_sentence() -> None:
    answer = "Valeria Quiroga trabaja en el Observatorio Urbano del Sur [1]."
    (source,) = resolve_moments(answer, [_block()])
    assert source.citation.kind == "paraphrase"
    assert source.citation.start == 23.0 and source.citation.speaker == "Valeria Quiroga"


def test_an_unsupported_claim_keeps_the_block_never_a_wrong_second() -> None:
    answer = "La receta lleva harina integral y agua tibia [1]."
    (source,) = resolve_moments(answer, [_block()])
    assert source.citation.kind == "block"
    assert (source.citation.start, source.citation.end) == (20.0, 45.0)


def test_blocks_without_sentences_and_invented_numbers() -> None:
    legacy = ContextBlock(2, Citation("e", "T", URL, URL, None, 5.0, 9.0, "Texto viejo."))
    sources = resolve_moments("Algo “Texto viejo sin frases” [2] e inventado [7].", [legacy])
    assert [(s.number, s.citation.kind) for s in sources] == [(2, "block")]


def test_embedding_similarity_can_carry_a_cross_language_paraphrase() -> None:
    def similarity(claim: str, texts: list[str] | tuple[str, ...]) -> list[float]:
        return [0.9 if "sensores" in t else 0.1 for t in texts]

    answer = "They hung forty sensors on lamp posts [1]."
    (source,) = resolve_moments(answer, [_block()], similarity)  # type: ignore[arg-type]
    assert source.citation.kind == "paraphrase" and source.citation.start == 40.0


def test_extractive_answer_quotes_the_guest_not_the_hosts_question() -> None:
    generator = ExtractiveGenerator()
    request = _ask("¿Dónde trabaja Valeria Quiroga?", _block())
    text = generator.answer(request)
    assert "Valeria, contanos" not in text
    assert text.startswith("Según Valeria Quiroga en «Barracas, una isla de calor» (00:23)")
    (source,) = resolve_moments(text, request.blocks)
    assert source.citation.kind == "quote" and source.citation.start == 23.0


def test_who_asked_may_quote_the_question() -> None:
    text = ExtractiveGenerator().answer(_ask("¿Quién preguntó dónde trabaja Valeria?", _block()))
    assert "Nicolás Paz" in text and "contanos" in text


def test_who_said_answers_with_the_speakers_name() -> None:
    text = ExtractiveGenerator().answer(_ask("Who said they hung forty sensors?", _block()))
    assert "Valeria Quiroga" in text and "(00:40)" in text


def test_near_miss_about_a_real_entity_abstains() -> None:
    generator = ExtractiveGenerator()
    # Right person, a number nearby, but the asked-for fact (her age) is never stated.
    assert (
        generator.answer(_ask("¿Cuántos años tiene Valeria Quiroga?", _block()))
        == (NOT_FOUND["es"])
    )
    # Right kind of fact (a count) about another entity.
    other = _ask(
        "How many sensors did Hannah Lindqvist install in Rotterdam?", _block(), language="en"
    )
    assert generator.answer(other) == NOT_FOUND["en"]


def test_change_over_time_cites_each_episode_newest_first() -> None:
    old = _block(
        1, (Sentence("Plantamos tipas en cuatro cuadras.", 70.0, 73.0, "Valeria Quiroga"),)
    )
    new = _block(
        2,
        (Sentence("Ahora ya plantamos tipas en diez cuadras.", 300.0, 304.0, "Valeria Quiroga"),),
        episode="ep3",
        title="Green roofs",
        published=date(2024, 4, 2),
    )
    text = ExtractiveGenerator().answer(
        _ask("¿En cuántas cuadras plantaron tipas ahora?", old, new)
    )
    assert text.index("[2]") < text.index("[1]"), text
    assert text.startswith("Lo más reciente, en «Green roofs» (2024-04-02, 05:00)")
    assert "Antes, en «Barracas, una isla de calor» (2024-03-05, 01:10)" in text
    sources = resolve_moments(text, (old, new))
    assert [(s.number, s.citation.start) for s in sources] == [(2, 300.0), (1, 70.0)]


def _one(text: str, speaker: str = "Valeria Quiroga", title: str = TITLE) -> ContextBlock:
    return _block(1, (Sentence(text, 10.0, 14.0, speaker),), title=title)


def test_a_number_must_count_the_thing_asked_about() -> None:
    generator = ExtractiveGenerator()
    blocks = _one("Con los vecinos plantamos tipas en cuatro cuadras de Barracas.")
    # The sentence names tipas, but its number counts blocks, not trees.
    trees = generator.answer(_ask("¿Cuántas tipas plantaron los vecinos en Barracas?", blocks))
    assert trees == NOT_FOUND["es"]
    streets = generator.answer(_ask("¿En cuántas cuadras plantaron tipas en Barracas?", blocks))
    assert "cuatro cuadras" in streets


def test_a_year_is_not_a_count() -> None:
    blocks = _one("Trabajo en el Observatorio Urbano del Sur desde dos mil diecinueve.")
    staff = ExtractiveGenerator().answer(
        _ask("¿Cuántas personas trabajan en el Observatorio Urbano del Sur?", blocks)
    )
    assert staff == NOT_FOUND["es"]
    since = ExtractiveGenerator().answer(
        _ask("¿Desde qué año trabaja en el Observatorio Urbano del Sur?", blocks)
    )
    assert "dos mil diecinueve" in since


def test_misheard_names_and_multiword_entities_still_count_as_the_focus() -> None:
    # ASR: "Valeria" heard as "Maleria"; "San Telmo" as "Santelmo".
    heard = _one("El equipo de Maleria plantó árboles en once cuadras.", speaker="Hannah")
    text = ExtractiveGenerator().answer(
        _ask("¿En cuántas cuadras plantó árboles el equipo de Valeria?", heard)
    )
    assert "once cuadras" in text
    market = _one("Los sábados vendo el pan en el Mercado de Santelmo.", speaker="Tomás")
    who = ExtractiveGenerator().answer(_ask("¿Quién vende pan en el Mercado de San Telmo?", market))
    assert who.startswith("Según Tomás")


def test_a_request_to_tell_is_a_question_not_an_answer() -> None:
    blocks = _block(
        1,
        (
            Sentence("Hola a todos, Valeria, contanos donde trabajas.", 1.0, 4.0, "Nicolás Paz"),
            Sentence("Trabajo en el observatorio urbano del sur.", 5.0, 8.0, "Valeria Quiroga"),
        ),
    )
    text = ExtractiveGenerator().answer(_ask("¿Dónde trabaja Valeria Quiroga?", blocks))
    assert text.startswith("Según Valeria Quiroga") and "contanos" not in text


def test_who_can_be_answered_by_a_common_noun() -> None:
    blocks = _one(
        "He began a complaint against the wizard who had vanished behind the curtain.",
        speaker="SPEAKER_00",
        title="61-70968-0000",
    )
    text = ExtractiveGenerator().answer(
        _ask("Who vanished behind the curtain?", blocks, language="en")
    )
    assert "wizard" in text
