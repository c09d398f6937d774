"""Evidence: the sentences of retrieved passages, and what answers and multiple choice share
about them (weighting a question's terms, citing a sentence). ``rag.answer`` quotes them,
``rag.choice`` weighs options by them, ``rag.generative`` cites the ones a model's sentence
rests on."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.records import Citation, Hit
from rag.text import joined_names, sentence_spans, terms


@dataclass(frozen=True)
class Evidence:
    """A sentence of a retrieved passage. ``start``/``end`` are offsets in the article text."""

    hit: Hit
    rank: int
    start: int
    end: int
    text: str
    terms: frozenset[str]


def evidence_sentences(question: str, hits: Sequence[Hit], min_words: int = 4) -> list[Evidence]:
    """The sentences of ``hits`` in rank order, each once (overlapping chunks repeat some).

    Terms include both parts of a two-word name the question writes apart and a sentence
    writes joined ("Time Warner" / "TimeWarner").
    """
    joined = joined_names(question)
    found: dict[tuple[str, int], Evidence] = {}
    for rank, hit in enumerate(hits):
        chunk = hit.chunk
        for start, end in sentence_spans(chunk.text):
            text = chunk.text[start:end]
            key = (chunk.article_id, chunk.start + start)
            if len(text.split()) < min_words or key in found or is_credit_line(text):
                continue
            sentence_terms = set(terms(text))
            for name, parts in joined.items():
                if name in sentence_terms:
                    sentence_terms.update(parts)
            found[key] = Evidence(
                hit, rank, chunk.start + start, chunk.start + end, text, frozenset(sentence_terms)
            )
    return list(found.values())


def is_credit_line(text: str) -> bool:
    """A byline or credit line ("Contributing: ...", "... contributed to this report", "Reporting
    by ...", "By Ann Reed and Bo Lin"): all names, it looked to the learned reader like the answer
    to "Who ...?" or "What is the name ...?", and it is no evidence for an option. A lone "By Ann
    Reed" is kept: in a list of books it names an author."""
    return _CREDIT.fullmatch(text) is not None


_NAME = r"[A-Z][\w.'’-]*"
_NAMES = rf"{_NAME}(?: {_NAME})*(?:(?:, | and | & ){_NAME}(?: {_NAME})*)*"
_DAYS = (
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|May"
    r"|June|July|August|September|October|November|December)\b"
)
_CREDIT = re.compile(
    r"Contributing: .{1,200}|.{0,120}contributed to this report\.?"
    rf"|(?:(?:Additional reporting|Reporting|Writing|Editing) by {_NAMES}[.;]? ?)+"
    # Two or more names, and after a comma at most an outlet's ("By Ann Reed and Bo Lin, USA TODAY").
    rf"|By (?!{_DAYS}){_NAME}(?: {_NAME})*(?:, {_NAME}(?: {_NAME})*)* and {_NAME}(?: {_NAME})*"
    rf"(?:, {_NAME}(?: {_NAME}){{0,4}})?\.?"
)


def citation(n: int, evidence: Evidence) -> Citation:
    """Citation ``n`` quoting ``evidence``."""
    chunk = evidence.hit.chunk
    return Citation(
        n=n,
        article_id=chunk.article_id,
        title=chunk.title,
        url=chunk.url,
        source_path=chunk.source_path,
        published=chunk.published,
        source=chunk.source,
        quote=evidence.text,
        passage=chunk.text,
        start=evidence.start,
        end=evidence.end,
        score=round(evidence.hit.score, 4),
    )


def rarity_weights(weights: dict[str, float], pool: Sequence[Evidence]) -> dict[str, float]:
    """Question-term weights for ranking sentences: rarer among ``pool`` weighs more.

    A term found in many candidate sentences (often the subject: "Xi") tells them apart less
    than a rare one ("multilateral"); names weigh only a little more than other words here.
    """
    n = len(pool)
    return {
        t: (1 + 0.25 * (w - 1)) * math.log(1 + n / (1 + sum(1 for e in pool if t in e.terms)))
        for t, w in weights.items()
    }


def coverage(weights: dict[str, float], found: set[str]) -> float:
    """Weighted share of question terms present in ``found`` (0 when the question has none)."""
    total = sum(weights.values())
    if total == 0:
        return 0.0
    return sum(w for t, w in weights.items() if t in found) / total
