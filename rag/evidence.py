"""Evidence: the sentences of retrieved passages, and what answers and multiple choice share
about them (weighting a question's terms, citing a sentence). ``rag.answer`` quotes them,
``rag.choice`` weighs options by them, ``rag.generative`` cites the ones a model's sentence
rests on."""

from __future__ import annotations

import math
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
            if len(text.split()) < min_words or key in found:
                continue
            sentence_terms = set(terms(text))
            for name, parts in joined.items():
                if name in sentence_terms:
                    sentence_terms.update(parts)
            found[key] = Evidence(
                hit, rank, chunk.start + start, chunk.start + end, text, frozenset(sentence_terms)
            )
    return list(found.values())


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
