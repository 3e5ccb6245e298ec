"""Text analysis for the keyword index: fold, tokenise, drop stopwords, stem (Spanish/English).

Order matters. Text is folded (case and accents, ``¿¡``) *before* stemming so that a query typed
without accents ("cancion") meets a transcript that has them ("canción"): the Snowball stemmers
treat accented and unaccented spellings differently for some suffixes, so stemming first would
make accent-insensitivity depend on the word. A few Spanish suffixes whose accent is never
optional (``-logía``, ``-nomía``, ``-grafía``) get it back before stemming, so "tecnologia" and
"tecnológico" still share a stem.
"""

from __future__ import annotations

import re
import threading
from typing import Protocol

from castgraph.core.errors import DependencyError
from castgraph.core.text import fold

# Letters and digits only: ASCII punctuation never ends up inside a term, which is what lets the
# index store terms with FTS5's ``ascii`` tokenizer and quote them safely in MATCH expressions.
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)

_ALGORITHMS = {"es": "spanish", "spa": "spanish", "en": "english", "eng": "english"}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Folded forms. Kept short on purpose: frequent function words and spoken fillers only.
SPANISH_STOPWORDS = _words(
    """
    a al algo algun alguna algunas alguno algunos ante antes aqui asi aunque bueno cada como con
    contra cual cuales cuando de del desde donde e eh el ella ellas ello ellos en entonces entre
    era eramos eran eres es esa esas ese eso esos esta estaba estamos estan estar estas
    este esto estos estoy fue fueron ha habia han has hasta hay he hemos la las le les lo los mas
    me mi mis mucho muchos muy nada ni no nos nosotros o os otra otras otro otros para pero poco
    por porque pues que quien quienes se sea ser si sin sobre son su sus tambien te tiene tienen
    todo todos tu tus un una uno unos vale y ya yo
    """
)

ENGLISH_STOPWORDS = _words(
    """
    a about after all also am an and any are as at be because been before being but by can could
    d did do does doing don during each for from had has have having he her here hers him his how
    i if in into is it its just ll m me more most my no nor not now of off oh ok okay on only or
    other our ours out over re s she should so some such t than that the their theirs them then
    there these they this those through to too uh um up ve very was we were what when where which
    while who whom why will with would yeah yes you your yours
    """
)

STOPWORDS: dict[str, frozenset[str]] = {"spanish": SPANISH_STOPWORDS, "english": ENGLISH_STOPWORDS}

# Spanish endings that always carry an accent; restored after folding (see module docstring).
_SPANISH_ACCENTED_ENDINGS = (
    ("logias", "logías"),
    ("logia", "logía"),
    ("nomias", "nomías"),
    ("nomia", "nomía"),
    ("grafias", "grafías"),
    ("grafia", "grafía"),
)

ANALYZER_VERSION = "1"
"""Bumped whenever a change here changes the terms of some text: stored indexes re-analyse."""

MAX_QUERY_TERMS = 64
"""Longer queries are truncated: a pasted paragraph must not become a 500-way OR."""


class _Stemmer(Protocol):
    def stemWords(self, words: list[str]) -> list[str]: ...  # noqa: N802 (PyStemmer's name)


_local = threading.local()


def _stemmer(algorithm: str) -> _Stemmer:
    """This thread's stemmer for ``algorithm`` (PyStemmer objects are not thread-safe)."""
    cache: dict[str, _Stemmer] | None = getattr(_local, "stemmers", None)
    if cache is None:
        cache = _local.stemmers = {}
    stemmer = cache.get(algorithm)
    if stemmer is None:
        try:
            import Stemmer  # type: ignore[import-not-found]  # compiled module without stubs
        except ImportError as exc:
            raise DependencyError("pystemmer") from exc
        stemmer = cache[algorithm] = Stemmer.Stemmer(algorithm)
    return stemmer


def algorithm_for(language: str | None) -> str | None:
    """The Snowball algorithm for a language code ("es", "en-US", …), or None when unsupported."""
    if not language:
        return None
    code = language.strip().lower().replace("_", "-").split("-")[0]
    return _ALGORITHMS.get(code)


def tokenize(text: str) -> list[str]:
    """Folded word and number tokens of ``text``, in order, stopwords included."""
    return _TOKEN.findall(fold(text))


def _restore_spanish_accents(token: str) -> str:
    for plain, accented in _SPANISH_ACCENTED_ENDINGS:
        if token.endswith(plain) and len(token) > len(plain) + 1:
            return token[: -len(plain)] + accented
    return token


def _stem(tokens: list[str], algorithm: str | None) -> list[str]:
    if algorithm is None or not tokens:
        return tokens
    if algorithm == "spanish":
        tokens = [_restore_spanish_accents(t) for t in tokens]
    # Snowball may leave accents it did not touch (e.g. restored ones it did not strip).
    return [fold(s) for s in _stemmer(algorithm).stemWords(tokens)]


def analyze(text: str, language: str | None) -> list[str]:
    """Index terms of ``text`` in ``language``: folded, stopwords dropped, stemmed when supported.

    Languages other than Spanish and English are folded and tokenised but neither stopped nor
    stemmed.
    """
    algorithm = algorithm_for(language)
    tokens = tokenize(text)
    if algorithm is not None:
        stop = STOPWORDS[algorithm]
        tokens = [t for t in tokens if t not in stop]
    return _stem(tokens, algorithm)


def analyze_both(text: str) -> list[str]:
    """``text`` analysed as Spanish and as English: what matches a word in either language."""
    return analyze(text, "es") + analyze(text, "en")


def query_terms(text: str) -> list[str]:
    """Search terms for a query in either language: its Spanish and English analyses, merged.

    Stopwords are decided once for the whole query: when the query holds more stopwords of one
    language it is taken to be in that language and only those are dropped (so "son" survives in
    "the son of Juan"); otherwise the stopwords of both languages are dropped, so an English
    query never turns "la" into a term that matches every Spanish chunk.
    """
    tokens = tokenize(text)
    spanish = sum(t in SPANISH_STOPWORDS for t in tokens)
    english = sum(t in ENGLISH_STOPWORDS for t in tokens)
    if spanish > english:
        stop = SPANISH_STOPWORDS
    elif english > spanish:
        stop = ENGLISH_STOPWORDS
    else:
        stop = SPANISH_STOPWORDS | ENGLISH_STOPWORDS
    content = [t for t in tokens if t not in stop]
    pairs = zip(_stem(content, "spanish"), _stem(content, "english"), strict=True)
    merged = dict.fromkeys(term for pair in pairs for term in pair)
    return list(merged)[:MAX_QUERY_TERMS]
