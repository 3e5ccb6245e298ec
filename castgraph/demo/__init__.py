"""castgraph's own demo channel: a fictional podcast, synthesised offline and served as RSS.

``load_scripts()`` reads the packaged episode scripts, ``build_demo(dest)`` renders them to audio
(espeak-ng + ffmpeg) with the exact time of every turn, and ``serve_demo(dest)`` publishes the
folder as a podcast feed on a local port, ready for ``castgraph ingest <feed url>``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from castgraph.core.errors import InputError
from castgraph.demo import synth
from castgraph.demo.feed import FeedChannel, FeedItem, serve_demo, write_feed, write_manifest

__all__ = [
    "ChannelInfo",
    "DemoChannel",
    "DemoEpisode",
    "EpisodeScript",
    "Fact",
    "GoldMoment",
    "RecurringEntity",
    "Speaker",
    "Turn",
    "TurnTiming",
    "build_demo",
    "load_channel",
    "load_scripts",
    "serve_demo",
]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:8000/"
"""Where ``feed.xml`` on disk points; :func:`serve_demo` renders the feed for its own address."""

_DIGITS = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class Speaker:
    """A voice of the show: its display name and fixed espeak-ng voice."""

    label: str
    name: str
    voice: str
    pitch: int = 50
    speed: int = 160


@dataclass(frozen=True, slots=True)
class Turn:
    """One turn of the script: a speaker label and what they say."""

    speaker: str
    text: str


@dataclass(frozen=True, slots=True)
class Fact:
    """A gold question with its answer and the turn (hence speaker and moment) that holds it."""

    question_es: str
    question_en: str
    answer: str
    speaker: str
    turn_index: int


@dataclass(frozen=True, slots=True)
class EpisodeScript:
    """A packaged episode script; ``digest`` identifies its content (and the renderer)."""

    id: str
    title: str
    language: str
    published: date
    description: str
    speakers: dict[str, Speaker]
    turns: tuple[Turn, ...]
    facts: tuple[Fact, ...]
    digest: str

    def speaker_name(self, label: str) -> str:
        """The display name of a speaker label (``"valeria"`` → ``"Valeria Quiroga"``)."""
        return self.speakers[label].name


@dataclass(frozen=True, slots=True)
class RecurringEntity:
    """An entity mentioned in several episodes (for graph and retrieval benchmarks)."""

    name: str
    type: str
    episodes: tuple[str, ...]
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """The show itself: feed-level fields plus the entities that recur across its episodes."""

    title: str
    description: str
    language: str
    link: str
    author: str
    recurring: tuple[RecurringEntity, ...]


@dataclass(frozen=True, slots=True)
class TurnTiming:
    """Where a turn sits in the built audio: ground truth for diarization and gold moments."""

    index: int
    speaker: str
    name: str
    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class GoldMoment:
    """A fact resolved to its episode, speaker name and time span."""

    episode_id: str
    question_es: str
    question_en: str
    answer: str
    speaker: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class DemoEpisode:
    """A built episode: its script, audio files and turn timings."""

    script: EpisodeScript
    audio_path: Path
    wav_path: Path
    timings_path: Path
    mime: str
    duration: float
    turns: tuple[TurnTiming, ...]
    synthesized: bool

    def gold_moments(self) -> list[GoldMoment]:
        """The script's facts with the speaker's name and the turn's start and end."""
        return [_gold(self, fact) for fact in self.script.facts]


@dataclass(frozen=True, slots=True)
class DemoChannel:
    """A built demo folder: the feed, its manifest and the episodes, oldest first."""

    folder: Path
    feed_path: Path
    manifest_path: Path
    channel: ChannelInfo
    episodes: tuple[DemoEpisode, ...]

    def gold_moments(self) -> list[GoldMoment]:
        """Every episode's gold facts, resolved to moments."""
        return [moment for episode in self.episodes for moment in episode.gold_moments()]


def _gold(episode: DemoEpisode, fact: Fact) -> GoldMoment:
    turn = episode.turns[fact.turn_index]
    return GoldMoment(
        episode.script.id,
        fact.question_es,
        fact.question_en,
        fact.answer,
        turn.name,
        turn.start,
        turn.end,
    )


