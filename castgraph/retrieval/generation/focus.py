"""What a question is about: its named entities, and whether it asks how two of them relate.

Names are capitalised words, but a question's names are *entities*: "Hannah Lindqvist con el
Observatorio Urbano del Sur" names two of them, "Mercado de San Telmo" one (particles such as
"de", "of", "van" join capitalised words; other words end a name). Months and weekdays are
capitalised in English but name no one: "the February heat wave" is about a heat wave.

A relation question ("How is X connected to Y?", "¿Qué tiene que ver X con Y?") asks for
nothing but the link between its entities: its framing words ("connected", "relación", "tiene
que ver") are not content to find in the answer, and every entity it names must be attested.

The asked kind of fact comes from the question words ("¿cuántos…?" a number, "how old" an age,
"when" a time, "who" a person, "where" a place), and from a kind noun after "qué/cuál/what/
which": "¿En qué *año*…?", "What *city*…?". Such a noun says what kind of answer is wanted, not
what the answer talks about: "Empezamos en 2019" answers "¿En qué año empezaron?" without the
word "año", so it is framing, not content.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from castgraph.core.text import fold


def word_set(text: str) -> frozenset[str]:
    """The words of a space-separated list (how the word lists of the answerer are written)."""
    return frozenset(text.split())


CALENDAR = word_set(
    """
    enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre
    diciembre january february march april may june july august september october november
    december lunes martes miercoles jueves viernes sabado domingo monday tuesday wednesday
    thursday friday saturday sunday
    """
)
"""Folded month and weekday names: capitalised in English, never a question's focus entity."""
PARTICLES = word_set("de del la las los el y e of the van von der da di du le")
"""Folded words that may stand between the capitalised words of one name."""
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_RELATION = re.compile(
    r"\b(?:qu[eé]\s+relaci[oó]n|relaci[oó]n\s+(?:entre|con|tiene|hay)|relacionad[oa]s?\s+con|"
    r"qu[eé]\s+tienen?\s+que\s+ver|qu[eé]\s+v[ií]nculo|c[oó]mo\s+se\s+conoc|"
    r"conexi[oó]n\s+(?:entre|con)|conectad[oa]s?\s+con|"
    r"connected\s+(?:to|with)|connection\s+(?:between|to|with)|relat(?:ed|ionship|ion)\s+"
    r"(?:to|between|with)|link(?:ed)?\s+(?:to|between|with)|what\s+links|"
    r"how\s+(?:do|does|did)\s+\w+(?:\s+\w+)?\s+know)\b",
    re.IGNORECASE,
)
RELATION_WORDS = word_set(
    """
    relacion relaciona relacionan relacionado relacionada relacionados relacionadas tiene
    tienen ver vinculo vinculos conexion conectado conectada conectados conocen conoce
    connected connection connections related relationship relation link links linked know
    knows knew
    """
)
"""Folded framing words of a relation question: what it asks, not what the answer says."""


def asks_relation(question: str) -> bool:
    """Whether ``question`` asks how its entities relate ("¿Qué relación tiene X con Y?")."""
    return _RELATION.search(question) is not None


def entity_runs(text: str) -> list[list[str]]:
    """The folded words of each name in ``text``: runs of capitalised words, particles allowed
    between two of them; a lone capitalised first word (the question's own first word) and
    calendar words are no names."""
    words = _WORD.findall(text)
    runs: list[list[str]] = []
    current: list[str] = []
    pending: list[str] = []  # particles after a name word, kept if another name word follows
    for i, word in enumerate(words):
        folded = fold(word)
        capital = word[0].isupper() and folded not in CALENDAR
        if capital and i == 0 and not (len(words) > 1 and words[1][0].isupper()):
            capital = False
        if capital:
            current.extend(pending)
            current.append(folded)
            pending = []
        elif current and folded in PARTICLES:
            pending.append(folded)
        else:
            if current:
                runs.append(current)
            current, pending = [], []
    if current:
        runs.append(current)
    return runs


_HOW_MUCH = {("how", w) for w in ("many", "much", "long", "far")}
_AGE = re.compile(
    r"\b(?:how\s+old|what\s+age|qu[eé]\s+edad|cu[aá]nt[oa]s\s+a[nñ]os\s+"
    r"(?:tiene|tienen|ten[ií]a|ten[ií]an|tuvo|cumple|cumpli[oó]|cumplen))\b",
    re.IGNORECASE,
)
AGE_WORDS = frozenset(["old", "age", "edad", "anos"])
"""Folded words that ask for an age ("how *old*"): they say nothing about whose age."""
_AMOUNT = {(noun, "de") for noun in ("cantidad", "numero", "total")} | {
    (noun, "of") for noun in ("number", "amount", "total")
}
CHANGE_WORDS = word_set(
    """
    ahora actualmente hoy todavia sigue siguen cambio cambiado cambiaron ultimo ultima ultimos
    ultimas nuevo nueva reciente recientes recientemente antes despues now currently today
    still change changed changes latest newest recent recently update updated anymore before
    after
    """
)
"""Folded words that ask about change over time: they frame such a question, the answer need
not repeat them."""
_WHICH = frozenset(["que", "cual", "cuales", "what", "which"])
KIND_NOUNS = {
    **dict.fromkeys(["ano", "anos", "year", "years", "fecha", "date", "mes", "month"], "time"),
    **dict.fromkeys(
        [
            "ciudad",
            "ciudades",
            "city",
            "cities",
            "town",
            "pais",
            "country",
            "barrio",
            "neighbourhood",
            "neighborhood",
            "lugar",
            "place",
            "pueblo",
            "village",
            "provincia",
            "province",
            "estado",
            "state",
        ],
        "place",
    ),
}
"""Folded nouns that, after "qué/cuál/what/which", name the kind of answer wanted."""


def asked_kind(question: str, tokens: Sequence[str]) -> tuple[str, frozenset[int]]:
    """The kind of fact ``question`` asks for ("number", "age", "time", "person", "place" or
    "") and the positions in ``tokens`` (its folded tokens) of the kind nouns that frame it."""
    framing = frozenset(
        i + 1
        for i, (word, following) in enumerate(itertools.pairwise(tokens))
        if word in _WHICH and following in KIND_NOUNS
    )
    pairs = list(itertools.pairwise(tokens))
    # "la cantidad de cuadras", "the number of blocks": a count, framed by its noun.
    amounts = frozenset(i for i, pair in enumerate(pairs) if pair in _AMOUNT)
    words = set(tokens)
    if _AGE.search(question):
        return "age", framing
    if amounts or words & {"cuanto", "cuanta", "cuantos", "cuantas"} or set(pairs) & _HOW_MUCH:
        return "number", framing | amounts
    if framing:
        return KIND_NOUNS[tokens[min(framing)]], framing
    if words & {"cuando", "when", "ano", "year"}:
        return "time", framing
    if words & {"quien", "quienes", "who", "whom", "whose"}:
        return "person", framing
    if words & {"donde", "adonde", "where"}:
        return "place", framing
    return "", framing
