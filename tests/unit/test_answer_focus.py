"""What an extractive answer must be about: entities as the question names them, relation
questions, and question words met in the other language."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from typing import ClassVar

from castgraph.core.models import AnswerRequest, Citation, ContextBlock, Sentence
from castgraph.retrieval.embeddings.cached import TextVectors
from castgraph.retrieval.embeddings.hashing import HashEmbedder
from castgraph.retrieval.generation.candidates import build_candidates
from castgraph.retrieval.generation.crosslingual import translate
from castgraph.retrieval.generation.extractive import ExtractiveGenerator
from castgraph.retrieval.generation.focus import asks_relation, entity_runs
from castgraph.retrieval.generation.misheard import hear_alike
from castgraph.retrieval.generation.prompt import NOT_FOUND
from castgraph.retrieval.generation.relevance import analyze_question

URL = "https://example.org/ep"


def _block(
    sentences: Sequence[Sentence], number: int = 1, title: str = "Episodio", episode: str = "e1"
) -> ContextBlock:
    text = " ".join(s.text for s in sentences)
    citation = Citation(
        episode,
        title,
        URL,
        f"{URL}#t={int(sentences[0].start)}",
        sentences[0].speaker,
        sentences[0].start,
        sentences[-1].end,
        text,
        sentences=tuple(sentences),
        published=date(2024, 3, 19),
    )
    return ContextBlock(number, citation)


def _ask(question: str, *blocks: ContextBlock, language: str = "es") -> AnswerRequest:
    return AnswerRequest(question, language, blocks)


class Bilingual(HashEmbedder):
    """A hashing embedder that knows a few translations, as a multilingual encoder does for
    single words; sentences stay hashed bags of words (no meaning)."""

    WORDS: ClassVar[dict[str, str]] = {"trabajo": "work", "calor": "heat", "abuela": "grandmother"}

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return super().embed([self.WORDS.get(t, t) if " " not in t else t for t in texts])


def test_question_entities_are_the_names_as_written() -> None:
    assert entity_runs(
        "¿Qué relación tiene Hannah Lindqvist con el Observatorio Urbano del Sur?"
    ) == [
        ["hannah", "lindqvist"],
        ["observatorio", "urbano", "del", "sur"],
    ]
    q = analyze_question("Where did the baker Hannah met at the Mercado de San Telmo start?")
    assert [[q.words[i] for i in e] for e in q.entities] == [
        ["hannah"],
        ["mercado", "san", "telmo"],
    ]
    assert "de" not in q.words  # a particle inside a name is not content
    # A month is capitalised in English but names no one.
    heat = analyze_question("What happened in Barracas during the February 2023 heat wave?")
    assert [heat.words[i] for i in heat.names] == ["barracas"]


def test_relation_questions_are_recognised_in_both_languages() -> None:
    for question in (
        "How is Hannah Lindqvist connected to Tomás Iriarte?",
        "¿Qué relación tiene Hannah Lindqvist con el Observatorio Urbano del Sur?",
        "¿Qué tiene que ver Tomás Iriarte con Valeria Quiroga?",
        "What is the relationship between Diane and Sheila?",
    ):
        assert asks_relation(question), question
        assert analyze_question(question).relation
    assert not asks_relation("Where does Valeria Quiroga work?")


RELATED = _block(
    (
        Sentence("Hoy me acompaña Tomás Iriarte, panadero de Barracas.", 0.0, 5.0, "Lucía"),
        Sentence(
            "Escuché a Valeria Quiroga en este programa, y en su mapa mi cuadra es de las más "
            "calientes del barrio.",
            76.0,
            83.0,
            "Tomás Iriarte",
        ),
        Sentence("Gracias, Tomás, nos vemos.", 99.0, 103.0, "Lucía"),
    ),
    title="Masa madre",
)


def test_a_relation_question_quotes_the_sentence_that_links_both_entities() -> None:
    text = ExtractiveGenerator().answer(
        _ask("¿Qué tiene que ver Tomás Iriarte con Valeria Quiroga?", RELATED)
    )
    assert text.startswith("Según Tomás Iriarte en «Masa madre» (01:16)"), text


def test_a_relation_needs_both_entities_attested() -> None:
    text = ExtractiveGenerator().answer(
        _ask("How is Hannah Lindqvist connected to Tomás Iriarte?", RELATED, language="en")
    )
    assert text == NOT_FOUND["en"]


SPANISH = _block(
    (
        Sentence("Hola a todos, hoy estamos con una invitada.", 10.0, 14.0, "Nicolás Paz"),
        Sentence(
            "Gracias por invitarme, trabajo en el observatorio urbano del sur.",
            24.0,
            30.0,
            "Valeria Quiroga",
        ),
        Sentence("Colgamos sensores en postes de luz durante tres meses.", 42.0, 50.0, "Valeria"),
        Sentence("Es muchísimo, qué bueno.", 51.0, 53.0, "Lucía Benítez"),
    ),
    title="Barracas",
)


def test_question_words_meet_their_translation_in_another_language() -> None:
    request = _ask("Where does Valeria Quiroga work?", SPANISH, language="en")
    # Without an encoder that knows "work" is "trabajo", nothing the guest says is on topic.
    assert ExtractiveGenerator(HashEmbedder()).answer(request) == NOT_FOUND["en"]
    text = ExtractiveGenerator(Bilingual()).answer(request)
    assert text.startswith("According to Valeria Quiroga in “Barracas” (00:24)"), text


INTERVIEW = _block(
    (
        Sentence("Why green roofs, in a city like Rotterdam?", 37.8, 40.4, "Lucía Benítez"),
        Sentence("Rain, mostly.", 41.1, 42.0, "Hannah Lindqvist"),
        Sentence("It holds the water so the sewers do not overflow.", 42.5, 46.8, "Hannah"),
        Sentence("And what did you see in Buenos Aires?", 51.7, 52.6, "Lucía Benítez"),
        Sentence("I walked with a map of the neighbourhood.", 53.0, 56.4, "Hannah"),
    ),
    title="Green roofs or shady streets?",
)


def test_the_reply_to_a_hosts_matching_question_answers_it() -> None:
    text = ExtractiveGenerator().answer(
        _ask("What are green roofs in Rotterdam for?", INTERVIEW, language="en")
    )
    # The episode is about green roofs: its title words alone answer nothing.
    assert text.startswith(
        "According to Hannah Lindqvist in “Green roofs or shady streets?” (00:41)"
    )
    assert "“Rain, mostly.”" in text
    assert "map" not in text  # the reply to another question is not credited


def test_a_name_that_asr_cut_apart_still_counts_but_a_common_word_is_no_name() -> None:
    message = _block(
        (
            Sentence(
                "Tengo un mensaje de una oyente, Marta, de bella nela, sobre los techos.",
                88.0,
                95.0,
                "Nicolás Paz",
            ),
        ),
    )
    text = ExtractiveGenerator().answer(
        _ask("¿Quién leyó el mensaje de la oyente de Avellaneda?", message)
    )
    assert text.startswith("Según Nicolás Paz en «Episodio» (01:28)"), text
    trees = _block(
        (Sentence("Plantamos cuarenta tipas porque dan sombra.", 74.0, 80.0, "Valeria"),),
    )
    # "porque" sounds like "parque", but a common word is not a misheard name.
    far = _ask("¿Cuántas tipas plantaron en el Parque Lezama?", trees)
    assert ExtractiveGenerator().answer(far) == NOT_FOUND["es"]


class Table:
    """Word vectors from a table (2-D unit vectors), as a fake multilingual encoder."""

    def __init__(self, vectors: dict[str, tuple[float, float]]) -> None:
        self.vectors = vectors

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [list(self.vectors.get(t, (0.0, 1.0))) for t in texts]


def test_short_question_words_need_a_closer_translation() -> None:
    close = (0.75, 0.66)  # cosine 0.75 with (1, 0)
    vectors = TextVectors(
        Table({"far": (1.0, 0.0), "bien": close, "distance": (1.0, 0.0), "distancia": close}),
        size=64,
    )
    blocks = (_block((Sentence("Muy bien, la distancia es corta.", 1.0, 3.0, "Tomás"),)),)
    candidates = build_candidates(blocks, "en")
    for question, word, expected in (
        ("How far is the bakery?", "far", False),
        ("What distance is the bakery?", "distance", True),
    ):
        analysed = analyze_question(question)
        i = analysed.words.index(word)
        widened = translate(analysed, candidates, vectors).groups[i]
        assert bool(widened & {"bien", "distanci", "distancia"}) is expected, question


def test_who_said_prefers_the_sentence_that_names_an_unnamed_speaker() -> None:
    call = _block(
        (
            Sentence("Yes, I live in New Jersey now.", 20.0, 21.5, "SPEAKER_00"),
            Sentence("My friends think so too.", 22.0, 24.0, "SPEAKER_01"),
            Sentence("This is Diane, I live up in New Jersey.", 30.0, 33.0, "SPEAKER_00"),
        ),
        title="conversation",
    )
    text = ExtractiveGenerator().answer(
        _ask("Who said they live in New Jersey now?", call, language="en")
    )
    # Diarization left a label: the self-introduction is the only way to name the speaker.
    assert text.startswith("According to a speaker (SPEAKER_00) in “conversation” (00:30)"), text


def test_change_over_time_skips_a_restated_figure_and_reads_the_episode_opening() -> None:
    first = _block(
        (Sentence("Con los vecinos plantamos tipas en cuatro cuadras.", 74.0, 80.0, "Valeria"),),
        title="Barracas, una isla de calor",
        episode="e1",
    )
    opening = Sentence(
        "Hoy volvemos a las tipas de Barracas, plantadas en cuatro cuadras en el primer episodio.",
        12.0,
        18.0,
        "Lucía",
    )
    reopened = _block((opening,), number=2, title="Techos verdes", episode="e3")
    update = _block(
        (
            Sentence(
                "Valeria me contó que ahora las tipas cubren once cuadras.", 81.0, 85.0, "Hannah"
            ),
        ),
        number=3,
        title="Techos verdes",
        episode="e3",
    )
    newer = date(2024, 4, 2)
    blocks = (
        _with_date(first, date(2024, 3, 5)),
        _with_date(reopened, newer),
        _with_date(update, newer),
    )
    text = ExtractiveGenerator().answer(
        _ask("¿En cuántas cuadras de Barracas hay tipas ahora?", *blocks)
    )
    # The newer episode names Barracas only in its opening; its host restates the old figure.
    assert text.startswith(
        "Lo más reciente, en «Techos verdes» (2024-04-02, 01:21), Hannah dice:"
    ), text
    assert "once cuadras" in text and "primer episodio" not in text
    assert "Antes, en «Barracas, una isla de calor»" in text


def _with_date(block: ContextBlock, published: date) -> ContextBlock:
    return ContextBlock(block.number, replace(block.citation, published=published))


def test_an_episode_opening_is_a_topic_only_for_questions_across_episodes() -> None:
    opening = _block(
        (Sentence("Hoy hablamos con Hannah de lo que vio en Barracas.", 12.0, 18.0, "Lucía"),),
        title="Techos verdes",
    )
    told = _block(
        (Sentence("Valeria me contó que las tipas cubren once cuadras.", 81.0, 85.0, "Hannah"),),
        number=2,
        title="Techos verdes",
    )
    plain = _ask("¿En cuántas cuadras de Barracas hay tipas?", opening, told)
    assert ExtractiveGenerator().answer(plain) == NOT_FOUND["es"]
    now = _ask("¿En cuántas cuadras de Barracas hay tipas ahora?", opening, told)
    assert "once cuadras" in ExtractiveGenerator().answer(now)


def test_a_question_word_the_transcript_misspelled_still_matches() -> None:
    heard = _block(
        (
            Sentence(
                "La sorpresa y el disgusto que produjo a Wentworth la substitución de una coñada "
                "por otra.",
                0.0,
                14.6,
                "SPEAKER_00",
            ),
        ),
        title="es_3spk_constructed",
    )
    question = "¿Qué sintió Wentworth con la sustitución de una cuñada por otra?"
    assert "disgusto" in ExtractiveGenerator().answer(_ask(question, heard))
    # Only absent words are matched by spelling: "calientes" is found, "clientes" is not it.
    shop = _block((Sentence("Los clientes dicen que las calles están calientes.", 1, 4, "Ana"),))
    analysed = analyze_question("¿Qué calles están calientes?")
    widened = hear_alike(analysed, build_candidates((shop,), "es"))
    assert widened.groups == analysed.groups


def test_a_short_name_is_not_matched_by_sound() -> None:
    dry = _block(
        (Sentence("Las tipas aguantan bien la sequía del verano.", 74.0, 80.0, "Valeria Quiroga"),)
    )
    relation = _ask("How is Sheila connected to Valeria Quiroga?", dry, language="en")
    assert ExtractiveGenerator().answer(relation) == NOT_FOUND["en"]


class Counting(Table):
    def __init__(self) -> None:
        super().__init__({"a": (1.0, 0.0), "b": (0.0, 1.0), "c": (0.6, 0.8)})
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        return super().embed(texts)


def test_word_vectors_are_cached_within_a_bound() -> None:
    encoder = Counting()
    vectors = TextVectors(encoder, size=2)
    assert vectors.matrix(["a", "b", "a"]).tolist() == [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]
    vectors.matrix(["a", "b"])
    assert encoder.embedded == ["a", "b"]  # each word embedded once
    vectors.matrix(["c"])  # evicts the least recently used ("a")
    vectors.matrix(["b", "a"])
    assert encoder.embedded == ["a", "b", "c", "a"]


def test_word_vectors_can_be_shared_by_concurrent_requests() -> None:
    words = [f"w{i}" for i in range(40)]
    vectors = TextVectors(Table({w: (1.0, 0.0) for w in words}), size=8)

    def ask(offset: int) -> bool:
        batch = [words[(offset + k) % len(words)] for k in range(12)]
        return all(row == [1.0, 0.0] for _ in range(50) for row in vectors.matrix(batch).tolist())

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: inside the cache's read-and-evict steps
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            assert all(pool.map(ask, range(16)))
    finally:
        sys.setswitchinterval(interval)