def _scripts_dir() -> Any:
    return resources.files("castgraph.demo").joinpath("scripts")


def load_channel() -> ChannelInfo:
    """The packaged channel description (``scripts/channel.json``)."""
    raw = json.loads(_scripts_dir().joinpath("channel.json").read_text(encoding="utf-8"))
    try:
        recurring = tuple(
            RecurringEntity(e["name"], e["type"], tuple(e["episodes"]), tuple(e.get("aliases", ())))
            for e in raw["recurring"]
        )
        return ChannelInfo(
            raw["title"], raw["description"], raw["language"], raw["link"], raw["author"], recurring
        )
    except (KeyError, TypeError) as exc:
        raise InputError(f"demo channel.json is malformed: {exc!r}") from exc


def load_scripts() -> list[EpisodeScript]:
    """The packaged episode scripts (``scripts/ep*.json``), validated, oldest first."""
    entries = sorted(
        (e for e in _scripts_dir().iterdir() if re.fullmatch(r"ep.*\.json", e.name)),
        key=lambda e: str(e.name),
    )
    scripts = [parse_script(json.loads(e.read_text(encoding="utf-8")), e.name) for e in entries]
    for attribute in ("id", "published"):
        values = [getattr(s, attribute) for s in scripts]
        if len(set(values)) != len(values):
            raise InputError(f"demo scripts share a {attribute}: {values}")
    return sorted(scripts, key=lambda s: s.published)


def parse_script(raw: dict[str, Any], origin: str = "<script>") -> EpisodeScript:
    """Build and validate an :class:`EpisodeScript` from its JSON form."""
    try:
        speakers = {
            label: Speaker(
                label, s["name"], s["voice"], int(s.get("pitch", 50)), int(s.get("speed", 160))
            )
            for label, s in raw["speakers"].items()
        }
        turns = tuple(Turn(t["speaker"], t["text"]) for t in raw["turns"])
        facts = tuple(
            Fact(
                f["question_es"], f["question_en"], f["answer"], f["speaker"], int(f["turn_index"])
            )
            for f in raw["facts"]
        )
        script = EpisodeScript(
            raw["id"],
            raw["title"],
            raw["language"],
            date.fromisoformat(raw["published"]),
            raw["description"],
            speakers,
            turns,
            facts,
            _digest(raw),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"demo script {origin} is malformed: {exc!r}") from exc
    problems = _problems(script)
    if problems:
        raise InputError(f"demo script {origin} is invalid: " + "; ".join(problems))
    return script


def _problems(script: EpisodeScript) -> list[str]:
    problems = [] if script.turns else ["no turns"]
    for i, turn in enumerate(script.turns):
        if turn.speaker not in script.speakers:
            problems.append(f"turn {i}: unknown speaker {turn.speaker!r}")
        if _DIGITS.search(turn.text):
            problems.append(f"turn {i}: write numbers in words, not digits")
    for i, fact in enumerate(script.facts):
        if not 0 <= fact.turn_index < len(script.turns):
            problems.append(f"fact {i}: turn_index {fact.turn_index} out of range")
        elif script.turns[fact.turn_index].speaker != fact.speaker:
            problems.append(f"fact {i}: turn {fact.turn_index} is not spoken by {fact.speaker!r}")
    for speaker in script.speakers.values():
        if not (0 <= speaker.pitch <= 99 and 80 <= speaker.speed <= 450):
            problems.append(f"speaker {speaker.label}: pitch 0-99 and speed 80-450 wpm")
    return problems


def _digest(raw: dict[str, Any]) -> str:
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{synth.SYNTH_VERSION}\n{canonical}".encode()).hexdigest()


