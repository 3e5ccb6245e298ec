"""Merging mentions into entities and evidence into relations, shared by every extractor.

Mentions merge by ``entity_key`` (case, accents, punctuation). Then a one-word mention that
equals the first or last word of exactly one multi-word entity of its type becomes its alias
("Borges" → "Jorge Luis Borges", "el Observatorio" → "Observatorio Urbano del Sur"); an untyped
("other") or loosely typed word may join an entity of any type, a firmly typed one only its own
type, so the city "Córdoba" never becomes an alias of "Universidad de Córdoba". Leading or
trailing parts of longer names work the same way ("María José" → "María José Rodríguez"),
except what follows "de"/"of" in a place or organisation ("San Telmo" is not "Mercado de San
Telmo"). An acronym that spells the initials of exactly one multi-word organisation becomes its
alias ("FMI"). Ambiguous short forms stay separate: a wrong merge is worse for a knowledge graph
than a missing one.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from castgraph.core.models import Chunk, Entity, Relation
from castgraph.core.text import entity_key

__all__ = [
    "TYPE_PRIORITY",
    "UNDIRECTED",
    "EntityMerger",
    "RelationSet",
    "real_speakers",
    "relate_chunk",
]

TYPE_PRIORITY = ("person", "organization", "place", "other", "topic")
"""Tie-break order when mentions of one entity disagree on its type."""

UNDIRECTED = frozenset({"co_occurs"})
"""Relation types whose endpoints are stored in canonical (key) order."""

_GENERIC_SPEAKER = re.compile(
    r"^(?:speaker|spk|hablante|locutor|unknown|desconocido|voz|voice)?[\s_#-]*\d*$", re.I
)
_ALIAS_TARGET_TYPES = frozenset({"person", "organization", "place"})
_OF = frozenset({"de", "del", "of", "for"})
_NAME_CONNECTORS = frozenset({"de", "del", "la", "las", "los", "el", "y", "e", "of", "the", "and"})


def real_speakers(chunk: Chunk) -> list[str]:
    """The chunk's speakers that are names, not diarization labels such as ``SPEAKER_00``."""
    return [s.strip() for s in chunk.speakers if s.strip() and not _GENERIC_SPEAKER.match(s)]


@dataclass(slots=True)
class _Group:
    surfaces: Counter[str] = field(default_factory=Counter)
    chunk_ids: dict[str, None] = field(default_factory=dict)
    types: Counter[str] = field(default_factory=Counter)
    firm: bool = False

    @property
    def type(self) -> str:
        return min(self.types, key=lambda t: (-self.types[t], _type_rank(t), t))


def _type_rank(type_: str) -> int:
    return TYPE_PRIORITY.index(type_) if type_ in TYPE_PRIORITY else len(TYPE_PRIORITY)


