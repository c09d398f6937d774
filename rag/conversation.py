"""Conversations: resolving a follow-up question against the turns before it.

No generative model rewrites the question. Instead a question that leans on what came before
(it has a pronoun such as "he", "it" or "they", or asks for "more" or what "else") is searched
together with the previous question and the one that opened the topic (the last that did not
lean on another), so "What else did he say about it?" after "What did Xi say about multilateral
governance?" retrieves Xi's speech again, and a long chain of follow-ups does not grow the query
past what the model reads. Passages from the articles the previous answer cited get a small
boost, and sentences already quoted are passed over.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rag.records import Answer, Hit

FOLLOW_UP_WORDS = frozenset(
    (
        "he him his she her hers it its they them their theirs this that these those there "
        "else more also other another further again same"
    ).split()
)
PREFER_BOOST = 0.05
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Turn:
    """One question of a conversation: as asked, as searched, and the sentences its answer quoted."""

    question: str
    query: str
    cited: tuple[tuple[str, int], ...] = ()

    @classmethod
    def of(cls, question: str, query: str, answer: Answer) -> Turn:
        """The turn that ``answer`` completes."""
        return cls(question, query, tuple((c.article_id, c.start) for c in answer.citations))

    def to_dict(self) -> dict[str, Any]:
        """Plain form for storage (the chat page keeps it in the browser)."""
        return {"question": self.question, "query": self.query, "cited": [list(c) for c in self.cited]}

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Turn:
        """Inverse of ``to_dict``."""
        cited = tuple((str(a), int(s)) for a, s in record.get("cited", []))
        return cls(str(record["question"]), str(record.get("query", record["question"])), cited)


@dataclass(frozen=True)
class FollowUp:
    """How to search for a question in its conversation."""

    query: str
    prefer: tuple[str, ...] = ()
    seen: frozenset[tuple[str, int]] = frozenset()


def is_follow_up(question: str) -> bool:
    """Whether ``question`` leans on an earlier turn (a pronoun, "else", "more" ...)."""
    return any(word in FOLLOW_UP_WORDS for word in _WORD.findall(question.lower()))


def resolve(question: str, history: Sequence[Turn]) -> FollowUp:
    """The search query, preferred articles and already quoted sentences for ``question``."""
    if not history or not is_follow_up(question):
        return FollowUp(question)
    last = history[-1]
    opener = next((t.question for t in reversed(history) if t.query == t.question), history[0].question)
    return FollowUp(
        # The new question first: the model reads a query's first 256 tokens only.
        query=" ".join(dict.fromkeys((question, last.question, opener))),
        prefer=tuple(dict.fromkeys(article for article, _ in last.cited)),
        seen=frozenset(c for turn in history for c in turn.cited),
    )


def prefer_articles(hits: Sequence[Hit], articles: Sequence[str]) -> list[Hit]:
    """``hits`` re-ranked with a small boost for passages of ``articles`` (scores unchanged)."""
    wanted = set(articles)
    return sorted(hits, key=lambda h: -(h.score + (PREFER_BOOST if h.chunk.article_id in wanted else 0.0)))
