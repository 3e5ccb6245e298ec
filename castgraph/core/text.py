"""Language-neutral text normalisation shared by extraction, indexing and querying."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def fold(text: str) -> str:
    """Lower-case and strip accents (``"Ñandú"`` → ``"nandu"``); ``¿`` and ``¡`` become spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.replace("¿", " ").replace("¡", " ")


def entity_key(name: str) -> str:
    """The merge key of an entity name: folded, punctuation removed, whitespace collapsed."""
    return " ".join(_NON_WORD.sub(" ", fold(name)).split())


def strip_control(text: str, replacement: str = "") -> str:
    """``text`` without terminal control characters (transcripts and titles are untrusted)."""
    return _CONTROL.sub(replacement, text)


_SOUNDS = str.maketrans("cqzvw", "kksbu")


def phonetic(text: str) -> str:
    """A rough Spanish/English sound key of folded text: ``"gómez"`` and ``"gomes"`` both give
    ``"gomes"``, ``"quiroga"`` and ``"kiroga"`` both ``"kiroga"`` (ASR spells names by ear).

    Shared by the graph's entity linker and speaker naming (ingestion never imports
    ``retrieval``).
    """
    t = text.replace("ch", "\x01").replace("ll", "y").replace("h", "")
    t = re.sub(r"qu(?=[ei])", "k", t)
    t = re.sub(r"c(?=[ei])", "s", t)
    t = t.translate(_SOUNDS)
    t = re.sub(r"(.)\1+", r"\1", t)
    return t.replace("\x01", "ch")
