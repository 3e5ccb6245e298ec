"""Whether a sentence itself holds the kind of fact a question asks for.

- a **number** for "how many": not a year ("2019" counts nothing), and when the question names
  what it counts ("how many *tipa trees*") and the sentence mentions it, a number must count it:
  "tipas en cuatro cuadras" counts blocks, and a number followed by a unit ("13 *hours*",
  "cuatro *cuadras*") counts that unit, not the trees;
- an **age** for "how old" / "¿cuántos años tiene…?": a number that is not a duration ("hace
  treinta años", "for fifteen years", "ten years ago" say how long, not how old);
- a number or a month for "when" / "what year";
- a **name** for "who": the named speaker (for "who said…"), or a capitalised name that is not
  one of the question's own;
- a **place** for "where" / "what city": a place phrase ("en el observatorio urbano") or a
  capitalised name, but not one of the question's own names: "This is Diane in New Jersey" does
  not say in which city of New Jersey Diane lives.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz import fuzz

from castgraph.retrieval.generation.candidates import speaker_name
from castgraph.retrieval.generation.focus import PARTICLES, entity_runs, word_set
from castgraph.retrieval.generation.numbers import number_values
from castgraph.retrieval.generation.relevance import Candidate, Question, has_kind
from castgraph.retrieval.keyword.analyzer import (
    ENGLISH_STOPWORDS,
    SPANISH_STOPWORDS,
    analyze_both,
    tokenize,
)

COUNT_WINDOW = 3
"""How many words after a number may stand before the thing it counts ("40 sensores")."""
PLACE_WINDOW = 3
"""Content words after a place word ("en", "at") that make up the place it names."""
_PLACE_WORDS = word_set("en desde cerca barrio ciudad in at from near city town")
UNITS = word_set(
    """
    segundo segundos minuto minutos hora horas dia dias semana semanas mes meses ano anos
    second seconds minute minutes hour hours day days week weeks month months year years
    grado grados degree degrees metro metros kilometro kilometros meter meters metre metres
    kilometer kilometers km cuadra cuadras block blocks hectarea hectareas hectare hectares
    kilo kilos gramo gramos litro litros kg gram grams liter liters litre litres pound pounds
    peso pesos dolar dolares dollar dollars euro euros vez veces times percent porciento
    """
)
"""Folded unit words: a number right before one counts that unit ("13 hours", "4 cuadras")."""
NAME_SIMILARITY = 80
"""rapidfuzz ratio at which a heard word is the question's name ("maleria" for "valeria")."""
MIN_FUZZY_LENGTH = 5
_DURATION_BEFORE = word_set("hace desde durante for since during over")
_DURATION_AFTER = word_set("ago atras")
_STOP = SPANISH_STOPWORDS | ENGLISH_STOPWORDS


def kind_attested(question: Question, candidate: Candidate) -> bool:
    """The sentence itself holds the kind of fact asked for (any, when the kind is open)."""
    kind = question.kind
    if not kind:
        return True
    if kind == "person" and speaker_name(candidate.speaker):
        return True  # "who said…?": the named speaker is the answer
    tokens = tokenize(candidate.text)
    if kind == "number":
        return bool(number_values(_without_years(tokens)))
    if kind == "age":
        return bool(number_values(_without_durations(_without_years(tokens))))
    if kind == "place":
        return _names_a_place(question, tokens) or _other_names(question, candidate.text)
    if kind == "person":
        return _other_names(question, candidate.text)
    return has_kind(kind, candidate.text, tokens, number_values(tokens))


def counts(counted: frozenset[str], candidate: Candidate) -> bool:
    """When the sentence names the counted thing, one of its numbers counts it."""
    if not counted or not counted & candidate.terms:
        return True
    tokens = tokenize(candidate.text)
    for i, token in enumerate(tokens):
        if not number_values([token]) or i + 1 >= len(tokens):
            continue
        following = tokens[i + 1 : i + 1 + COUNT_WINDOW]
        if following[0] in UNITS and not counted.intersection(analyze_both(following[0])):
            continue  # "13 hours … trees": the number counts hours
        if any(counted.intersection(analyze_both(t)) for t in following):
            return True
    return False


def other_names(question: Question, text: str) -> list[list[str]]:
    """The names in ``text`` (runs of capitalised words, ``focus.entity_runs``) of which no word
    is one of the question's: "New Jersey" is the question's "Nueva Jersey"."""
    return [
        run
        for run in entity_runs(text)
        if not any(_is_asked(question, w) for w in run if w not in PARTICLES)
        and any(len(w) > 1 for w in run)
    ]


def _other_names(question: Question, text: str) -> bool:
    return bool(other_names(question, text))


def _is_asked(question: Question, folded: str) -> bool:
    """Whether a folded word of a name is one of the question's words, as written or misheard
    ("jersey" is asked in "Nueva Jersey"). Stems are too loose for names: "Tomé" and "Tomás"
    share the Spanish stem "tom"."""
    if folded in question.words:
        return True
    return len(folded) >= MIN_FUZZY_LENGTH and any(
        fuzz.ratio(folded, question.words[i]) >= NAME_SIMILARITY
        for i in question.names
        if i < len(question.words)
    )


def _names_a_place(question: Question, tokens: Sequence[str]) -> bool:
    """A place word followed by a place that is not one of the question's names ("en el
    observatorio urbano" counts, "in New Jersey" does not when New Jersey is asked about)."""
    names = frozenset().union(*(question.groups[i] for i in question.names))
    for i, token in enumerate(tokens):
        if token not in _PLACE_WORDS:
            continue
        place = [t for t in tokens[i + 1 : i + 1 + 2 * PLACE_WINDOW] if t not in _STOP]
        place = place[:PLACE_WINDOW]
        if place and not any(names & (frozenset(analyze_both(t)) | {t}) for t in place):
            return True
    return False


def _without_years(tokens: Sequence[str]) -> list[str]:
    """Tokens without years ("2019", "dos mil diecinueve"): a year does not answer a count."""
    kept: list[str] = []
    skip = 0
    for i, token in enumerate(tokens):
        if skip:
            skip -= 1
            continue
        if token.isdigit() and len(token) == 4 and 1800 <= int(token) <= 2100:
            continue
        if token in ("dos", "two") and i + 1 < len(tokens) and tokens[i + 1] in ("mil", "thousand"):
            skip = 2  # "dos mil diecinueve": the year's words
            continue
        kept.append(token)
    return kept


def _without_durations(tokens: Sequence[str]) -> list[str]:
    """Tokens without the numbers of durations ("hace treinta años", "ten years ago")."""
    kept: list[str] = []
    for i, token in enumerate(tokens):
        if number_values([token]):
            before = tokens[max(0, i - 2) : i]
            after = tokens[i + 1 : i + 4]
            if _DURATION_BEFORE.intersection(before) or _DURATION_AFTER.intersection(after):
                continue
        kept.append(token)
    return kept