def build_demo(dest: Path, *, force: bool = False, base_url: str = DEFAULT_BASE_URL) -> DemoChannel:
    """Render the demo channel into ``dest`` (idempotent: unchanged episodes are not re-rendered).

    Writes ``episodes/<id>.{wav,mp3,turns.json}``, ``feed.json`` and ``feed.xml``.
    """
    dest = Path(dest)
    episodes_dir = dest / "episodes"
    episodes_dir.mkdir(parents=True, exist_ok=True)
    channel = load_channel()
    encoding = synth.pick_encoding(synth.ffmpeg_binary())
    episodes = tuple(
        _build_episode(script, episodes_dir, encoding, channel.title, force)
        for script in load_scripts()
    )
    items = [_feed_item(number, episode, dest) for number, episode in enumerate(episodes, 1)]
    feed_channel = FeedChannel(
        channel.title, channel.description, channel.language, channel.link, channel.author
    )
    manifest = write_manifest(dest, feed_channel, items)
    feed_path = write_feed(dest, base_url)
    return DemoChannel(dest, feed_path, manifest, channel, episodes)


def _build_episode(
    script: EpisodeScript, folder: Path, encoding: synth.Encoding, show: str, force: bool
) -> DemoEpisode:
    wav_path = folder / f"{script.id}.wav"
    audio_path = folder / f"{script.id}.{encoding.extension}"
    timings_path = folder / f"{script.id}.turns.json"
    if not force:
        cached = _load_built(script, audio_path, wav_path, timings_path)
        if cached is not None:
            logger.info("demo episode %s is up to date", script.id)
            return cached
    lines = [
        synth.Line(t.speaker, _voice(script.speakers[t.speaker]), t.text) for t in script.turns
    ]
    spans = synth.render_episode(script.id, lines, wav_path)
    synth.encode(wav_path, audio_path, encoding, script.title, show)
    names = {label: speaker.name for label, speaker in script.speakers.items()}
    texts = [turn.text for turn in script.turns]
    turns = tuple(
        TurnTiming(s.index, s.speaker, names[s.speaker], s.start, s.end, texts[s.index])
        for s in spans
    )
    duration = round(synth.wav_duration(wav_path), 3)
    episode = DemoEpisode(
        script, audio_path, wav_path, timings_path, encoding.mime, duration, turns, synthesized=True
    )
    _write_timings(episode)
    return episode


def _voice(speaker: Speaker) -> synth.Voice:
    return synth.Voice(speaker.voice, speaker.pitch, speaker.speed)


def _write_timings(episode: DemoEpisode) -> None:
    """The sidecar is written last, so its presence with the right digest means a whole build."""
    script = episode.script
    payload = {
        "id": script.id,
        "title": script.title,
        "language": script.language,
        "script_digest": script.digest,
        "audio": episode.audio_path.name,
        "wav": episode.wav_path.name,
        "mime": episode.mime,
        "duration": episode.duration,
        "sample_rate": synth.SAMPLE_RATE,
        "speakers": {label: s.name for label, s in script.speakers.items()},
        "turns": [asdict(t) for t in episode.turns],
    }
    partial = episode.timings_path.with_name(episode.timings_path.name + ".part")
    partial.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
    partial.replace(episode.timings_path)


def _load_built(
    script: EpisodeScript, audio_path: Path, wav_path: Path, timings_path: Path
) -> DemoEpisode | None:
    if not (audio_path.is_file() and wav_path.is_file() and timings_path.is_file()):
        return None
    try:
        data = json.loads(timings_path.read_text(encoding="utf-8"))
        if data.get("script_digest") != script.digest or data.get("audio") != audio_path.name:
            return None
        turns = tuple(TurnTiming(**t) for t in data["turns"])
        return DemoEpisode(
            script,
            audio_path,
            wav_path,
            timings_path,
            data["mime"],
            float(data["duration"]),
            turns,
            synthesized=False,
        )
    except (ValueError, KeyError, TypeError) as exc:
        logger.warning("rebuilding %s: unreadable %s (%s)", script.id, timings_path.name, exc)
        return None


def _feed_item(number: int, episode: DemoEpisode, root: Path) -> FeedItem:
    script = episode.script
    return FeedItem(
        guid=script.id,
        title=script.title,
        description=script.description,
        published=script.published,
        filename=episode.audio_path.relative_to(root).as_posix(),
        length=episode.audio_path.stat().st_size,
        mime=episode.mime,
        duration=episode.duration,
        language=script.language,
        number=number,
    )
