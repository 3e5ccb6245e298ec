"""Person names: reading one after a cue in a transcript, finding them in metadata, and matching
a heard name against the names the metadata and the voice registry spell right.

Whisper spells unfamiliar names by ear ("Valeria Kiroga", "Nicolas Pas"); feed and video
metadata usually spell them right. Matching is on folded, phonetically keyed words, so a heard
name that sounds like a known one takes the known spelling.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz

from castgraph.core.text import entity_key, fold, phonetic, strip_control
from castgraph.ingest.extract.gazetteer import GIVEN_NAMES, PLACES
from castgraph.ingest.extract.lexicon import (
    ALWAYS_DROP,
    FUNCTION_WORDS,
    ORG_KEYWORDS,
    PLACE_KEYWORDS,
)

MAX_NAME_WORDS = 3
"""Capitalised words in a name (particles such as "de" or "van" between them do not count)."""
MAX_NAME_CHARS = 60
MAX_WORD_CHARS = 24
MAX_HINT_CHARS = 200
"""Whisper's prompt is short (224 tokens, shared with the previous window's text)."""
MAX_METADATA_CHARS = 20_000
MATCH_RATIO = 84.0
"""rapidfuzz ratio of two phonetic keys above which two spellings are the same name."""

PARTICLES = frozenset(
    {"de", "del", "la", "las", "los", "da", "das", "do", "dos", "di", "du", "van", "von", "der"}
    | {"den", "le"}
)
# "I" and interjections, months, demonyms: capitalised, never (the start of) a person's name.
_NOT_NAMES = ALWAYS_DROP | {"i"}
_TITLE = re.compile(
    r"(?:(?:el|la|al|a\s+la|the|our|nuestr[oa])\s+)?"
    r"(?:doctora|doctor|dra\.?|dr\.?|profesora|profesor|professor|prof\.?|licenciad[oa]|lic\.?"
    r"|ingenier[oa]|ing\.?|señora|señorita|señor|sra\.?|srta\.?|sr\.?|mrs\.?|mr\.?|ms\.?|miss)"
    r"\s+",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[^\W\d_][\w'’-]*")
_POSSESSIVE = re.compile(r"['’]s$")


def clean(text: str) -> str:
    """Transcript or metadata text made safe to parse: no control characters, bounded."""
    return " ".join(strip_control(text, " ").split())[:MAX_METADATA_CHARS]


def _is_capitalised(word: str) -> bool:
    """ "Lucía", "McDonald": not "NASA" (an acronym) nor "A" (a sentence's first letter)."""
    return len(word) > 1 and word[0].isupper() and not word.isupper()


def name_at(text: str) -> tuple[str, int] | None:
    """The person name that starts ``text`` (after a title such as "la doctora" or "Dr."), and
    where it ends; None when ``text`` does not start with one.

    A name is 1-3 capitalised words, with lower-case particles between them ("Ana de la Torre");
    it stops at punctuation and at any other lower-case word.
    """
    title = _TITLE.match(text)
    pos = title.end() if title else 0
    words: list[str] = []
    pending: list[str] = []
    end = cursor = pos
    for match in _TOKEN.finditer(text, pos):
        if text[cursor : match.start()].strip():
            break  # punctuation between words ends the name
        cursor = match.end()
        word = match.group()
        possessive = bool(_POSSESSIVE.search(word))
        word = _POSSESSIVE.sub("", word)
        if len(word) > MAX_WORD_CHARS:
            return None
        if _is_capitalised(word) and fold(word) not in _NOT_NAMES:
            words += [*pending, word]
            pending, end = [], match.start() + len(word)
            if possessive or sum(1 for w in words if w[0].isupper()) >= MAX_NAME_WORDS:
                break
        elif words and word.islower() and fold(word) in PARTICLES:
            pending.append(word)
        else:
            break
    name = " ".join(words)
    if not name or len(name) > MAX_NAME_CHARS:
        return None
    return name, end


def is_place_or_org(name: str) -> bool:
    """Whether ``name`` looks like a place or an organisation rather than a person."""
    key = entity_key(name)
    return key in PLACES or any(w in ORG_KEYWORDS or w in PLACE_KEYWORDS for w in key.split())


def looks_like_given_name(name: str) -> bool:
    """Whether the first word of ``name`` is a common given name."""
    key = entity_key(name)
    return bool(key) and key.split()[0] in GIVEN_NAMES


def metadata_names(texts: Iterable[str], *, limit: int = 20) -> list[str]:
    """Candidate person names in titles, descriptions and channel names: runs of 2-3
    capitalised words that are not places or organisations, given names first."""
    found: dict[str, tuple[int, int, str]] = {}
    order = 0
    for text in texts:
        for run in _capitalised_runs(clean(text)):
            key = entity_key(run)
            if key and key not in found:
                rank = 0 if looks_like_given_name(run) else 1
                found[key] = (rank, order, run)
                order += 1
    return [name for _, _, name in sorted(found.values())][:limit]


def _capitalised_runs(text: str) -> Iterable[str]:
    """Person-like runs of 2-3 capitalised words; longer runs are titles or organisations."""
    for sentence in re.split(r"[.!?;:,()\[\]\"“”«»|/\n–—-]+", text):
        words: list[str] = []
        for match in _TOKEN.finditer(sentence):
            word = _POSSESSIVE.sub("", match.group())
            folded = fold(word)
            capitalised = _is_capitalised(word) and folded not in _NOT_NAMES | FUNCTION_WORDS
            if capitalised or (words and word.islower() and folded in PARTICLES):
                words.append(word)
            else:
                yield from _person_run(words)
                words = []
        yield from _person_run(words)


def _person_run(words: list[str]) -> Iterable[str]:
    while words and not words[-1][0].isupper():
        words = words[:-1]
    given = [i for i, w in enumerate(words) if fold(w) in GIVEN_NAMES]
    if given and given[0] > 0:
        words = words[given[0] :]  # "Conducen Lucía Benítez": a sentence's first word
    capitalised = sum(1 for w in words if w[0].isupper())
    name = " ".join(words)
    sized = 2 <= capitalised <= MAX_NAME_WORDS and len(name) <= MAX_NAME_CHARS
    if sized and not is_place_or_org(name):
        yield name


def whisper_hints(names: Sequence[str], *, max_chars: int = MAX_HINT_CHARS) -> list[str]:
    """The names to give Whisper as hotwords / initial prompt, within ``max_chars`` in all."""
    kept: list[str] = []
    used = 0
    seen: set[str] = set()
    for raw in names:
        name = clean(raw)[:MAX_NAME_CHARS].strip()
        key = entity_key(name)
        if not key or key in seen or used + len(name) + 2 > max_chars:
            continue
        seen.add(key)
        kept.append(name)
        used += len(name) + 2
    return kept


def _sound(word: str) -> str:
    return phonetic(entity_key(word))


def same_word(a: str, b: str) -> bool:
    """Whether two name words are the same spoken word ("Quiroga"/"Kiroga", "Paz"/"Pas")."""
    ka, kb = _sound(a), _sound(b)
    if not ka or not kb:
        return False
    if ka == kb:
        return True
    return min(len(ka), len(kb)) >= 4 and fuzz.ratio(ka, kb) >= MATCH_RATIO


@dataclass(frozen=True, slots=True)
class Match:
    """A heard name matched to a known spelling; ``full`` when every heard word matched."""

    name: str
    full: bool


class NameBook:
    """Names spelled right (metadata, voice registry), to match heard names against."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names: list[str] = []
        seen: set[str] = set()
        for raw in names:
            name = clean(raw)[:MAX_NAME_CHARS].strip()
            key = entity_key(name)
            if key and key not in seen:
                seen.add(key)
                self.names.append(name)

    def match(self, heard: str) -> Match | None:
        """The known name ``heard`` is a spelling of (all its words, or its first name alone
        when it has one word and only one known name starts so), else None."""
        words = entity_key(heard).split()
        if not words:
            return None
        best: tuple[float, str] | None = None
        partial: list[str] = []
        for name in self.names:
            known = entity_key(name).split()
            if len(words) == len(known) and all(map(same_word, words, known)):
                score = fuzz.ratio(" ".join(words), " ".join(known))
                if best is None or score > best[0]:
                    best = (score, name)
            elif len(words) == 1 and len(known) > 1 and same_word(words[0], known[0]):
                partial.append(name)
        if best is not None:
            return Match(best[1], full=True)
        if len(partial) == 1:
            return Match(partial[0], full=False)
        return None
