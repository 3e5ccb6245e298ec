"""Speaker names from the transcript: the offline cues, one-to-one assignment, metadata fix-up."""

from __future__ import annotations

from castgraph.core.models import (
    NAME_CONFIDENCE_THRESHOLD,
    Segment,
    SpeakerGuess,
    Transcript,
    Word,
)
from castgraph.ingest.speakers import identify_speakers, metadata_names, whisper_hints
from castgraph.ingest.speakers.names import NameBook, name_at
from castgraph.ingest.transcribe._audio import prompt_text


def _transcript(*turns: tuple[str, str]) -> Transcript:
    """Turns of (label, text), one word every 0.4 s, each turn a segment."""
    segments: list[Segment] = []
    t = 0.0
    for label, text in turns:
        words = []
        for token in text.split():
            words.append(Word(token, t, t + 0.3, speaker=label))
            t += 0.4
        segments.append(Segment(words[0].start, words[-1].end, text, label, tuple(words)))
        t += 1.0
    return Transcript("es", tuple(segments), t)


def _names(guesses: list[SpeakerGuess], *, confident: bool = True) -> dict[str, str]:
    return {
        g.label: g.name
        for g in guesses
        if not confident or g.confidence >= NAME_CONFIDENCE_THRESHOLD
    }


A, B, C = "SPEAKER_00", "SPEAKER_01", "SPEAKER_02"


def test_spanish_interview() -> None:
    guesses = identify_speakers(
        _transcript(
            (A, "Bienvenidos. Soy Marta Ríos, y hoy estoy con Pablo Gil y una invitada."),
            (B, "Hola. Nuestra invitada es la doctora Inés Varela. Inés, contanos qué hacés."),
            (C, "Gracias por invitarme. Estudio los glaciares."),
            (A, "¿Y cómo se miden?"),
            (C, "Con drones y estacas."),
        )
    )
    assert _names(guesses) == {A: "Marta Ríos", B: "Pablo Gil", C: "Inés Varela"}
    by_label = {g.label: g for g in guesses}
    assert by_label[C].confidence > by_label[B].confidence  # introduced and addressed
    assert by_label[A].text.startswith("Soy Marta Ríos") and by_label[A].start is not None
    assert by_label[C].text == "Hola. Nuestra invitada es la doctora Inés Varela."[6:]


def test_english_interview() -> None:
    guesses = identify_speakers(
        _transcript(
            (A, "Welcome to the show. I'm Sam Porter, here with my co-host Dana Wu."),
            (B, "Hi everyone. Our guest today is Omar Haddad, a hydrologist. Welcome, Omar."),
            (C, "Thank you, it's great to be here."),
            (A, "So what do rivers do in a drought?"),
            (C, "They shrink, mostly."),
            (B, "Thank you, Omar, and thanks for listening."),
        )
    )
    assert _names(guesses) == {A: "Sam Porter", B: "Dana Wu", C: "Omar Haddad"}


def test_talking_with_two_guests_names_them_in_order() -> None:
    guesses = identify_speakers(
        _transcript(
            (A, "Today I'm talking with Lena Fox, a chemist, and with Raúl Soto."),
            (B, "Happy to be here."),
            (C, "Me too."),
            (A, "Lena, what do you do?"),
            (B, "Chemistry."),
        )
    )
    assert _names(guesses) == {B: "Lena Fox", C: "Raúl Soto"}


def test_self_introductions_in_every_form() -> None:
    cases = [
        "Hola, me llamo Julia Paredes.",
        "Mi nombre es Julia Paredes y vengo de lejos.",
        "Yo soy Julia Paredes.",
        "My name is Julia Paredes.",
        "I am Julia Paredes, a nurse.",
        "Hi, this is Julia Paredes.",
    ]
    for text in cases:
        guesses = identify_speakers(_transcript((A, text), (B, "Buenas.")))
        assert _names(guesses) == {A: "Julia Paredes"}, text


def test_addressed_before_a_turn_change_names_the_next_speaker() -> None:
    guesses = identify_speakers(
        _transcript(
            (A, "Qué buena pregunta. Valeria, ¿qué pensás?"),
            (B, "Que sí."),
        )
    )
    assert _names(guesses) == {B: "Valeria"}


