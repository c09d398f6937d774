"""Composing a cited answer from retrieved passages.

The default ``ExtractiveAnswerer`` needs no generative model: it quotes the sentences of the
retrieved passages that best answer the question, each followed by ``[n]``, so every claim is a
verbatim substring of its cited article. When the passages do not hold an answer it returns
``REFUSAL`` with no citations. A generative backend implements the same ``Answerer`` protocol.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Protocol

from rag.evidence import Evidence, citation, coverage, evidence_sentences, rarity_weights
from rag.records import Answer, Hit
from rag.text import (
    asks_for_a_statement,
    expected_answer,
    holds_answer_kind,
    new_names,
    numbers,
    points_back,
    question_terms,
    terms,
    words,
)

if TYPE_CHECKING:
    from rag.reading import Reader

CLOSERS = (".", "!", "?", '"', "”", "'", "’", ")")
REFUSAL = "The articles do not contain an answer to this question."


def nothing_within(question: str, bounds: str, known_sources: str = "") -> Answer:
    """The refusal when the search's bounds (dates, sources) leave no passage at all: a reader
    told "not in the articles" would not know the dates they chose were why. ``known_sources``
    names the stored ones when none of those asked for is one (``rag.query.unknown_sources_note``)."""
    return Answer(
        question,
        f"No stored article was {bounds}, so none can answer; widen the search.{known_sources}",
        True,
        refusal_reason=f"no article {bounds}",
    )


class Answerer(Protocol):
    """Turns a question and its retrieved passages into an ``Answer``: the extractive answerer
    here, or a language model's (``rag.generative``)."""

    def compose(
        self,
        question: str,
        hits: Sequence[Hit],
        exclude: frozenset[tuple[str, int]] = frozenset(),
        as_of: date | None = None,
    ) -> Answer:
        """Answer ``question`` from ``hits`` (best first), or refuse.

        ``exclude`` names sentences (article id, start offset) already quoted in the
        conversation; they are passed over while others remain. ``as_of`` is the reader's
        "today", for an answerer that writes.
        """
        ...

    def stream(
        self,
        question: str,
        hits: Sequence[Hit],
        exclude: frozenset[tuple[str, int]] = frozenset(),
        as_of: date | None = None,
    ) -> Iterator[Answer]:
        """The answer as it grows, the whole answer last (one answer, for an answerer that
        does not write piece by piece)."""
        ...


@dataclass(frozen=True)
class Sentence:
    """A candidate answer sentence with how well it answers."""

    evidence: Evidence
    coverage: float  # weighted share of the question's terms the sentence contains
    match: float  # the same share with rare terms weighing more
    score: float
    context: float = 0.0  # the share of the question's terms its passage holds
    relevance: float = 0.0  # its passage's search score over the best one's
    holds_kind: bool = False  # it holds the kind of thing asked for (a number for "how much")

    @property
    def hit(self) -> Hit:
        return self.evidence.hit

    @property
    def rank(self) -> int:
        return self.evidence.rank

    @property
    def start(self) -> int:
        return self.evidence.start

    @property
    def text(self) -> str:
        return self.evidence.text


_MORE = frozenset("else more other others another further".split())


def asks_for_more(question: str) -> bool:
    """Whether the first sentence of ``question`` asks for more, or what else ("What else did he
    say?"): then sentences not quoted before are what it wants, however few of its words they hold."""
    first = re.split(r"[?.!]", question, maxsplit=1)[0]
    return bool(_MORE & {w.lower() for w in words(first)})


def _similar(a: set[str], b: set[str]) -> bool:
    if not a or not b:
        return False
    return len(a & b) / len(a | b) >= 0.6


# Calibrated with bench/refusal.py: realtimeqa-dev questions over their own corpus (answerable)
# and over the BBC corpus (unanswerable).
MIN_SCORE = 0.45
MIN_COVERAGE = 0.3


def _is_headline(evidence: Evidence) -> bool:
    """An article's headline line, read from its text (.txt, .md, .html): every citation shows
    the title already, and it is no sentence of the story."""
    return evidence.text.split() == evidence.hit.chunk.title.split()


def missing_numbers(question: str, hits: Sequence[Hit]) -> set[str]:
    """The numbers of ``question`` (a year, a count) that no passage of ``hits`` nor its date mentions."""
    evidence = " ".join(h.chunk.text for h in hits)
    dates = " ".join(h.chunk.published.isoformat() for h in hits if h.chunk.published)
    return numbers(question) - numbers(evidence) - numbers(dates.replace("-", " "))