class EntityMerger:
    """Collects mentions (surface, type, chunk) and turns them into merged ``Entity`` objects."""

    def __init__(self, chunk_order: Mapping[str, int] | None = None) -> None:
        self._groups: dict[str, _Group] = {}
        self._order = dict(chunk_order or {})
        self._canonical: dict[str, str] | None = None
        self._cache: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] | None = None

    def add(
        self, surface: str, type_: str, chunk_id: str | None, count: int = 1, *, firm: bool = True
    ) -> str:
        """Record a mention and return its key ("" when the surface has no word characters).

        ``firm=False`` marks a guessed type: such a one-word name may still become the alias of
        an entity of another type ("en la Espiga" → "La Espiga").
        """
        surface = " ".join(surface.split())
        key = entity_key(surface)
        if not key:
            return ""
        group = self._groups.setdefault(key, _Group())
        group.surfaces[surface] += count
        group.types[type_] += count
        group.firm = group.firm or firm
        if chunk_id is not None:
            group.chunk_ids[chunk_id] = None
        self._canonical = self._cache = None
        return key

    def add_entity(self, entity: Entity) -> str:
        """Fold in an entity produced elsewhere (e.g. by a fallback extractor)."""
        weight = max(len(entity.chunk_ids), 1)
        key = self.add(entity.name, entity.type, None, weight)
        for alias in entity.aliases:
            alias_key = self.add(alias, entity.type, None)
            if alias_key and alias_key != key:
                self._groups[alias_key].chunk_ids.update(dict.fromkeys(entity.chunk_ids))
        if key:
            self._groups[key].chunk_ids.update(dict.fromkeys(entity.chunk_ids))
        self._canonical = self._cache = None
        return key

    def __contains__(self, key: object) -> bool:
        return key in self._groups

    def type_of(self, key: str) -> str:
        """The type of the entity ``key`` belongs to (after alias merging)."""
        return self._groups[self.canonical(key)].type

    def canonical(self, key: str) -> str:
        """The key of the entity that ``key`` was merged into (itself when not an alias)."""
        if self._canonical is None:
            self._canonical = _resolve_aliases(self._groups)
        return self._canonical.get(key, key)

    def name_of(self, key: str) -> str:
        """The display name of the entity ``key`` belongs to."""
        return self._merged()[self.canonical(key)][0]

    def entities(self) -> list[Entity]:
        """The merged entities, sorted by key; chunk ids follow the chunk order given."""
        result = []
        for key, (name, aliases, chunk_ids) in sorted(self._merged().items()):
            result.append(Entity(name, self._groups[key].type, aliases, chunk_ids))
        return result

    def order_chunks(self, chunk_ids: Iterable[str]) -> tuple[str, ...]:
        """``chunk_ids`` in the chunk order given (unknown ids last, by id)."""
        end = len(self._order)
        return tuple(sorted(chunk_ids, key=lambda c: (self._order.get(c, end), c)))

    def _merged(self) -> dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]:
        if self._cache is None:
            self._cache = self._merge()
        return self._cache

    def _merge(self) -> dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]:
        members: dict[str, list[str]] = {}
        for key in sorted(self._groups):
            members.setdefault(self.canonical(key), []).append(key)
        merged = {}
        for key, keys in members.items():
            topic = self._groups[key].type == "topic"
            name = _display_name(self._groups[key].surfaces, topic=topic)
            surfaces: Counter[str] = Counter()
            chunk_ids: dict[str, None] = {}
            for k in keys:
                surfaces.update(self._groups[k].surfaces)
                chunk_ids.update(self._groups[k].chunk_ids)
            others = (s for s in surfaces if s != name)
            aliases = tuple(sorted(others, key=lambda s: (-surfaces[s], s)))
            merged[key] = (name, aliases, self.order_chunks(chunk_ids))
        return merged


def _display_name(surfaces: Counter[str], *, topic: bool) -> str:
    """Most frequent well-cased form; ties go to the accented, then the longer, form."""

    def rank(s: str) -> tuple[int, int, int, int, str]:
        well_cased = topic or (s != s.lower() and (s != s.upper() or len(s) <= 6))
        return (-int(well_cased), -surfaces[s], -_accents(s), -len(s), s)

    return min(surfaces, key=rank)


def _accents(text: str) -> int:
    return sum(1 for c in unicodedata.normalize("NFD", text) if unicodedata.combining(c))


def _resolve_aliases(groups: Mapping[str, _Group]) -> dict[str, str]:
    """Map short forms (a leading or trailing part of a longer name, an acronym) to the one
    entity they stand for."""
    by_part, by_initials = _alias_index(groups)
    mapping: dict[str, str] = {}
    for key, group in groups.items():
        if group.type == "topic":
            continue
        if " " not in key and group.type == "organization" and _is_acronym(group.surfaces):
            targets = by_initials.get(key, set())
        else:
            targets = by_part.get(key, set())
            if group.type != "other" and group.firm:
                targets = {t for t in targets if groups[t].type == group.type}
            targets = _outermost(targets, groups)
        if len(targets) == 1:
            mapping[key] = next(iter(targets))
    for key, target in mapping.items():
        while target in mapping:  # "María" → "María José" → "María José Rodríguez"
            target = mapping[target]
        mapping[key] = target
    return mapping


