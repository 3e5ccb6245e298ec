"""Interviews are questions and answers: a host's question that asks what the user asks points
at the reply that follows.

"Why green roofs, in a city like Rotterdam?" — "Rain, mostly. A green roof holds water like a
sponge…" The reply answers "What are green roofs in Rotterdam mainly for?" although it shares
no word with it: the host's question carried them. A transcript question is never quoted as an
answer; when it is a direct match for the user's question, the first sentences of the other
speaker's reply become direct answers too, with most of the question's score. They must still
pass the support rule (focus and kind of fact) like any other sentence.
"""

from __future__ import annotations

from collections.abc import Sequence

from castgraph.retrieval.generation.relevance import Candidate, is_question

ASKED_CREDIT = 0.9
"""Share of the host question's score its reply gets (the reply's own score if higher)."""
REPLY_SENTENCES = 2
"""Sentences of the reply that answer the question (a reply drifts after its first lines)."""


def credit_replies(candidates: Sequence[Candidate]) -> None:
    """Make the replies to direct transcript questions direct, scored near the question."""
    for k, asking in enumerate(candidates):
        if not (asking.direct and asking.speaker and is_question(asking.text)):
            continue
        replier = None
        for reply in candidates[k + 1 : k + 1 + REPLY_SENTENCES]:
            if reply.rank != asking.rank or not reply.speaker or reply.speaker == asking.speaker:
                break
            if replier not in (None, reply.speaker) or is_question(reply.text):
                break
            replier = reply.speaker
            reply.direct = True
            reply.score = max(reply.score, ASKED_CREDIT * asking.score)
