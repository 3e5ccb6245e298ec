"""The packaged demo scripts load, validate and carry the cross-episode facts benchmarks need."""

from __future__ import annotations

import copy
import unicodedata
import xml.etree.ElementTree as ET
from datetime import date
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from castgraph.core.errors import DependencyError, InputError
from castgraph.demo import EpisodeScript, load_channel, load_scripts, parse_script, synth
from castgraph.demo.feed import ITUNES_NS, FeedChannel, FeedItem, parse_range, render_feed


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _spoken(script: EpisodeScript) -> str:
    return _fold(" ".join(turn.text for turn in script.turns))


@pytest.fixture(scope="module")
def scripts() -> list[EpisodeScript]:
    return load_scripts()


def _raw() -> dict[str, Any]:
    return {
        "id": "x-01",
        "title": "T",
        "language": "es",
        "published": "2024-01-01",
        "description": "D",
        "speakers": {
            "a": {"name": "Ana", "voice": "es-419+f2"},
            "b": {"name": "Beto", "voice": "es+m7"},
        },
        "turns": [{"speaker": "a", "text": "Hola."}, {"speaker": "b", "text": "Chau."}],
        "facts": [
            {
                "question_es": "¿?",
                "question_en": "?",
                "answer": "Chau",
                "speaker": "b",
                "turn_index": 1,
            }
        ],
    }


def test_three_episodes_two_spanish_one_english(scripts: list[EpisodeScript]) -> None:
    assert len(scripts) == 3
    assert sorted(s.language for s in scripts) == ["en", "es", "es"]
    assert len({s.id for s in scripts}) == 3


def test_dates_are_distinct_and_sorted(scripts: list[EpisodeScript]) -> None:
    published = [s.published for s in scripts]
    assert len(set(published)) == 3
    assert published == sorted(published)


def test_each_episode_has_two_or_three_distinct_voices(scripts: list[EpisodeScript]) -> None:
    for script in scripts:
        spoken = {turn.speaker for turn in script.turns}
        assert 2 <= len(spoken) <= 3, script.id
        assert spoken == set(script.speakers), script.id
        voices = [script.speakers[label].voice for label in spoken]
        assert len(set(voices)) == len(voices), f"{script.id}: two speakers share a voice"


def test_a_speaker_keeps_name_and_variant_across_episodes(scripts: list[EpisodeScript]) -> None:
    seen: dict[str, tuple[str, str]] = {}
    for script in scripts:
        for speaker in script.speakers.values():
            variant = speaker.voice.partition("+")[2]
            assert seen.setdefault(speaker.label, (speaker.name, variant)) == (
                speaker.name,
                variant,
            ), speaker.label


def test_facts_point_at_turns_of_their_speaker(scripts: list[EpisodeScript]) -> None:
    for script in scripts:
        assert len(script.facts) >= 4, script.id
        for fact in script.facts:
            turn = script.turns[fact.turn_index]
            assert turn.speaker == fact.speaker
            assert fact.question_es.startswith("¿") and fact.question_en.endswith("?")
            assert fact.answer


def test_numbers_are_written_in_words(scripts: list[EpisodeScript]) -> None:
    for script in scripts:
        for turn in script.turns:
            assert not any(c.isdigit() for c in turn.text), turn.text


def test_recurring_entities_really_recur(scripts: list[EpisodeScript]) -> None:
    by_id = {s.id: s for s in scripts}
    recurring = load_channel().recurring
    assert {"person", "organization", "place", "topic"} <= {e.type for e in recurring}
    for entity in recurring:
        assert len(entity.episodes) >= 2, entity.name
        forms = [_fold(n) for n in (entity.name, *entity.aliases)]
        for episode_id in entity.episodes:
            spoken = _spoken(by_id[episode_id])
            assert any(form in spoken for form in forms), f"{entity.name} not in {episode_id}"


def test_a_guest_of_one_episode_is_cited_in_the_others(scripts: list[EpisodeScript]) -> None:
    first, *later = scripts
    guest = next(s for s in first.speakers.values() if s.label not in ("lucia", "nico"))
    for script in later:
        assert _fold(guest.name) in _spoken(script)
        assert guest.label not in script.speakers


def test_parse_script_rejects_inconsistent_scripts() -> None:
    assert parse_script(_raw()).speaker_name("b") == "Beto"
    bad_turn = _raw()
    bad_turn["facts"][0]["turn_index"] = 7
    wrong_speaker = _raw()
    wrong_speaker["facts"][0]["speaker"] = "a"
    unknown = _raw()
    unknown["turns"][0]["speaker"] = "zed"
    digits = _raw()
    digits["turns"][0]["text"] = "Son 40 sensores."
    missing = _raw()
    del missing["turns"]
    for raw in (bad_turn, wrong_speaker, unknown, digits, missing):
        with pytest.raises(InputError):
            parse_script(raw)


def test_digest_follows_content() -> None:
    changed = copy.deepcopy(_raw())
    changed["turns"][0]["text"] = "Hola, che."
    assert parse_script(_raw()).digest == parse_script(copy.deepcopy(_raw())).digest
    assert parse_script(changed).digest != parse_script(_raw()).digest


def test_missing_espeak_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("castgraph.demo.synth.shutil.which", lambda _name: None)
    with pytest.raises(DependencyError, match="apt-get install espeak-ng"):
        synth.espeak_binary()


def test_pauses_are_deterministic_and_natural() -> None:
    pauses = [synth.pause_after("sobremesa-01", i) for i in range(50)]
    assert pauses == [synth.pause_after("sobremesa-01", i) for i in range(50)]
    assert all(0.3 <= p <= 0.8 for p in pauses)
    assert len(set(pauses)) > 10


def test_feed_is_podcast_rss() -> None:
    channel = FeedChannel("Show", "About things", "es", "https://example.invalid/", "Ana")
    items = [
        FeedItem(
            f"ep-{n}",
            f"Ep {n}",
            "D",
            date(2024, 3, n),
            f"episodes/ep {n}.mp3",
            1000 + n,
            "audio/mpeg",
            95.4,
            "es",
            n,
        )
        for n in (1, 2)
    ]
    root = ET.fromstring(render_feed(channel, items, "http://127.0.0.1:9/"))
    assert root.tag == "rss" and root.get("version") == "2.0"
    node = root.find("channel")
    assert node is not None and node.findtext("title") == "Show"
    found = node.findall("item")
    assert [i.findtext("guid") for i in found] == ["ep-2", "ep-1"]
    enclosure = found[0].find("enclosure")
    assert enclosure is not None
    assert enclosure.attrib == {
        "url": "http://127.0.0.1:9/episodes/ep%202.mp3",
        "length": "1002",
        "type": "audio/mpeg",
    }
    assert parsedate_to_datetime(found[0].findtext("pubDate", "")).date() == date(2024, 3, 2)
    assert found[0].findtext(f"{{{ITUNES_NS}}}duration") == "00:01:35"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=10-", (10, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=0-1,5-9", None),
        ("items=0-1", None),
        ("bytes=-", None),
    ],
)
def test_parse_range(header: str, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 1000) == expected