def _alias_index(groups: Mapping[str, _Group]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Multi-word entities by each part that may stand for them, and organisations by initials."""
    by_part: dict[str, set[str]] = {}
    by_initials: dict[str, set[str]] = {}
    for key, group in groups.items():
        words = key.split()
        if len(words) < 2 or group.type not in _ALIAS_TARGET_TYPES:
            continue
        for part in _parts(words, group.type):
            by_part.setdefault(part, set()).add(key)
        if group.type == "organization":
            content = [w for w in words if w not in _NAME_CONNECTORS]
            by_initials.setdefault("".join(w[0] for w in content), set()).add(key)
    return by_part, by_initials


def _parts(words: Sequence[str], type_: str) -> list[str]:
    """Proper prefixes and suffixes of a name that can stand for it. For places and
    organisations nothing after "de"/"of" does: "San Telmo" is not "Mercado de San Telmo"."""
    parts = []
    for n in range(1, len(words)):
        prefix, suffix = words[:n], words[-n:]
        if prefix[0] not in _NAME_CONNECTORS and prefix[-1] not in _NAME_CONNECTORS:
            parts.append(" ".join(prefix))
        after_of = type_ != "person" and any(w in _OF for w in words[:-n])
        if suffix[0] not in _NAME_CONNECTORS and not after_of:
            parts.append(" ".join(suffix))
    return parts


def _outermost(targets: set[str], groups: Mapping[str, _Group]) -> set[str]:
    """Drop targets that are themselves a part of another target (keep the fullest name)."""
    return {
        t
        for t in targets
        if not any(t != u and t in _parts(u.split(), groups[u].type) for u in targets)
    }


def _is_acronym(surfaces: Counter[str]) -> bool:
    return any(s.isupper() and s.isalpha() for s in surfaces)


class RelationSet:
    """Collects relation evidence by entity key; weights are counts of distinct chunks."""

    def __init__(self) -> None:
        self._edges: dict[tuple[str, str, str], dict[str, None]] = {}

    def add(self, source_key: str, target_key: str, type_: str, chunk_id: str) -> None:
        """Record that ``chunk_id`` evidences ``source -type-> target``."""
        if source_key and target_key and source_key != target_key:
            self._edges.setdefault((source_key, target_key, type_), {})[chunk_id] = None

    def add_relation(self, relation: Relation) -> None:
        """Fold in a relation produced elsewhere (endpoints by display name)."""
        source, target = entity_key(relation.source), entity_key(relation.target)
        for chunk_id in relation.chunk_ids:
            self.add(source, target, relation.type, chunk_id)

    def build(self, merger: EntityMerger, *, cap_per_type: int | None = None) -> list[Relation]:
        """Relations between merged entities, the ``cap_per_type`` heaviest of each type."""
        merged: dict[tuple[str, str, str], dict[str, None]] = {}
        for (source, target, type_), chunk_ids in self._edges.items():
            if source not in merger or target not in merger:
                continue
            s, t = merger.canonical(source), merger.canonical(target)
            if s == t:
                continue
            if type_ in UNDIRECTED and t < s:
                s, t = t, s
            merged.setdefault((s, t, type_), {}).update(chunk_ids)
        ranked = sorted(merged.items(), key=lambda kv: (kv[0][2], -len(kv[1]), kv[0]))
        kept: Counter[str] = Counter()
        relations = []
        for (s, t, type_), chunk_ids in ranked:
            if cap_per_type is not None and kept[type_] >= cap_per_type:
                continue
            kept[type_] += 1
            ordered = merger.order_chunks(chunk_ids)
            relations.append(
                Relation(merger.name_of(s), merger.name_of(t), type_, ordered, float(len(ordered)))
            )
        return relations


def relate_chunk(
    relations: RelationSet,
    chunk_id: str,
    present: Sequence[tuple[str, str]],
    speaker_keys: Sequence[str] = (),
) -> None:
    """Co-occurrence of the chunk's (key, type) entities, never topic with topic, and
    ``mentions`` from each named speaker of the chunk to every entity it holds."""
    unique = dict(present)
    for a, b in combinations(sorted(unique), 2):
        if not (unique[a] == "topic" and unique[b] == "topic"):
            relations.add(a, b, "co_occurs", chunk_id)
    for speaker in speaker_keys:
        for key in unique:
            relations.add(speaker, key, "mentions", chunk_id)
