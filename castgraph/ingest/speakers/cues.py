"""Where a transcript names its speakers: offline cues in Spanish and English.

Each cue says *who* a name belongs to, relative to the turn it is said in:

- a self-introduction ("soy X", "me llamo X", "I'm X", "my name is X") names the speaker;
- an introduction ("hoy estoy con X", "nuestra invitada es X", "our guest is X", "welcome, X")
  names one of the next *other* speakers, most likely the first;
- a name said alone as an address at the end of a turn ("Valeria, contanos…") names the next
  speaker, at the start of a turn ("Hola, Lucía.") the previous one;
- thanks ("gracias, X", "thank you, X") name the previous other speaker: weaker, since people
  also thank someone who spoke a while ago.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from castgraph.core.models import Transcript, Word
from castgraph.core.text import fold
from castgraph.ingest.align import join_words
from castgraph.ingest.speakers.names import (
    NameBook,
    clean,
    is_place_or_org,
    looks_like_given_name,
    name_at,
)

CueKind = Literal["self", "intro", "address", "thanks"]

CONFIDENCE: dict[str, float] = {
    "self": 0.75,
    "self_weak": 0.5,  # "this is X": also how one presents a place or a thing
    "intro": 0.6,
    "address_next": 0.65,
    "address_previous": 0.35,
    "thanks": 0.35,
}
INTRO_DECAY = (1.0, 0.5, 0.3)
"""Weight of an introduced name on the 1st, 2nd and 3rd next other speakers."""
ADDRESS_WORDS_START = 4
"""A name this close to the start of a turn addresses the previous speaker ("Sí, Tomás, …")."""
ADDRESS_WORDS_END = 15
"""A name this close to the end of a turn addresses the next speaker ("Valeria, contanos…")."""
SINGLE_WORD_FACTOR = 0.8
"""A one-word name is less sure to be a person's than a full name."""

_I = re.IGNORECASE
# Longer alternatives first: the first one that matches at a position is the only one tried.
_SELF = re.compile(
    r"\b(?:(?:i['’]?m|i\s+am|soy)\s+(?:your|tu|su)\s+"
    r"(?:host|co-?host|anfitriona?|conductora?)\s*,?|"
    r"(?:yo\s+)?soy|me\s+llamo|mi\s+nombre\s+es|les\s+habla|i['’]?m|i\s+am|my\s+name\s+is)\s+",
    _I,
)
_SELF_WEAK = re.compile(r"^\W*(?:(?:hi|hello|hey|hola)\W+)?this\s+is\s+", _I)
_INTRO = re.compile(
    r"\b(?:(?:hoy\s+)?(?:estoy|estamos)\s+(?:hoy\s+)?con|"
    r"(?:nuestr[oa]s?|mi|mis|la|el)\s+invit\w+(?:\s+de\s+hoy)?\s+(?:es|son|será)|"
    r"(?:me|nos)\s+acompaña(?:n)?(?:\s+hoy)?|tenemos\s+(?:hoy\s+)?(?:con\s+nosotros\s+)?a|"
    r"(?:está|están)\s+(?:hoy\s+)?con\s+nosotr[oa]s|"
    r"(?:charlamos|hablamos|conversamos|converso|charlo|hablo)\s+(?:hoy\s+)?con|"
    r"bienvenid[oa]s?\s*,|"
    r"i['’]?m\s+(?:talking|speaking|chatting|here)\s+(?:today\s+)?(?:with|to)|"
    r"(?:here|joined|together)\s+(?:today\s+)?(?:with|by)"
    r"(?:\s+(?:my|our)\s+(?:co\s*-?\s*host|guest|friend|colleague|partner)\s*,?)?|"
    r"(?:our|my)\s+(?:special\s+)?guests?\s+(?:today\s+|this\s+week\s+)?(?:is|are)|"
    r"(?:with\s+me|joining\s+(?:me|us))\s+(?:today\s+)?(?:is|are)|"
    r"(?:please\s+)?welcome(?:\s+back)?\s*,?)\s+",
    _I,
)
_MORE = re.compile(r"^\s*(?:,\s*)?(?:y|e|and|&)\s+(?:(?:also|también)\s+)?(?:(?:with|con)\s+)?", _I)
# "la climatóloga Valeria Quiroga", "urban ecologist Hannah Lindqvist": a few lower-case words
# between an introduction and the name (ASR also turns "la doctora" into "la notora").
_LOWER_WORD = re.compile(r"\s*([^\W\d_][\w-]*)\s+")
_AND_WITH = re.compile(r"\b(?:and|y|e)\s+(?:(?:also|también)\s+)?(?:with|con)\s+", _I)
_THANKS = re.compile(
    r"\b(?:(?:muchas\s+)?gracias|thank\s+you(?:\s+so\s+much|\s+very\s+much)?|thanks)\s*,?\s+",
    _I,
)
_GREETING = re.compile(r"(?:hola|hi|hey|hello|buenas)\b\W*", _I)
_LEAD = re.compile(
    r"^(?:(?:y|and|so|bueno|well|ok|okay|mirá|mira|oye|che|hola|hi|hey|hello|buenas|sí|si|yes)"
    r"\s*,?\s+)+",
    _I,
)
_ABBREVIATIONS = frozenset(
    ["dr", "dra", "sr", "sra", "srta", "mr", "mrs", "ms", "prof", "lic", "ing", "st", "vs", "etc"]
)
_CLAUSE = re.compile(r"[,;:¿¡?!.…\"“”«»()]+")


