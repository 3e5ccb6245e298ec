"""The retrieval/answer question set: the demo's facts (asked in Spanish and English) plus
``bench/questions.json``, resolved to gold moments (episode title or file stem, start, end).

A question ``expect``s an ``answer`` or that the answerer ``abstain``s (the near-miss
``unanswerable`` kind: no gold). ``name`` is the full name a "who said / asked / read …" answer
must give (set for ``who`` questions and for demo facts whose answer is their speaker's name);
``old`` is the earlier figure an ``update`` question's newest ``answer`` replaced."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from castgraph.demo import DemoChannel

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Gold:
    episode: str  # a demo episode title or a fixture file stem, matched against the catalog
    start: float
    end: float


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    language: str
    kind: str  # single | cross | multi | relation | fixture | unanswerable | who | update | chain
    answer: str
    gold: tuple[Gold, ...]
    expect: str = "answer"  # answer | abstain
    name: str | None = None
    old: str | None = None

    @property
    def answerable(self) -> bool:
        return self.expect != "abstain"


def load_questions(channel: DemoChannel) -> list[Question]:
    """Every question with its gold moments resolved against the built demo's turn timings."""
    by_id = {e.script.id: e for e in channel.episodes}
    questions: list[Question] = []
    for episode in channel.episodes:
        for n, fact in enumerate(episode.script.facts):
            turn = episode.turns[fact.turn_index]
            gold = (Gold(episode.script.title, turn.start, turn.end),)
            speaker = episode.script.speaker_name(fact.speaker)
            name = speaker if fact.answer == speaker else None
            for lang, text in (("es", fact.question_es), ("en", fact.question_en)):
                kind = "single" if lang == episode.script.language else "cross"
                qid = f"{episode.script.id}-{n}-{lang}"
                questions.append(Question(qid, text, lang, kind, fact.answer, gold, name=name))
    raw = json.loads((HERE / "questions.json").read_text(encoding="utf-8"))
    for item in raw["questions"]:
        golds = []
        for g in item["gold"]:
            if "turn" in g:
                ep = by_id[g["episode"]]
                turn = ep.turns[g["turn"]]
                golds.append(Gold(ep.script.title, turn.start, turn.end))
            else:
                golds.append(Gold(g["episode"], float(g["start"]), float(g["end"])))
        questions.append(
            Question(
                item["id"],
                item["question"],
                item["language"],
                item["kind"],
                item["answer"],
                tuple(golds),
                item.get("expect", "answer"),
                item.get("name"),
                item.get("old"),
            )
        )
    return questions
