"""What a question is about: its named entities, and whether it asks how two of them relate.

Names are capitalised words, but a question's names are *entities*: "Hannah Lindqvist con el
Observatorio Urbano del Sur" names two of them, "Mercado de San Telmo" one (particles such as
"de", "of", "van" join capitalised words; other words end a name). Months and weekdays are
capitalised in English but name no one: "the February heat wave" is about a heat wave.

A relation question ("How is X connected to Y?", "¿Qué tiene que ver X con Y?") asks for
nothing but the link between its entities: its framing words ("connected", "relación", "tiene
que ver") are not content to find in the answer, and every entity it names must be attested.
"""

from __future__ import annotations

import re

from castgraph.core.text import fold


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


CALENDAR = _words(
    """
    enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre
    diciembre january february march april may june july august september october november
    december lunes martes miercoles jueves viernes sabado domingo monday tuesday wednesday
    thursday friday saturday sunday
    """
)
"""Folded month and weekday names: capitalised in English, never a question's focus entity."""
PARTICLES = _words("de del la las los el y e of the van von der da di du le")
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
RELATION_WORDS = _words(
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
