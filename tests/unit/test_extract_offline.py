"""The offline (rule-based) entity and relation extractor, on Spanish, English and the demo."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from castgraph.core.errors import InputError
from castgraph.core.models import Chunk, Entity, Relation
from castgraph.core.text import entity_key
from castgraph.demo import EpisodeScript, load_channel, load_scripts
from castgraph.ingest.extract import NullExtractor, make_extractor
from castgraph.ingest.extract.offline import OfflineExtractor


def _chunks(texts: Sequence[str], speakers: Sequence[str] = ("SPEAKER_00",)) -> list[Chunk]:
    return [
        Chunk(f"ep-{i:05d}-v1", "ep", i, 10.0 * i, 10.0 * i + 9, t, tuple(speakers), "es", "T", "u")
        for i, t in enumerate(texts)
    ]


def _script_chunks(script: EpisodeScript, *, named: bool = False) -> list[Chunk]:
    """Two turns per chunk, speakers as diarization labels (or their names)."""
    labels = list(script.speakers)
    chunks = []
    for i in range(0, len(script.turns), 2):
        turns = script.turns[i : i + 2]
        speakers = tuple(
            dict.fromkeys(
                script.speaker_name(t.speaker)
                if named
                else f"SPEAKER_{labels.index(t.speaker):02d}"
                for t in turns
            )
        )
        text = " ".join(t.text for t in turns)
        chunks.append(
            Chunk(f"{script.id}-{i:05d}-v1", script.id, i, i, i + 1, text, speakers, "es", "", "")
        )
    return chunks


def _by_key(entities: Sequence[Entity]) -> dict[str, Entity]:
    return {e.key: e for e in entities}


def _extract(
    texts: Sequence[str], speakers: Sequence[str] = ("SPEAKER_00",)
) -> tuple[dict[str, Entity], list[Relation]]:
    entities, relations = OfflineExtractor().extract(_chunks(texts, speakers))
    return _by_key(entities), relations


@pytest.fixture(scope="module")
def demo() -> dict[str, tuple[list[Entity], list[Relation]]]:
    return {s.id: OfflineExtractor().extract(_script_chunks(s)) for s in load_scripts()}


def test_demo_recurring_names_are_found_with_their_types(
    demo: dict[str, tuple[list[Entity], list[Relation]]],
) -> None:
    recurring = [
        r for r in load_channel().recurring if r.type in ("person", "organization", "place")
    ]
    assert len(recurring) >= 7
    for entity in recurring:
        for episode in entity.episodes:
            found = _by_key(demo[episode][0])
            assert entity_key(entity.name) in found, (entity.name, episode)
            assert found[entity_key(entity.name)].type == entity.type, (entity.name, episode)


def test_demo_first_episode_yields_exactly_the_expected_names(
    demo: dict[str, tuple[list[Entity], list[Relation]]],
) -> None:
    named = {(e.name, e.type) for e in demo["sobremesa-01"][0] if e.type != "topic"}
    assert named == {
        ("Avellaneda", "place"),
        ("Barracas", "place"),
        ("Buenos Aires", "place"),
        ("La Sobremesa", "other"),
        ("Lucía Benítez", "person"),
        ("Marta", "person"),
        ("Montes de Oca", "place"),
        ("Nicolás Paz", "person"),
        ("Observatorio Urbano del Sur", "organization"),
        ("Parque Lezama", "place"),
        ("Valeria Quiroga", "person"),
    }


def test_demo_other_episodes_find_their_own_names(
    demo: dict[str, tuple[list[Entity], list[Relation]]],
) -> None:
    second, third = _by_key(demo["sobremesa-02"][0]), _by_key(demo["sobremesa-03"][0])
    assert second["tucuman"].type == "place"
    assert second["entre rios"].type == "place"
    assert second["cooperativa trigo limpio"].type == "organization"
    assert second["la espiga"].type == "organization"
    assert "dona rosa" in second and "dona rosa" in third
    assert third["delta green cities lab"].type == "organization"
    assert third["rotterdam"].type == "place"
    assert third["hannah lindqvist"].type == "person"
    assert "Hannah" in third["hannah lindqvist"].aliases
    assert "Tomás" in third["tomas iriarte"].aliases
    assert second["masa madre"].type == "topic"
    assert third["green roofs"].type == "topic"


def test_demo_has_no_function_words_or_sentence_openers(
    demo: dict[str, tuple[list[Entity], list[Relation]]],
) -> None:
    junk = {
        "el", "la", "los", "pero", "bueno", "buenas", "hola", "gracias", "si", "exacto",
        "the", "and", "yes", "okay", "i", "so", "why", "welcome", "thank", "rain", "standing",
        "cooling", "colgamos", "escuche", "sirve", "english", "march", "saturday", "febrero",
    }  # fmt: skip
    for entities, _ in demo.values():
        keys = {e.key for e in entities} | {entity_key(a) for e in entities for a in e.aliases}
        assert not keys & junk
        assert all(
            e.type in ("person", "organization", "place", "topic", "other") for e in entities
        )


def test_pattern_relations_in_the_demo(
    demo: dict[str, tuple[list[Entity], list[Relation]]],
) -> None:
    works = [(r.source, r.target) for r in demo["sobremesa-03"][1] if r.type == "works_at"]
    assert works == [("Hannah Lindqvist", "Delta Green Cities Lab")]


def test_first_person_pattern_binds_to_the_named_speaker() -> None:
    chunks = _chunks(["Gracias por invitarme. Trabajo en el Observatorio Urbano del Sur."])
    named = [replace(c, speakers=("Valeria Quiroga",)) for c in chunks]
    entities, relations = OfflineExtractor().extract(named)
    assert _by_key(entities)["valeria quiroga"].chunk_ids == (chunks[0].id,)
    works = [(r.source, r.target) for r in relations if r.type == "works_at"]
    assert works == [("Valeria Quiroga", "Observatorio Urbano del Sur")]
    mentions = [(r.source, r.target) for r in relations if r.type == "mentions"]
    assert ("Valeria Quiroga", "Observatorio Urbano del Sur") in mentions
    unnamed, unnamed_relations = OfflineExtractor().extract(chunks)
    assert all("speaker" not in e.key for e in unnamed)
    assert not [r for r in unnamed_relations if r.type in ("works_at", "mentions")]


def test_spanish_names_and_types() -> None:
    found, relations = _extract(
        [
            "Hoy hablamos de Jorge Luis Borges. Borges nació en Buenos Aires en 1899.",
            "Estudió en la Universidad de Buenos Aires, y el Banco de la Nación le dio trabajo. "
            "El Sr. Pérez y la Dra. Gómez vinieron desde Córdoba.",
            "Pero bueno, el lunes fuimos a Montevideo. Juan Pérez, fundador de la Fundación Sol, "
            "habló del FMI y del Fondo Monetario Internacional.",
        ]
    )
    assert found["jorge luis borges"].type == "person"
    assert found["jorge luis borges"].aliases == ("Borges",)
    assert found["universidad de buenos aires"].type == "organization"
    assert found["banco de la nacion"].type == "organization"
    assert found["gomez"].type == "person"
    assert found["cordoba"].type == "place"
    assert found["montevideo"].type == "place"
    assert found["fondo monetario internacional"].aliases == ("FMI",)
    assert "lunes" not in found and "pero" not in found and "bueno" not in found
    triples = {(r.source, r.type, r.target) for r in relations if r.type != "co_occurs"}
    assert ("Jorge Luis Borges", "born_in", "Buenos Aires") in triples
    assert ("Juan Pérez", "founded", "Fundación Sol") in triples


def test_english_names_and_types() -> None:
    found, relations = _extract(
        [
            "Mr. Smith works at Acme Corporation. He reads The New York Times every Monday.",
            "Yes, and NASA sent Sarah Connor to London. Okay, thanks. So, why not?",
        ]
    )
    assert found["smith"].type == "person"
    assert found["acme corporation"].type == "organization"
    assert found["the new york times"].type == "organization"
    assert found["nasa"].type == "organization"
    assert found["sarah connor"].type == "person"
    assert found["london"].type == "place"
    assert not {"mr", "he", "monday", "yes", "okay", "thanks", "so", "why"} & set(found)
    assert ("Smith", "Acme Corporation") in [
        (r.source, r.target) for r in relations if r.type == "works_at"
    ]


def test_sentence_initial_words_need_corroboration() -> None:
    found, _ = _extract(
        ["Colgamos sensores en la plaza. Rotterdam es plana.", "Dice Borges que sí."]
    )
    assert "colgamos" not in found and "dice" not in found and "dice borges" not in found
    assert "rotterdam" in found
    assert "borges" in found
    lone, _ = _extract(["Tulipanes por todos lados."])
    assert "tulipanes" not in lone
    seen, _ = _extract(["Tulipanes por todos lados.", "Me encantan los de Tulipanes."])
    assert "tulipanes" in seen


def test_accent_and_case_variants_merge() -> None:
    found, _ = _extract(
        ["Lucía Benítez abrió el programa.", "Después habló Lucia Benitez otra vez."]
    )
    entity = found["lucia benitez"]
    assert entity.name == "Lucía Benítez"
    assert entity.aliases == ("Lucia Benitez",)
    assert entity.chunk_ids == ("ep-00000-v1", "ep-00001-v1")


def test_most_frequent_form_names_the_entity() -> None:
    found, _ = _extract(["Habló Lucia Benitez.", "Otra vez Lucia Benitez.", "Y Lucía Benítez."])
    assert found["lucia benitez"].name == "Lucia Benitez"


def test_ambiguous_first_names_stay_separate() -> None:
    found, _ = _extract(["Vinieron Ana García y Ana López.", "Después llegó Ana sola."])
    assert {"ana garcia", "ana lopez", "ana"} <= set(found)
    assert found["ana garcia"].aliases == ()


def test_partial_names_join_the_fullest_name_they_start_or_end() -> None:
    found, _ = _extract(
        [
            "Hoy está María José Rodríguez del Instituto Leloir. María José, ¿cómo estás?",
            "María se fue al Mercado de San Telmo, en San Telmo. Compró en la Espiga.",
            "La panadería La Espiga queda cerca.",
        ]
    )
    assert found["maria jose rodriguez"].aliases == ("María", "María José")
    assert found["instituto leloir"].type == "organization"
    assert found["san telmo"].aliases == ()  # the neighbourhood is not the market
    assert found["la espiga"].aliases == ("Espiga",)


def test_a_city_never_becomes_an_alias_of_an_organisation() -> None:
    found, _ = _extract(
        ["Estudié en la Universidad de Córdoba.", "Vivo en Córdoba desde entonces."]
    )
    assert found["cordoba"].type == "place"
    assert found["universidad de cordoba"].aliases == ()


def test_names_split_at_y_and_comma() -> None:
    found, _ = _extract(["Hoy estoy con Lucía Benítez y Nicolás Paz, como siempre."])
    assert {"lucia benitez", "nicolas paz"} <= set(found)
    assert not [k for k in found if "lucia" in k and "nicolas" in k]
    org, _ = _extract(["Hablamos con el Ministerio de Ciencia y Tecnología."])
    assert "ministerio de ciencia y tecnologia" in org


def test_co_occurrence_weights_and_provenance() -> None:
    found, relations = _extract(
        [
            "Valeria Quiroga midió el calor en Barracas.",
            "Valeria Quiroga volvió a Barracas.",
            "Barracas tiene una isla de calor.",
        ]
    )
    pair = [r for r in relations if {r.source, r.target} == {"Valeria Quiroga", "Barracas"}]
    assert len(pair) == 1
    assert pair[0].type == "co_occurs"
    assert (pair[0].source, pair[0].target) == ("Barracas", "Valeria Quiroga")  # key order
    assert pair[0].weight == 2.0
    assert pair[0].chunk_ids == ("ep-00000-v1", "ep-00001-v1")
    assert found["barracas"].chunk_ids == ("ep-00000-v1", "ep-00001-v1", "ep-00002-v1")


def test_topics_are_frequent_phrases_and_never_relate_to_each_other() -> None:
    texts = [
        "La masa madre necesita harina integral. La masa madre vive en la heladera.",
        "Tomás Iriarte cuida su masa madre con harina integral.",
        "La harina integral y la masa madre, dice Tomás Iriarte, son todo.",
    ]
    found, relations = _extract(texts)
    topics = {k for k, e in found.items() if e.type == "topic"}
    assert {"masa madre", "harina integral"} <= topics
    assert not {"madre", "masa", "harina", "la", "dice"} & topics
    types = {e.name: e.type for e in found.values()}
    for r in relations:
        assert not (types[r.source] == "topic" and types[r.target] == "topic")
    assert any({r.source, r.target} == {"Tomás Iriarte", "masa madre"} for r in relations)


def test_chunk_overlap_is_not_counted_twice() -> None:
    once = [
        "Hola a todos. Hablamos de fermentación lenta con harina.",
        "Hablamos de fermentación lenta con harina. Y después otra cosa.",
    ]
    found, _ = _extract(once)
    assert "fermentacion lenta" not in found
    found, _ = _extract([*once, "La fermentación lenta es clave."])
    assert found["fermentacion lenta"].chunk_ids == ("ep-00000-v1", "ep-00001-v1", "ep-00002-v1")


def test_demo_through_the_real_chunker() -> None:
    from castgraph.core.models import Episode, Segment, Transcript
    from castgraph.ingest.chunking import ChunkingOptions, chunk_transcript

    script = load_scripts()[0]
    segments = tuple(
        Segment(10.0 * i, 10.0 * i + 9, turn.text, script.speaker_name(turn.speaker))
        for i, turn in enumerate(script.turns)
    )
    transcript = Transcript(script.language, segments, 10.0 * len(segments))
    episode = Episode(script.id, script.id, script.title, "https://example.invalid/1")
    chunks = chunk_transcript(episode, transcript, ChunkingOptions(max_tokens=60, overlap=20))
    assert len(chunks) > 5
    entities, relations = OfflineExtractor().extract(chunks)
    found = _by_key(entities)
    assert found["valeria quiroga"].type == "person"
    assert found["observatorio urbano del sur"].type == "organization"
    assert found["barracas"].type == "place"
    # "Trabajo en ..." binds to a speaker only in single-speaker chunks: never to the wrong one.
    works = {(r.source, r.target) for r in relations if r.type == "works_at"}
    assert works <= {("Valeria Quiroga", "Observatorio Urbano del Sur")}
    assert found["lucia benitez"].chunk_ids[0] == chunks[0].id


def test_relations_are_capped_per_type() -> None:
    text = " ".join(f"Visitamos {city}." for city in ("Lima", "Quito", "Caracas", "Madrid", "Roma"))
    entities, relations = OfflineExtractor(max_relations=3).extract(_chunks([text, text]))
    assert len([e for e in entities if e.type == "place"]) == 5
    assert len([r for r in relations if r.type == "co_occurs"]) == 3


def test_extraction_is_deterministic(demo: dict[str, tuple[list[Entity], list[Relation]]]) -> None:
    for script in load_scripts():
        assert OfflineExtractor().extract(_script_chunks(script)) == demo[script.id]


def test_known_speakers_type_their_mentions_and_named_speakers_are_people() -> None:
    extractor = OfflineExtractor(speakers=["Zeta Quiroz"])
    entities, _ = extractor.extract(_chunks(["Hablamos con Zeta Quiroz en la radio."]))
    assert _by_key(entities)["zeta quiroz"].type == "person"
    entities, _ = OfflineExtractor().extract(_chunks(["Hola."], speakers=("Ana Paz", "SPEAKER_01")))
    assert [(e.name, e.type) for e in entities] == [("Ana Paz", "person")]


def test_empty_input_and_long_episode_stay_bounded() -> None:
    assert OfflineExtractor().extract([]) == ([], [])
    text = " ".join(t.text for s in load_scripts() for t in s.turns)
    chunks = _chunks([text] * 40)
    entities, relations = OfflineExtractor().extract(chunks)
    assert len([e for e in entities if e.type == "topic"]) <= 15
    assert len(relations) <= 200 * len({r.type for r in relations})


def test_factory() -> None:
    assert isinstance(make_extractor("offline"), OfflineExtractor)
    none = make_extractor("none")
    assert isinstance(none, NullExtractor)
    assert none.extract(_chunks(["Valeria Quiroga."])) == ([], [])
    with pytest.raises(InputError):
        make_extractor("bogus")  # type: ignore[arg-type]
