"""Synthetic podcast text for benchmarks: Spanish and English sentences, episodes and queries.

Words are drawn Zipf-like (rank r has weight 1/r) from small hand-written vocabularies whose
head is real Spanish or English and whose tail is made of generated pseudo-words, so document
frequencies look like those of real transcripts: a few very common terms, a long rare tail.
People (given name + surname), places and organisations are drawn Zipf-like too, so a few are
mentioned everywhere and most rarely; they are capitalised, so the offline extractor finds them.
The hand-written names include the demo channel's own (Valeria, Quiroga, Barracas...); ``avoid``
renames every name token found in a given corpus (see ``vocabularies``), for distractors that
look like a channel's other episodes rather than an adversary naming the corpus's people.

Chunks are made of whole sentences from a fixed pool (``sentence_pool``): a chunk's vector can
then be composed from its sentences' vectors, embedded once (see ``bench/_latency_vectors.py``).
Everything is deterministic for a given seed.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from itertools import accumulate

from castgraph.core.text import fold, phonetic


def _words(text: str, sep: str | None = None) -> list[str]:
    return text.split(sep)


GIVEN = _words(
    "Ana Carlos Lucía Mateo Sofía Diego Valeria Martín Camila Javier Elena Pablo Daniela Tomás "
    "Marta Andrés Paula Gabriel Julia Hugo Carmen Nicolás Laura Sergio Irene Emilio Rosa Bruno "
    "Hannah James Olivia Peter Grace Daniel Emma Michael Chloe Samuel Alice Henry Ruth Oscar "
    "Nora Felix Clara Victor Iris Leon Amara Kenji Priya Tariq Ingrid Mateus Noa Wanjiru Lars"
)
SURNAMES = _words(
    "García Pérez Gómez Fernández López Martínez Sánchez Romero Álvarez Torres Ruiz Navarro "
    "Iriarte Lindqvist Okafor Smith Johnson Brown Taylor Wilson Murphy Clarke Walsh Novak Rossi "
    "Moreau Schmidt Tanaka Silva Costa Herrera Medina Castro Vargas Rojas Molina Ortega Delgado "
    "Morales Suárez Ibarra Quiroga Bustos Correa Acosta Figueroa Paredes Salazar Cabrera Nakamura"
)
PLACES = _words(
    "Barracas|Buenos Aires|Madrid|Sevilla|Valparaíso|Montevideo|Bogotá|Medellín|Lima|Quito|"
    "Ciudad de México|Oaxaca|Tucumán|Rosario|Córdoba|Mendoza|Santiago|La Paz|Asunción|Cusco|"
    "Rotterdam|London|Dublin|Berlin|Lisbon|Nairobi|Lagos|Toronto|Chicago|Seattle|Boston|Austin|"
    "Manchester|Glasgow|Barcelona|Bilbao|Granada|Valencia|Cádiz|Parque Lezama|San Telmo|"
    "Palermo|Patagonia|Andalucía|Galicia|Amazonas|Atacama|Yucatán|Tierra del Fuego|Chiloé",
    sep="|",
)
ORG_HEADS = ("Instituto", "Fundación", "Observatorio", "Universidad", "Cooperativa", "Radio")
ORG_HEADS_EN = ("Institute", "Foundation", "Lab", "University", "Council", "Network")

ES_DET = _words("el la los las un una este esta nuestro su")
ES_PREP = _words("en de con sobre para por desde hasta sin entre")
ES_NOUNS = _words(
    "ciudad agua calor barrio mercado pan escuela música historia trabajo río árbol techo "
    "lluvia energía casa familia comida campo puerto tren sueño idioma radio libro película "
    "salud ciencia memoria frontera cosecha fábrica huerta plaza museo puente costa montaña "
    "bosque semilla abuela vecino maestro médico periodista pescador panadero artista poeta "
    "gobierno economía precio salario deuda empresa mercado sindicato tecnología internet "
    "teléfono algoritmo datos clima sequía incendio inundación basura reciclaje transporte "
    "bicicleta colectivo vivienda alquiler turismo fútbol carnaval tango cumbia guitarra voz"
)
ES_VERBS = _words(
    "dice cuenta explica recuerda piensa cambia crece vuelve necesita construye cuida pierde "
    "busca encuentra pregunta defiende critica mide calcula enseña aprende vende compra usa "
    "planta riega cocina canta escribe investiga publica organiza protege amenaza"
)
ES_ADJ = _words(
    "grande pequeño nuevo viejo caliente frío seco verde urbano rural público privado barato "
    "caro difícil fácil importante local global largo corto lento rápido antiguo moderno "
    "popular raro común clave fuerte débil"
)
ES_OPEN = (
    "Hoy hablamos de",
    "Mi invitada dice que",
    "La verdad es que",
    "Lo interesante es que",
    "Para mí",
    "Nadie esperaba que",
    "Ya sabemos que",
    "Me contaron que",
    "Fíjate que",
)
EN_DET = _words("the a this our their every some that")
EN_PREP = _words("in of with about for from near without between across")
EN_NOUNS = _words(
    "city water heat neighbourhood market bread school music history work river tree roof "
    "rain energy house family food field harbour train dream language radio book film health "
    "science memory border harvest factory garden square museum bridge coast mountain forest "
    "seed grandmother neighbour teacher doctor journalist fisherman baker artist poet "
    "government economy price wage debt company union technology internet phone algorithm "
    "data climate drought wildfire flood waste recycling transport bicycle bus housing rent "
    "tourism football carnival guitar voice podcast interview story"
)
EN_VERBS = _words(
    "says tells explains remembers thinks changes grows returns needs builds protects loses "
    "finds asks defends measures teaches learns sells buys uses plants cooks sings writes "
    "studies publishes organises threatens"
)
EN_ADJ = _words(
    "big small new old hot cold dry green urban rural public private cheap expensive hard easy "
    "important local global long short slow fast ancient modern popular rare common key strong"
)
EN_OPEN = (
    "Today we talk about",
    "My guest says that",
    "The truth is that",
    "What is striking is that",
    "For me",
    "Nobody expected that",
    "We know that",
    "They told me that",
    "Honestly",
)
SYLLABLES = _words("ba ca da fa ga la ma na pa ra sa ta va lo mi nu re ti so ke dor mel tan vis")
PATTERNS = ("DNAVDNPN", "DNVPDNA", "DNPLVDN", "PDNDNVA", "DNAVPLDN", "NVDNPDNA")


class Zipf:
    """Draws items by rank with weight 1/rank**s."""

    def __init__(self, items: list[str], s: float = 1.0) -> None:
        self.items = items
        self.cum = list(accumulate(1.0 / (rank**s) for rank in range(1, len(items) + 1)))

    def draw(self, rng: random.Random, top: int | None = None) -> str:
        """One item; ``top`` limits the draw to the ``top`` most frequent."""
        n = len(self.items) if top is None else min(top, len(self.items))
        return rng.choices(self.items[:n], cum_weights=self.cum[:n], k=1)[0]


@dataclass(frozen=True)
class Vocabulary:
    """The Zipf-ranked word and name lists of one language."""

    language: str
    det: list[str]
    prep: list[str]
    nouns: Zipf
    verbs: Zipf
    adjectives: Zipf
    openers: tuple[str, ...]
    people: Zipf
    places: Zipf
    orgs: Zipf


def pseudo_words(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct made-up words of 2-4 syllables (the rare tail of the vocabulary)."""
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def renamer(avoid: frozenset[str], taken: set[str], seed: int) -> Callable[[str], str]:
    """Maps a name to one of the same shape whose capitalised tokens avoid ``avoid`` (folded
    words; a token also counts as found when its ``phonetic`` key matches, as the graph's linker
    does): each such token becomes a made-up capitalised word (deterministic by seed and token)
    that is in neither ``avoid`` nor ``taken`` (folded words already used: the vocabulary's
    words, other names). The mapping is one-to-one, so Zipf ranks and hubs are unchanged."""
    sounds = {phonetic(word) for word in avoid}
    used = set(taken) | set(avoid)
    mapping: dict[str, str] = {}

    def token(word: str) -> str:
        key = fold(word)
        if not word[:1].isupper() or (key not in avoid and phonetic(key) not in sounds):
            return word
        if word not in mapping:
            rng = random.Random(f"{seed}:{key}")
            made = key
            while made in used or phonetic(made) in sounds:
                made = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
            used.add(made)
            mapping[word] = made.capitalize()
        return mapping[word]

    return lambda name: " ".join(token(word) for word in name.split())