@dataclass(frozen=True)
class ExtractiveAnswerer:
    """Answers by quoting the best sentences of the retrieved passages.

    A sentence's score mixes how many of the question's terms it holds (names and numbers count
    double), how many its passage holds (pronouns point back), and the passage's search score
    relative to the best one. It refuses when the best search score is below ``min_score``,
    the best sentence holds less than ``min_coverage`` of the question's terms, or a number the
    question names (a year, a count) appears in no retrieved passage nor its date.
    """

    max_sentences: int = 3
    min_score: float = MIN_SCORE
    min_coverage: float = MIN_COVERAGE
    keep_ratio: float = 0.6  # quote a sentence scoring at least this share of the best's
    reader: Reader | None = None
    """A trained reader (``rag.reading``): its calibrated chance is each sentence's score, the
    three best are quoted, and a best sentence under its threshold is refused, in place of
    ``min_coverage`` (for the questions it reads: see ``reader_for``)."""

    def candidates(self, question: str, hits: Sequence[Hit], as_of: date | None = None) -> list[Sentence]:
        """Every sentence of the passages, scored, best first (by the reader's chance, with one).

        Ranking uses ``rarity_weights``; refusal uses the plain coverage.
        """
        ranked = self._hand_ranked(question, hits)
        reader = self.reader_for(question)
        if reader is None or not ranked:
            return ranked
        chances = reader.chance(reader.scores(question, ranked))
        learned = [replace(s, score=float(c)) for s, c in zip(ranked, chances, strict=True)]
        return sorted(learned, key=lambda s: (-s.score, s.rank, s.start))

    def reader_for(self, question: str) -> Reader | None:
        """The learned reader, for the questions it learned from: those asking for a name, a
        place, a number. A question asking what someone said, or for an account ("Why ...?",
        "What happened to ...?"), gets the hand-set weights: the news quizzes it learned from
        label almost none of theirs (their options are statements, rarely found word for word),
        and it gives the sentence that says it, which names nothing new, little chance."""
        return None if self.reader is None or asks_for_a_statement(question) else self.reader

    def _hand_ranked(self, question: str, hits: Sequence[Hit]) -> list[Sentence]:
        """The sentences scored by the hand-set weights, best first."""
        weights = question_terms(question)
        pool = [e for e in evidence_sentences(question, hits) if not _is_headline(e)]
        rarity = rarity_weights(weights, pool)
        best_hit = max((h.score for h in hits), default=0.0)
        kind = expected_answer(question)
        contexts = {id(hit): coverage(weights, set(terms(hit.chunk.text))) for hit in hits}
        ranked: list[Sentence] = []
        for e in pool:
            relevance = e.hit.score / best_hit if best_hit > 0 else 0.0
            match = coverage(rarity, set(e.terms))
            context = contexts[id(e.hit)]
            score = 0.55 * match + 0.15 * context + 0.30 * relevance
            # A sentence holding the kind of thing asked for (a number for "how much") is
            # likelier the answer; a line with no closing punctuation is a headline or caption.
            holds = holds_answer_kind(kind, e.text)
            score += 0.12 if holds else 0.0
            score -= 0.0 if e.text.endswith(CLOSERS) else 0.1
            ranked.append(
                Sentence(e, coverage(weights, set(e.terms)), match, score, context, relevance, holds)
            )
        return sorted(ranked, key=lambda s: (-s.score, s.rank, s.start))

    def refusal_reason(self, question: str, hits: Sequence[Hit], best: Sentence | None) -> str | None:
        """Why the passages cannot answer ``question``, or None when they can."""
        if not hits:
            return "nothing was retrieved"
        top = max(h.score for h in hits)  # the search's order weighs freshness in, not the score alone
        if top < self.min_score:
            return f"best passage score {top:.2f} is below {self.min_score}"
        reader = self.reader_for(question)
        if reader is not None and (best is None or best.score < reader.refuse_below):
            chance = best.score if best else 0.0
            return (
                f"the reader gives the best sentence a {chance:.0%} chance of holding the answer, "
                f"under the {reader.refuse_below:.1%} it needs"
            )
        if reader is None and (best is None or best.coverage < self.min_coverage):
            share = best.coverage if best else 0.0
            return f"best sentence holds {share:.0%} of the question's terms"
        missing = missing_numbers(question, hits)
        if missing:
            return f"no passage mentions {', '.join(sorted(missing))}"
        return None

    def stream(
        self,
        question: str,
        hits: Sequence[Hit],
        exclude: frozenset[tuple[str, int]] = frozenset(),
        as_of: date | None = None,
    ) -> Iterator[Answer]:
        """The whole answer at once (see ``compose``)."""
        yield self.compose(question, hits, exclude, as_of)

    def compose(
        self,
        question: str,
        hits: Sequence[Hit],
        exclude: frozenset[tuple[str, int]] = frozenset(),
        as_of: date | None = None,
    ) -> Answer:
        """Quote the best sentences with ``[n]`` markers, or refuse (``as_of`` changes nothing:
        quotes carry their own dates).

        Sentences in ``exclude`` (article id, start), and near-copies of them in other articles
        among ``hits``, are passed over unless nothing else answers.
        """
        ranked = self.candidates(question, hits, as_of)
        best = ranked[0] if ranked else None
        reason = self.refusal_reason(question, hits, best)
        if reason is not None or best is None:
            return Answer(
                question,
                REFUSAL,
                True,
                refusal_reason=reason,
                confidence=best.score if best else None,
                hits=tuple(hits),
            )
        quoted = [set(s.evidence.terms) for s in ranked if (s.hit.chunk.article_id, s.start) in exclude]
        # A syndicated copy of a quoted sentence (another article, the same words but for a
        # dateline or two) was quoted too.
        fresh = [
            s for s in ranked
            if (s.hit.chunk.article_id, s.start) not in exclude
            and not any(_similar(set(s.evidence.terms), q) for q in quoted)
        ]  # fmt: skip
        if fresh and (fresh[0].coverage >= self.min_coverage or asks_for_more(question)):
            ranked, best = fresh, fresh[0]
        chosen: list[Sentence] = []
        chosen_terms: list[set[str]] = []
        reader = self.reader_for(question)
        keep = self.keep_ratio if reader is None else reader.keep_ratio
        for sentence in ranked:
            if len(chosen) == self.max_sentences or sentence.score < keep * best.score:
                break
            if sentence.match < 0.5 * best.match:
                continue
            if any(_similar(set(sentence.evidence.terms), other) for other in chosen_terms):
                continue
            chosen.append(sentence)
            chosen_terms.append(set(sentence.evidence.terms))
        completion = self.completion(question, chosen[0], ranked)
        if completion is not None and completion not in chosen:
            chosen = [chosen[0], completion, *chosen[1:]][: self.max_sentences]
        return replace(build_answer(question, chosen), confidence=best.score, hits=tuple(hits))

    @staticmethod
    def completion(question: str, lead: Sentence, ranked: Sequence[Sentence]) -> Sentence | None:
        """The sentence beside ``lead`` in its passage that tells what ``lead`` leaves unsaid.

        The sentence that best matches a question often restates it ("Jackson made history
        when she was sworn in") while the answer sits next to it ("... the seat occupied by
        Stephen Breyer"). When the lead points back ("He picked up ...") the sentence before it
        completes it; otherwise the neighbour naming most that neither the question nor the lead
        names (names and numbers; the one after on a tie), if it names anything.
        """
        chunk_id = lead.hit.chunk.id
        around = sorted((s for s in ranked if s.hit.chunk.id == chunk_id), key=lambda s: s.start)
        at = next(i for i, s in enumerate(around) if s is lead)
        before = around[at - 1] if at > 0 else None
        after = around[at + 1] if at + 1 < len(around) else None
        if points_back(lead.text):
            return before
        asked = question_terms(question).keys()
        own = new_names(lead.text, asked)
        telling = [(len(new_names(s.text, asked) - own), -i, s) for i, s in enumerate((after, before)) if s]
        best = max(telling, key=lambda t: t[:2], default=None)
        return best[2] if best and best[0] > 0 else None


def build_answer(question: str, sentences: Sequence[Sentence]) -> Answer:
    """Cite ``sentences`` (best first) in reading order.

    The best sentence leads, as [1]; the others follow grouped by article (articles in order of
    their best sentence) and, within an article, in the order they appear in it.
    """
    if not sentences:
        return Answer(question=question, answer=REFUSAL, refused=True)
    lead, rest = sentences[0], sentences[1:]
    article_order: dict[str, int] = {lead.hit.chunk.article_id: -1}
    for i, s in enumerate(rest):
        article_order.setdefault(s.hit.chunk.article_id, i)
    ordered = [lead, *sorted(rest, key=lambda s: (article_order[s.hit.chunk.article_id], s.start))]
    citations = tuple(citation(n, s.evidence) for n, s in enumerate(ordered, start=1))
    text = " ".join(f"{c.quote} [{c.n}]" for c in citations)
    return Answer(question=question, answer=text, refused=False, citations=citations)