@dataclass(frozen=True, slots=True)
class Line:
    """One sentence of a turn, with its time span: the evidence moment of a guess."""

    text: str
    start: float
    end: float


@dataclass(slots=True)
class Turn:
    """Consecutive sentences of one speaker label."""

    speaker: str
    lines: list[Line] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Evidence:
    """A name said about speaker ``label``, how sure the cue is, and where it was said."""

    label: str
    name: str
    confidence: float
    line: Line
    kind: CueKind


def turns_of(transcript: Transcript) -> list[Turn]:
    """The transcript as speaker turns of sentences (segments without a speaker are skipped)."""
    turns: list[Turn] = []
    pending: list[Word] = []  # a turn's words: a sentence may span segments (pauses)
    for segment in transcript.segments:
        if not segment.speaker:
            continue
        if not turns or turns[-1].speaker != segment.speaker:
            if turns:
                turns[-1].lines += _word_lines(pending)
            pending = []
            turns.append(Turn(segment.speaker))
        if segment.words:
            pending += segment.words
            continue
        turns[-1].lines += _word_lines(pending)
        pending = []
        turns[-1].lines += [
            Line(text, segment.start, segment.end) for text in _split_text(segment.text)
        ]
    if turns:
        turns[-1].lines += _word_lines(pending)
    return turns


def _word_lines(words: Sequence[Word]) -> list[Line]:
    lines: list[Line] = []
    current: list[Word] = []
    for word in words:
        current.append(word)
        text = word.text.rstrip("\"'”’»)")
        if text.endswith((".", "?", "!", "…")) and fold(text.rstrip(".")) not in _ABBREVIATIONS:
            lines.append(_line(current))
            current = []
    if current:
        lines.append(_line(current))
    return lines


def _line(words: list[Word]) -> Line:
    text = join_words([w.text for w in words])
    return Line(clean(text), words[0].start, max(w.end for w in words))


def _split_text(text: str) -> list[str]:
    """Caption text as sentences (no word times); "Dr. Ruiz" stays one sentence."""
    pieces: list[str] = []
    for piece in re.split(r"(?<=[.?!…])\s+", clean(text)):
        if pieces and fold(pieces[-1].rsplit(" ", 1)[-1].rstrip(".")) in _ABBREVIATIONS:
            pieces[-1] = f"{pieces[-1]} {piece}"
        elif piece:
            pieces.append(piece)
    return pieces


def find_evidence(turns: Sequence[Turn], book: NameBook) -> list[Evidence]:
    """Every cue in the turns, as evidence about the speaker label it names."""
    known = set(book.names)
    for turn in turns:  # names from explicit cues make a later bare address plausible
        for line in turn.lines:
            known.update(name for name, _ in _explicit(line.text, first=False))
    found: list[Evidence] = []
    for index, turn in enumerate(turns):
        for position, line in enumerate(turn.lines):
            found += _evidence(turns, index, position, line, NameBook(known))
    return found


def _evidence(
    turns: Sequence[Turn], index: int, position: int, line: Line, book: NameBook
) -> list[Evidence]:
    turn = turns[index]
    nexts = _other_speakers(turns[index + 1 :], turn.speaker)
    previous = _other_speakers(reversed(turns[:index]), turn.speaker)[:1]
    found: list[Evidence] = []
    intro_rank = 0
    named: set[str] = set()
    for name, kind in _explicit(line.text, first=position == 0):
        named.add(name)
        if kind in ("self", "self_weak"):
            found.append(_evidence_for(turn.speaker, name, CONFIDENCE[kind], line, "self"))
        elif kind == "intro":
            for rank, label in enumerate(nexts[: len(INTRO_DECAY)]):
                weight = INTRO_DECAY[min(abs(rank - intro_rank), len(INTRO_DECAY) - 1)]
                found.append(
                    _evidence_for(label, name, CONFIDENCE["intro"] * weight, line, "intro")
                )
            intro_rank += 1
        elif previous:
            found.append(_evidence_for(previous[0], name, CONFIDENCE["thanks"], line, "thanks"))
    for address in _addressed(line.text, book):
        if address.name in named:
            continue
        # ASR often writes a whole turn as one comma-spliced sentence: position is by words
        near_start = position == 0 and address.before <= ADDRESS_WORDS_START
        near_end = position == len(turn.lines) - 1 and address.after <= ADDRESS_WORDS_END
        if previous and near_start and (address.greeted or not near_end):
            conf = CONFIDENCE["address_previous"]  # "Hola, Lucía": answering the last speaker
            found.append(_evidence_for(previous[0], address.name, conf, line, "address"))
        elif nexts and near_end:
            conf = CONFIDENCE["address_next"]
            found.append(_evidence_for(nexts[0], address.name, conf, line, "address"))
    return found