@cache
def vocabularies(
    seed: int = 7, tail: int = 6000, avoid: frozenset[str] = frozenset()
) -> dict[str, Vocabulary]:
    """Spanish and English vocabularies; names, places and organisations are shared. Name
    tokens in ``avoid`` (folded words) are renamed (``renamer``); organisation heads
    (Instituto, Radio...) are category words like the nouns and stay."""
    rng = random.Random(seed)
    people = [f"{g} {s}" for g in GIVEN for s in SURNAMES]
    rng.shuffle(people)
    places = list(PLACES)
    rng.shuffle(places)
    es_tail, en_tail = pseudo_words(tail, rng), pseudo_words(tail, rng)
    orgs = [f"{h} {p}" for h in ORG_HEADS + ORG_HEADS_EN for p in PLACES]
    rng.shuffle(orgs)
    if avoid:
        common = ES_DET + ES_PREP + ES_NOUNS + ES_VERBS + ES_ADJ + EN_DET + EN_PREP + EN_NOUNS
        common += EN_VERBS + EN_ADJ + es_tail + en_tail + GIVEN + SURNAMES
        common += " ".join(PLACES).split()
        rename = renamer(avoid, {fold(word) for word in common}, seed)
        people, places = [rename(p) for p in people], [rename(p) for p in places]
        orgs = [f"{o.split()[0]} {rename(o.split(' ', 1)[1])}" for o in orgs]

    def make(
        lang: str,
        det: list[str],
        prep: list[str],
        nouns: list[str],
        verbs: list[str],
        adj: list[str],
        openers: tuple[str, ...],
        rare: list[str],
    ) -> Vocabulary:
        return Vocabulary(
            lang,
            det,
            prep,
            Zipf(nouns + rare),
            Zipf(verbs),
            Zipf(adj),
            openers,
            Zipf(people, 0.9),
            Zipf(places, 1.0),
            Zipf(orgs, 1.0),
        )

    return {
        "es": make("es", ES_DET, ES_PREP, ES_NOUNS, ES_VERBS, ES_ADJ, ES_OPEN, es_tail),
        "en": make("en", EN_DET, EN_PREP, EN_NOUNS, EN_VERBS, EN_ADJ, EN_OPEN, en_tail),
    }


