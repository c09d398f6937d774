"""Conversations: resolving a follow-up question against the turns before it.

Without a language model nothing rewrites the question (with one, ``Library.reply`` has it
rewritten first: ``rag.generative.rewrite_follow_up``). Instead a question that leans on what came before
is searched together with the previous question and the one that opened the topic (the last
that did not lean on another), so "What else did he say about it?" after "What did Xi say about
multilateral governance?" retrieves Xi's speech again, and a long chain of follow-ups does not
grow the query past what the model reads. The answer's sentences are chosen for the question and
the previous one alone. Passages from the articles the previous answer cited move up two places
in the search's order, and sentences already quoted are passed over.

A question leans on what came before when it has a personal pronoun ("he", "they") or asks for
"more" or what "else"; and, in ``Library.reply``, when it cannot be answered on its own because
it names no topic of its own ("How many were injured?", "Which pitcher gave up the 62nd?"): no
passage comes near enough to it alone to answer, as the refusal threshold judges (its answer
must then quote a passage that holds one of its own words). "It", "this", "that" and "there"
are weaker signs, since they also open new questions ("Is it true that ...", "the company that
..."): they make a follow-up only when
the question names no one and nothing the conversation has not (no new capitalised name) and
brings at most ``MAX_NEW_TERMS`` new content words of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from rag.errors import ConfigError
from rag.records import Answer, Hit
from rag.text import new_names, question_terms, word_parts

FOLLOW_UP_WORDS = frozenset(
    "he him his she her hers they them their theirs else more also other another further again same".split()
)
WEAK_FOLLOW_UP_WORDS = frozenset("it its this that these those there".split())
MAX_NEW_TERMS = 3
PREFER_LIFT = 2


@dataclass(frozen=True)
class Turn:
    """One question of a conversation: as asked, as searched, the sentences its answer quoted,
    and the answer's text (what a language model reads to rewrite a follow-up)."""

    question: str
    query: str
    cited: tuple[tuple[str, int], ...] = ()
    answer: str = ""

    @classmethod
    def of(cls, question: str, query: str, answer: Answer) -> Turn:
        """The turn that ``answer`` completes."""
        cited = tuple((c.article_id, c.start) for c in answer.citations)
        return cls(question, query, cited, "" if answer.refused else answer.answer)

    def to_dict(self) -> dict[str, Any]:
        """Plain form for storage (the chat page keeps it in the browser)."""
        return {
            "question": self.question,
            "query": self.query,
            "cited": [list(c) for c in self.cited],
            "answer": self.answer,
        }

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Turn:
        """Inverse of ``to_dict`` (a turn stored before turns kept their answer has none)."""
        cited = tuple((str(a), int(s)) for a, s in record.get("cited", []))
        query = str(record.get("query", record["question"]))
        return cls(str(record["question"]), query, cited, str(record.get("answer") or ""))


def turns_of(history: object) -> tuple[Turn, ...]:
    """The conversation's earlier turns, oldest first, as ``Library.reply`` returns each; a
    ``ConfigError`` for anything else (one ``Turn`` alone, or a question's text)."""
    if history is None:
        return ()
    if isinstance(history, Turn | str) or not isinstance(history, Sequence):
        raise ConfigError(
            "history must be the earlier turns, a list of Turn, oldest first (as Library.reply "
            f"returns each). Currently, history is {history!r}"
        )
    for n, turn in enumerate(history):
        if not isinstance(turn, Turn):
            raise ConfigError(
                f"history[{n}] must be a Turn (what reply returns with its answer). Currently, it is {turn!r}"
            )
    return tuple(history)


@dataclass(frozen=True)
class FollowUp:
    """How to search for a question in its conversation, and what its answer reads."""

    query: str
    prefer: tuple[str, ...] = ()
    seen: frozenset[tuple[str, int]] = frozenset()
    asked: str = ""
    """What the answerer reads, when not ``query``: the question with the one it follows only, since
    the opener's words, needed to find the topic again, would outweigh its own in choosing
    sentences (a third question about a strike, "How long does the new contract run?", was
    answered with the first answer's sentences)."""

    @property
    def read(self) -> str:
        """What the answerer reads: ``asked``, else ``query``."""
        return self.asked or self.query


def _asked(question: str, last: str) -> str:
    """What the answer to a follow-up reads: ``question`` with the ``last`` one, or "" (the whole
    query, the opener too) when the two name nothing but that they follow on ("What else did he
    say?" after "What else did he say about it?"), which no sentence could be chosen for."""
    two = " ".join(dict.fromkeys((question, last)))
    return two if set(question_terms(two)) - _leaning_terms() else ""


@cache
def _leaning_terms() -> frozenset[str]:
    """The terms of the words a follow-up leans on with (computed on first use: terms need NLTK's
    stop words, which importing ``rag`` must not load)."""
    return frozenset(question_terms(" ".join(FOLLOW_UP_WORDS | WEAK_FOLLOW_UP_WORDS)))


def _opener(history: Sequence[Turn]) -> str:
    """The question that opened the current topic: the last one searched on its own."""
    return next((t.question for t in reversed(history) if t.query == t.question), history[0].question)


def is_follow_up(question: str, history: Sequence[Turn] = ()) -> bool:
    """Whether ``question`` leans on the turns of ``history`` (see the module's notes)."""
    found = set(word_parts(question.lower()))
    if found & FOLLOW_UP_WORDS:
        return True
    if not found & WEAK_FOLLOW_UP_WORDS:
        return False
    context: set[str] = set()
    if history:
        for earlier in (history[-1].question, _opener(history)):
            context.update(question_terms(earlier))
    if any(not any(ch.isdigit() for ch in name) for name in new_names(question, context)):
        return False  # it names someone or something new
    return sum(term not in context for term in question_terms(question)) <= MAX_NEW_TERMS


def resolve(question: str, history: Sequence[Turn], *, follows: bool | None = None) -> FollowUp:
    """The search query, preferred articles and already quoted sentences for ``question``;
    ``follows`` says whether it leans on ``history``, when the caller knows better than
    ``is_follow_up`` (see ``Library.reply``)."""
    history = turns_of(history)
    leans = is_follow_up(question, history) if follows is None else follows
    if not history or not leans:
        return FollowUp(question)
    last = history[-1]
    opener = _opener(history)
    return FollowUp(
        # The new question first: the model reads a query's first 256 tokens only.
        query=" ".join(dict.fromkeys((question, last.question, opener))),
        asked=_asked(question, last.question),
        prefer=tuple(dict.fromkeys(article for article, _ in last.cited)),
        seen=frozenset(c for turn in history for c in turn.cited),
    )


def prefer_articles(hits: Sequence[Hit], articles: Sequence[str]) -> list[Hit]:
    """``hits`` (in the search's fused order) with each passage of ``articles`` moved up
    ``PREFER_LIFT`` places, ahead of any it then ties with; the rest keep their order."""
    wanted = set(articles)

    def place(i: int) -> tuple[int, bool]:
        preferred = hits[i].chunk.article_id in wanted
        return (i - PREFER_LIFT if preferred else i, not preferred)

    return [hits[i] for i in sorted(range(len(hits)), key=place)]
