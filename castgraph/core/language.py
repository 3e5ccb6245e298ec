"""Spanish or English? A deterministic guess from spelling and function words (no model).

Questions are short, so the evidence is weighed rather than counted naively: ``¿``/``¡`` only
occur in Spanish and weigh most; ``ñ`` and accented vowels weigh little, because English
questions about this channel name people like "Tomás" or "Lucía"; frequent function words that
exist in only one of the two languages carry the rest. Words shared by both (``a``, ``no``,
``me``, ``he``) are ignored. Without a clear margin the caller's default wins.
"""

from __future__ import annotations

import re

from castgraph.core.text import fold


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)

# Folded forms; each is frequent in one language and rare as a word of the other.
_SPANISH = _words(
    """
    el la los las del al de que y en un una unos unas por con para es esta estan estas este
    esto eso esa ese son pero como mas muy tambien donde cuando cuanto cuanta cuantos cuantas
    cual cuales quien quienes lo se su sus hay fue era yo tu nosotros ellos ella tiene tienen
    hace sobre entre porque segun desde hasta sin ya nos les le ni o u dice dijo habla
    """
)
_ENGLISH = _words(
    """
    the and of to is are was were in on at it this that these those with for you i we they
    have has do does did what where when who whom whose how which why not be been being will
    would can could should there their them an from by about into than then or if my your our
    his her its says said talk talks
    """
)
_SPANISH_MARKS = {"¿": 2.0, "¡": 2.0}
_ACCENTED = frozenset("áéíóúüñ")
_ACCENT_WEIGHT = 0.5
_MARGIN = 1.0
"""How much more evidence the winner needs; below it the text counts as ambiguous."""


def language_scores(text: str) -> tuple[float, float]:
    """The (Spanish, English) evidence found in ``text``."""
    spanish = sum(_SPANISH_MARKS.get(c, 0.0) for c in text)
    english = 0.0
    for word in _WORD.findall(text.replace("\u2019", "'")):
        lowered = word.lower()
        if any(c in _ACCENTED for c in lowered):
            spanish += _ACCENT_WEIGHT
        base, _, suffix = fold(lowered).partition("'")
        if suffix:  # contractions and possessives ("it's", "don't", "Tomás's") are English
            english += 1.0
        if base in _SPANISH:
            spanish += 1.0
        if base in _ENGLISH:
            english += 1.0
    return spanish, english


def detect_language(text: str, default: str = "es") -> str:
    """``"es"`` or ``"en"`` for ``text``; ``default`` when it is short or ambiguous."""
    spanish, english = language_scores(text)
    if spanish - english >= _MARGIN:
        return "es"
    if english - spanish >= _MARGIN:
        return "en"
    return default