def test_a_greeting_names_the_previous_speaker_weakly() -> None:
    guesses = identify_speakers(
        _transcript((A, "Empecemos."), (B, "Hola, Lucía. Gracias por la invitación."))
    )
    [guess] = guesses
    assert guess.label == A and guess.name == "Lucía"
    assert guess.confidence < NAME_CONFIDENCE_THRESHOLD  # a suggestion, not a name


def test_thanks_are_weaker_than_an_introduction() -> None:
    guesses = identify_speakers(
        _transcript(
            (A, "Nuestro invitado es Tomás Iriarte."),
            (B, "Hola a todos."),
            (A, "Gracias, Tomás Iriarte."),
        )
    )
    thanked = identify_speakers(_transcript((B, "Hola a todos."), (A, "Gracias, Tomás Iriarte.")))
    assert _names(guesses) == {B: "Tomás Iriarte"}
    [weak] = thanked
    assert weak.label == B and weak.confidence < guesses[0].confidence


def test_one_name_per_label_and_one_label_per_name() -> None:
    guesses = identify_speakers(
        _transcript(
            (A, "Soy Ana Gómez. Hoy estoy con Beto Ruiz."),
            (B, "Hola, Ana. Soy Beto Ruiz."),
            (A, "Gracias, Beto Ruiz."),
        )
    )
    assert _names(guesses, confident=False) == {A: "Ana Gómez", B: "Beto Ruiz"}
    assert len({g.name for g in guesses}) == len(guesses)


def test_titles_are_stripped() -> None:
    for text, name in [
        ("Nuestra invitada es la doctora Rosa Méndez.", "Rosa Méndez"),
        ("Our guest is Dr. Karl Lenz.", "Karl Lenz"),
        ("Me acompaña el profesor Hugo Sosa.", "Hugo Sosa"),
    ]:
        guesses = identify_speakers(_transcript((A, text), (B, "Hola.")))
        assert _names(guesses) == {B: name}, text


def test_name_parsing_stops_at_lowercase_words_and_punctuation() -> None:
    assert name_at("Ana de la Torre y su hermana") == ("Ana de la Torre", 15)
    assert name_at("Valeria Quiroga, climatóloga") == ("Valeria Quiroga", 15)
    assert name_at("Jan van der Berg Smit Jones") is not None
    assert name_at("Jan van der Berg Smit Jones")[0] == "Jan van der Berg Smit"  # type: ignore[index]
    assert name_at("climatóloga urbana") is None
    assert name_at("Hannah Lindqvist's study")[0] == "Hannah Lindqvist"  # type: ignore[index]


def test_words_that_are_not_names_are_ignored() -> None:
    for text in [
        "I'm British, and I'm Sorry.",
        "Soy de Buenos Aires.",
        "This is Buenos Aires.",
        "Bueno, contanos.",
        "Gracias por venir.",
        "Thank you, it's lovely to be here.",
        "Bienvenidos a La Sobremesa.",
    ]:
        assert identify_speakers(_transcript((A, text), (B, "Ok."), (A, "Sí."))) == [], text


def test_no_speaker_labels_no_guesses() -> None:
    words = (Word("Soy", 0, 0.3), Word("Ana", 0.4, 0.7), Word("Gómez.", 0.8, 1.0))
    transcript = Transcript("es", (Segment(0, 1, "Soy Ana Gómez.", None, words),), 1.0)
    assert identify_speakers(transcript) == []


def test_metadata_fixes_spelling_and_raises_confidence() -> None:
    transcript = _transcript(
        (A, "Soy Lucía Benítez y hoy estoy con Nicolás Pas."),
        (B, "Hola. Nuestra invitada es Valeria Kiroga. Valeria, contanos."),
        (C, "Trabajo en el observatorio."),
    )
    known = ["Valeria Quiroga", "Nicolás Paz"]
    plain = {g.label: g for g in identify_speakers(transcript)}
    fixed = {g.label: g for g in identify_speakers(transcript, known)}
    assert plain[B].name == "Nicolás Pas" and plain[C].name == "Valeria Kiroga"
    assert fixed[B].name == "Nicolás Paz" and fixed[C].name == "Valeria Quiroga"
    assert fixed[B].confidence > plain[B].confidence
    assert fixed[C].confidence > plain[C].confidence