def _entity(vocab: Vocabulary, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.55:
        return vocab.people.draw(rng)
    return vocab.places.draw(rng) if roll < 0.85 else vocab.orgs.draw(rng)


def sentence(vocab: Vocabulary, rng: random.Random) -> str:
    """One sentence of about 10-18 words, often naming a person, place or organisation."""
    words: list[str] = []
    if rng.random() < 0.5:
        words.append(rng.choice(vocab.openers))
    for part in rng.choice(PATTERNS) + rng.choice(("", "PDN", "DNA")):
        if part == "D":
            words.append(rng.choice(vocab.det))
        elif part == "P":
            words.append(rng.choice(vocab.prep))
        elif part == "N":
            words.append(vocab.nouns.draw(rng))
        elif part == "A":
            words.append(vocab.adjectives.draw(rng))
        elif part == "V":
            words.append(vocab.verbs.draw(rng))
        else:
            words.append(_entity(vocab, rng))
    if rng.random() < 0.6:
        words.insert(rng.randrange(len(words) + 1), _entity(vocab, rng))
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


@dataclass(frozen=True)
class SentencePool:
    """Sentences per language; a chunk is a run of indexes into one language's list."""

    texts: dict[str, list[str]]
    avoid: frozenset[str] = field(default=frozenset(), repr=False)  # see ``vocabularies``

    def tag(self) -> str:
        """'' for the default names, else a hash of the texts (for caches of their vectors)."""
        if not self.avoid:
            return ""
        return "-names-" + hashlib.sha256("\n".join(self.all_texts()).encode()).hexdigest()[:10]

    def all_texts(self) -> list[str]:
        return self.texts["es"] + self.texts["en"]

    def offset(self, language: str) -> int:
        """Where ``language``'s sentences start in ``all_texts()`` (and in their vectors)."""
        return 0 if language == "es" else len(self.texts["es"])


def sentence_pool(size: int, seed: int = 11, avoid: frozenset[str] = frozenset()) -> SentencePool:
    """``size`` distinct sentences, 60% Spanish and 40% English; names avoid ``avoid``."""
    vocab, rng = vocabularies(avoid=avoid), random.Random(seed)
    wanted = {"es": int(size * 0.6), "en": size - int(size * 0.6)}
    texts: dict[str, list[str]] = {}
    for lang, count in wanted.items():
        seen: dict[str, None] = {}
        while len(seen) < count:
            seen[sentence(vocab[lang], rng)] = None
        texts[lang] = list(seen)
    return SentencePool(texts, avoid)


@dataclass(frozen=True)
class SyntheticChunk:
    text: str
    sentences: tuple[int, ...]  # indexes into SentencePool.all_texts()
    speakers: tuple[str, ...]


@dataclass(frozen=True)
class SyntheticEpisode:
    key: str
    title: str
    language: str
    published: date
    chunks: tuple[SyntheticChunk, ...]


def episode(pool: SentencePool, index: int, chunks: int = 200, seed: int = 13) -> SyntheticEpisode:
    """Episode ``index``: ``chunks`` chunks of 60-120 words, two or three speakers."""
    rng = random.Random(seed * 1_000_003 + index)
    lang = "es" if rng.random() < 0.6 else "en"
    vocab = vocabularies(avoid=pool.avoid)[lang]  # hosts and title named like the sentences
    hosts = [vocab.people.draw(rng) for _ in range(rng.randint(2, 3))]
    texts, base = pool.texts[lang], pool.offset(lang)
    made: list[SyntheticChunk] = []
    for _ in range(chunks):
        picked: list[int] = []
        while sum(len(texts[i].split()) for i in picked) < rng.randint(60, 110):
            picked.append(rng.randrange(len(texts)))
        speakers = tuple(rng.sample(hosts, 2 if rng.random() < 0.15 else 1))
        text = " ".join(texts[i] for i in picked)
        made.append(SyntheticChunk(text, tuple(base + i for i in picked), speakers))
    topic = vocab.nouns.draw(rng)
    title = f"{index:04d} · {topic.capitalize()} {vocab.prep[0]} {vocab.places.draw(rng)}"
    published = date(2020, 1, 1) + timedelta(days=3 * index)
    return SyntheticEpisode(f"synthetic-{index:05d}", title, lang, published, tuple(made))


ES_QUERY = (
    "¿Qué dijo {P} sobre el {N}?",
    "{N} {A} en {L}",
    "{P} y la {N}",
    "¿Dónde vive {P}?",
    "precio del {N} en {L}",
    "{N} y {N}",
    "historia de {O}",
    "¿Por qué {V} el {N} {A}?",
    "{P} {L}",
    "la {N} de {L} según {P}",
)
EN_QUERY = (
    "what did {P} say about {N}",
    "{A} {N} in {L}",
    "{P} and the {N}",
    "where does {P} live",
    "price of {N} in {L}",
    "{N} and {N}",
    "history of {O}",
    "why {V} the {N} so {A}",
    "{P} {L}",
    "{N} {N} {N}",
)


def _topic_top(rng: random.Random) -> int | None:
    """Most query topics are everyday words; one in five may be any word, rare ones included."""
    return None if rng.random() < 0.2 else 80


def queries(count: int = 100, seed: int = 17) -> list[str]:
    """``count`` realistic 2-8 word questions and keyword queries, Spanish and English."""
    vocab, rng = vocabularies(), random.Random(seed)
    fill = {
        "P": lambda v: v.people.draw(rng),
        "L": lambda v: v.places.draw(rng),
        "O": lambda v: v.orgs.draw(rng),
        "N": lambda v: v.nouns.draw(rng, top=_topic_top(rng)),
        "A": lambda v: v.adjectives.draw(rng),
        "V": lambda v: v.verbs.draw(rng),
    }
    out: list[str] = []
    while len(out) < count:
        lang = "es" if rng.random() < 0.55 else "en"
        template = rng.choice(ES_QUERY if lang == "es" else EN_QUERY)
        text = template
        while "{" in text:
            start = text.index("{")
            text = text[:start] + fill[text[start + 1]](vocab[lang]) + text[start + 3 :]
        if 2 <= len(text.split()) <= 8:
            out.append(text)
    return out