def _evidence_for(label: str, name: str, confidence: float, line: Line, kind: CueKind) -> Evidence:
    if len(name.split()) == 1:
        confidence *= SINGLE_WORD_FACTOR
    return Evidence(label, name, round(confidence, 4), line, kind)


def _other_speakers(turns: Iterator[Turn] | Sequence[Turn], speaker: str) -> list[str]:
    """Distinct speaker labels other than ``speaker``, in the order the turns give them."""
    seen: list[str] = []
    for turn in turns:
        if turn.speaker != speaker and turn.speaker not in seen:
            seen.append(turn.speaker)
            if len(seen) >= len(INTRO_DECAY):
                break
    return seen


def _explicit(text: str, *, first: bool) -> list[tuple[str, str]]:
    """(name, kind) for every self-introduction, introduction and thanks in one sentence."""
    found: list[tuple[str, str]] = []
    cues: list[tuple[re.Pattern[str], str]] = [(_SELF, "self"), (_INTRO, "intro")]
    cues.append((_THANKS, "thanks"))
    if first:
        cues.append((_SELF_WEAK, "self_weak"))
    for pattern, kind in cues:
        for match in pattern.finditer(text):
            for name in _names_after(text, match.end(), many=kind == "intro"):
                if _plausible(name, strict=kind == "self_weak"):
                    found.append((name, kind))
    return found


def _names_after(text: str, pos: int, *, many: bool) -> list[str]:
    """The name at ``pos``; with ``many``, also the ones joined to it ("X y Y") and those
    introduced later in the sentence ("X, a chemist, and with Y")."""
    names: list[str] = []
    if many:
        pos = _skip_description(text, pos)
    while (parsed := name_at(text[pos:])) is not None:
        names.append(parsed[0])
        pos += parsed[1]
        more = _MORE.match(text[pos:]) if many else None
        if more is None:
            more = _AND_WITH.search(text, pos) if many and names else None
            if more is None:
                break
            pos = more.end()
            continue
        pos += more.end()
    return names


def _skip_description(text: str, pos: int) -> int:
    """Past up to three lower-case words when a name follows them, else ``pos`` itself."""
    if name_at(text[pos:]) is not None:
        return pos
    start = pos
    for _ in range(3):
        word = _LOWER_WORD.match(text, pos)
        if word is None or not word.group(1).islower():
            break
        pos = word.end()
        if name_at(text[pos:]) is not None:
            return pos
    return start


def _plausible(name: str, *, strict: bool = False) -> bool:
    if is_place_or_org(name):
        return False
    return not strict or looks_like_given_name(name) or len(name.split()) > 1


@dataclass(frozen=True, slots=True)
class _Address:
    name: str
    before: int  # words of the sentence before the name's clause
    after: int  # and after it
    greeted: bool  # "Hola, Lucía": a greeting right before the name


def _addressed(text: str, book: NameBook) -> list[_Address]:
    """Names said alone as a clause of the sentence ("Valeria, contanos…", "Hola, Lucía.")
    that are plausible people: a given name, or a name the metadata or another cue gave."""
    found: list[_Address] = []
    previous = ""
    for raw, start, end in _clauses(text):
        clause = _LEAD.sub("", raw.strip())
        parsed = name_at(clause)
        greeted = bool(_GREETING.match(raw.strip()) or _GREETING.fullmatch(previous.strip()))
        previous = raw
        if parsed is None or clause[parsed[1] :].strip() or is_place_or_org(parsed[0]):
            continue
        if looks_like_given_name(parsed[0]) or book.match(parsed[0]) is not None:
            before, after = len(text[:start].split()), len(text[end:].split())
            found.append(_Address(parsed[0], before, after, greeted))
    return found


def _clauses(text: str) -> Iterator[tuple[str, int, int]]:
    pos = 0
    for match in _CLAUSE.finditer(text):
        yield text[pos : match.start()], pos, match.start()
        pos = match.end()
    yield text[pos:], pos, len(text)
