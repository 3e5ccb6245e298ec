"""Citation markers in answers: ``[1]``, ``[2][3]``, ``[1, 4]`` mapped to context blocks."""

from __future__ import annotations

import re
from collections.abc import Sequence

from castgraph.core.models import ContextBlock

MARKER = re.compile(r"\[(\s*\d+\s*(?:[,;]\s*\d+\s*)*)\]")


def cited_numbers(text: str) -> list[int]:
    """Every number cited in ``text``, in order of first appearance."""
    seen: list[int] = []
    for match in MARKER.finditer(text):
        for part in re.split(r"[,;]", match.group(1)):
            number = int(part)
            if number not in seen:
                seen.append(number)
    return seen


def cited_blocks(text: str, blocks: Sequence[ContextBlock]) -> list[ContextBlock]:
    """The blocks ``text`` cites, in order of first citation; invented numbers are dropped."""
    by_number = {b.number: b for b in blocks}
    return [by_number[n] for n in cited_numbers(text) if n in by_number]


def strip_invented(text: str, blocks: Sequence[ContextBlock]) -> str:
    """``text`` without markers that point at no block (a model's invented citations)."""
    valid = {b.number for b in blocks}

    def keep(match: re.Match[str]) -> str:
        numbers = [int(p) for p in re.split(r"[,;]", match.group(1))]
        kept = [str(n) for n in numbers if n in valid]
        return f"[{', '.join(kept)}]" if kept else ""

    return MARKER.sub(keep, text)