def test_phonetic_and_fuzzy_matching() -> None:
    book = NameBook(["Valeria Quiroga", "Hannah Lindqvist", "Lucía Benítez", "Nicolás Paz"])
    assert book.match("valeria kiroga").name == "Valeria Quiroga"  # type: ignore[union-attr]
    assert book.match("Hana Lindkvist").name == "Hannah Lindqvist"  # type: ignore[union-attr]
    assert book.match("Lucia Venitez").name == "Lucía Benítez"  # type: ignore[union-attr]
    first = book.match("Nicolas")
    assert first is not None and first.name == "Nicolás Paz" and not first.full
    assert book.match("Pedro Paz") is None
    assert book.match("Roberto Quintana") is None


def test_a_first_name_takes_the_full_name_heard_elsewhere() -> None:
    guesses = identify_speakers(
        _transcript(
            (A, "Nuestra invitada es Inés Varela."),
            (B, "Hola."),
            (A, "Inés, ¿qué pensás?"),
            (B, "Que sí."),
        )
    )
    assert _names(guesses) == {B: "Inés Varela"}


def test_metadata_names_are_people_not_places_or_organisations() -> None:
    names = metadata_names(
        [
            "Barracas, una isla de calor",
            "La climatóloga Valeria Quiroga, del Observatorio Urbano del Sur, en Buenos Aires.",
            "Conducen Lucía Benítez y Nicolás Paz. Grabado en Parque Lezama.",
            "A special English edition with Hannah Lindqvist of the Delta Green Cities Lab.",
        ]
    )
    assert names == ["Valeria Quiroga", "Lucía Benítez", "Nicolás Paz", "Hannah Lindqvist"]


def test_hostile_text_is_bounded_and_clean() -> None:
    hostile = "Soy Ana\x1b[31m Gómez\x00. " + "Z" * 5000 + " x"
    guesses = identify_speakers(_transcript((A, hostile), (B, "Hola.")))
    assert all("\x1b" not in g.name and "\x00" not in g.name for g in guesses)
    assert all(len(g.name) <= 60 for g in guesses)
    long_name = "Soy " + " ".join(["Abcdefghijklmnopqrstuvwxyzabcdef"] * 3) + "."
    assert identify_speakers(_transcript((A, long_name), (B, "Hola."))) == []
    names = metadata_names(["Ana\x07 Gómez " * 2000])
    assert all("\x07" not in n for n in names)
    hints = whisper_hints(["Ana Gómez\x1b]0;x\x07", *(f"Persona Número{i}" for i in range(100))])
    assert sum(len(h) + 2 for h in hints) <= 200 and all("\x1b" not in h for h in hints)
    prompt = prompt_text(["Ana\nGómez", "B" * 500])
    assert prompt is not None and "\n" not in prompt and len(prompt) <= 200
    assert prompt_text([]) is None


def test_asr_style_comma_spliced_turns_and_misheard_cues() -> None:
    """Whisper base writes a turn as one sentence and mishears common words ("invitana")."""
    guesses = identify_speakers(
        _transcript(
            (A, "Buenas, soy Lucía Benítez, y hoy estoy con Nicolás Paz y una invitana."),
            (
                B,
                "Hola a todos, nuestra invitana es la notora Valeria Quiroga, clima todo la "
                "urmana, Valeria, contanos no me trabajas.",
            ),
            (C, "Gracias por invitarme, trabajo en el observatorio."),
            (A, "Tengo un mensaje de un oyente, Marta, de Lugano, pregunta si pintar sirve."),
            (C, "Sí, de Marta, un techo blanco refleja el sol."),
        ),
        ["Valeria Quiroga"],
    )
    assert _names(guesses) == {A: "Lucía Benítez", B: "Nicolás Paz", C: "Valeria Quiroga"}


def test_a_description_between_the_cue_and_the_name_is_skipped() -> None:
    guesses = identify_speakers(
        _transcript(
            (A, "I'm Sam Porter, here with my co -host, Dana Wu."),
            (B, "Our guest today is urban ecologist Hannah Lindqvist. Welcome."),
            (C, "Thanks."),
        )
    )
    assert _names(guesses) == {A: "Sam Porter", B: "Dana Wu", C: "Hannah Lindqvist"}
