"""Word error rate with a text normalisation fair to both sides.

``normalize_text`` is applied identically to the reference and the hypothesis, so it only ever
removes differences of *writing*, never of words: case, punctuation (including ``¿¡``), spacing,
hyphenation, digits versus number words (digits are spelled out), and a few unambiguous
abbreviations (``Mr.`` → ``mister``, ``Sr.`` → ``señor``). Accents are kept: in Spanish they
distinguish words (``si``/``sí``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

__all__ = ["normalize_text", "number_to_words", "word_edit_distance", "word_error_rate"]

_ABBREVIATIONS: dict[str, dict[str, str]] = {
    "en": {
        "mr": "mister",
        "mrs": "missus",
        "dr": "doctor",
        "prof": "professor",
        "jr": "junior",
        "sr": "senior",
        "vs": "versus",
        "etc": "etcetera",
    },
    "es": {
        "sr": "señor",
        "sra": "señora",
        "srta": "señorita",
        "sres": "señores",
        "dr": "doctor",
        "dra": "doctora",
        "d": "don",
        "dña": "doña",
        "ud": "usted",
        "uds": "ustedes",
        "vd": "usted",
        "vds": "ustedes",
        "etc": "etcétera",
        "núm": "número",
        "nº": "número",
    },
}
_SPELLING: dict[str, dict[str, str]] = {"en": {"ok": "okay"}}
_PERCENT = {"en": "percent", "es": "por ciento"}
_DECIMAL = {"en": "point", "es": "coma"}

_EN_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_EN_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ES_ONES = [
    "cero",
    "uno",
    "dos",
    "tres",
    "cuatro",
    "cinco",
    "seis",
    "siete",
    "ocho",
    "nueve",
    "diez",
    "once",
    "doce",
    "trece",
    "catorce",
    "quince",
    "dieciséis",
    "diecisiete",
    "dieciocho",
    "diecinueve",
    "veinte",
    "veintiuno",
    "veintidós",
    "veintitrés",
    "veinticuatro",
    "veinticinco",
    "veintiséis",
    "veintisiete",
    "veintiocho",
    "veintinueve",
]
_ES_TENS = [
    "_",
    "_",
    "_",
    "treinta",
    "cuarenta",
    "cincuenta",
    "sesenta",
    "setenta",
    "ochenta",
    "noventa",
]
_ES_HUNDREDS = [
    "_",
    "ciento",
    "doscientos",
    "trescientos",
    "cuatrocientos",
    "quinientos",
    "seiscientos",
    "setecientos",
    "ochocientos",
    "novecientos",
]
_SCALES = (
    (10**9, "billion", "mil millones", "mil millones"),
    (10**6, "million", "millón", "millones"),
    (10**3, "thousand", "mil", "mil"),
)


def _en_below_thousand(n: int) -> list[str]:
    words: list[str] = []
    if n >= 100:
        words += [_EN_ONES[n // 100], "hundred"]
        n %= 100
        if n == 0:
            return words
    if n < 20:
        return [*words, _EN_ONES[n]]
    words.append(_EN_TENS[n // 10])
    return words + ([_EN_ONES[n % 10]] if n % 10 else [])


def _es_below_thousand(n: int) -> list[str]:
    if n == 100:
        return ["cien"]
    words: list[str] = []
    if n >= 100:
        words.append(_ES_HUNDREDS[n // 100])
        n %= 100
        if n == 0:
            return words
    if n < 30:
        return [*words, _ES_ONES[n]]
    words.append(_ES_TENS[n // 10])
    return words + (["y", _ES_ONES[n % 10]] if n % 10 else [])


def _apocope(words: str) -> str:
    """Spanish "uno" before a noun: "veintiún mil", "treinta y un millones"."""
    if words.endswith("veintiuno"):
        return words[: -len("veintiuno")] + "veintiún"
    return words[:-1] if words.endswith("uno") else words


def number_to_words(n: int, language: str) -> str:
    """Spell a non-negative integer in English or Spanish (cardinal, no "and")."""
    es = language == "es"
    below = _es_below_thousand if es else _en_below_thousand
    if n < 1000:
        return " ".join(below(n))
    words: list[str] = []
    for value, en_name, es_one, es_many in _SCALES:
        count, n = divmod(n, value)
        if not count:
            continue
        if not es:
            words += [number_to_words(count, language), en_name]
        elif count == 1:
            words += es_one.split() if value != 10**6 else ["un", es_one]
        else:
            words += [_apocope(number_to_words(count, language)), es_many]
    if n:
        words += below(n)
    return " ".join(words)


def _language(language: str | None) -> str:
    return (language or "").lower().replace("_", "-").split("-")[0]


def _expand_abbreviations(text: str, lang: str) -> str:
    """Spell out dotted abbreviations only: "Mr." and "D." are abbreviations, "d" may not be."""
    table = _ABBREVIATIONS.get(lang, {})

    def expand(match: re.Match[str]) -> str:
        return table.get(match.group(1).lower(), match.group(0)) + match.group(2)

    return re.sub(r"\b(\w+)\.(\s|$)", expand, text)


def _spell_numbers(text: str, lang: str) -> str:
    if lang not in ("en", "es"):
        return text
    group = "," if lang == "en" else "."
    decimal = "." if lang == "en" else ","
    text = re.sub(rf"(?<=\d)\{group}(?=\d{{3}}\b)", "", text)  # 1,000 / 1.000
    text = re.sub(r"(\d)\s*%", rf"\1 {_PERCENT[lang]}", text)

    def spell(match: re.Match[str]) -> str:
        whole, frac = match.group(1), match.group(2)
        words = number_to_words(int(whole), lang)
        if frac:
            digits = " ".join(number_to_words(int(d), lang) for d in frac)
            words += f" {_DECIMAL[lang]} {digits}"
        return f" {words} "

    return re.sub(rf"(\d+)(?:\{decimal}(\d+))?", spell, text)


def _strip_punctuation(text: str) -> str:
    """Everything that is not a letter, digit or in-word apostrophe becomes a space."""
    text = text.replace("’", "'").replace("‘", "'")
    kept = [c if unicodedata.category(c)[0] in "LNM" or c == "'" else " " for c in text]
    words = ("".join(kept)).split()
    return " ".join(w.strip("'") for w in words if w.strip("'"))


def normalize_text(text: str, language: str | None = None) -> str:
    """Lower-cased words, punctuation removed, numbers and abbreviations spelled out (en/es)."""
    lang = _language(language)
    text = unicodedata.normalize("NFC", text)
    text = _expand_abbreviations(text, lang)
    text = _spell_numbers(text, lang)
    text = _strip_punctuation(text.lower())
    spelling = _SPELLING.get(lang, {})
    return " ".join(spelling.get(w, w) for w in text.split())


def word_edit_distance(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance between two word sequences (substitutions, deletions, insertions)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            cost = 0 if ref_word == hyp_word else 1
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost))
        previous = current
    return previous[-1]


def word_error_rate(reference: str, hypothesis: str, language: str | None = None) -> float:
    """Word errors / reference words after :func:`normalize_text`; 0 or 1 for an empty reference."""
    ref = normalize_text(reference, language).split()
    hyp = normalize_text(hypothesis, language).split()
    if not ref:
        return 0.0 if not hyp else 1.0
    return word_edit_distance(ref, hyp) / len(ref)
