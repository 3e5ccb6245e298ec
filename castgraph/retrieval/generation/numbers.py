"""Numbers in transcript text, in digits or in Spanish and English words ("cuarenta", "twenty
three"), for the extractive answerer's kinds of fact and the LLM post-check."""

from __future__ import annotations

from collections.abc import Sequence

_UNITS = "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince"
_SPANISH_NUMBERS = {w: i for i, w in enumerate(_UNITS.split())} | {
    "dieciseis": 16, "diecisiete": 17, "dieciocho": 18, "diecinueve": 19, "veinte": 20,
    "veintiuno": 21, "veintidos": 22, "veintitres": 23, "veinticuatro": 24, "veinticinco": 25,
    "veintiseis": 26, "veintisiete": 27, "veintiocho": 28, "veintinueve": 29, "treinta": 30,
    "cuarenta": 40, "cincuenta": 50, "sesenta": 60, "setenta": 70, "ochenta": 80, "noventa": 90,
    "cien": 100, "ciento": 100, "mil": 1000, "millon": 10**6, "millones": 10**6,
}  # fmt: skip
_ENGLISH_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
)
_ENGLISH_NUMBERS = {w: i for i, w in enumerate(_ENGLISH_UNITS.split())} | {
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90, "hundred": 100, "thousand": 1000, "million": 10**6, "millions": 10**6,
}  # fmt: skip
NUMBER_WORDS = _SPANISH_NUMBERS | _ENGLISH_NUMBERS
_TENS = frozenset(range(20, 100, 10))


def number_values(tokens: Sequence[str]) -> frozenset[int]:
    """Numbers written in digits or words; "twenty three" also counts as 23."""
    values: set[int] = set()
    previous: int | None = None
    for token in tokens:
        if token in ("y", "and") and previous is not None:
            continue
        value = int(token) if token.isdigit() and len(token) < 10 else NUMBER_WORDS.get(token)
        if value is not None:
            values.add(value)
            if previous in _TENS and 0 < value < 10:
                values.add(previous + value)
        previous = value
    return frozenset(values)
