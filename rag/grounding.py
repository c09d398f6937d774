"""Whether a written sentence says what the passages it cites say.

One check serves two features: it screens each sentence a language model writes before anyone
sees it (``rag.generative``), and it is the evaluation's citation judge
(``eval.metrics.citation_scores``). It is lexical, since no entailment model ships offline:

    a statement is supported by passages when they hold every number it writes, every name it
    writes (a capitalised word that is not a stop word) and every word of time ("Sunday",
    "month"), and at least ``SUPPORT_SHARE`` of its other content words (stop words dropped,
    Snowball stems compared).

A model's sentence must moreover be held by at most ``MAX_ANCHOR_SENTENCES`` consecutive
sentences of each passage it cites (``check``), which is what its citation then quotes: a claim
stitched from words scattered across a passage is not one the passage makes.

It catches what small models get wrong most (a wrong number or date, a name the passages do not
hold, a claim in words they do not use); it can be fooled by a statement that reuses a passage's
own words with another meaning (who did what to whom).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.text import sentence_spans, terms, words

SUPPORT_SHARE = 0.8
MAX_ANCHOR_SENTENCES = 2
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Words that date a claim: as much a fact as a number ("each month" is not "each weekday").
_WHEN = re.compile(
    r"^(monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekday|weekend|today|tonight|"
    r"yesterday|tomorrow|morning|afternoon|evening|night|day|week|month|year|decade|century|"
    r"january|february|march|april|may|june|july|august|september|october|november|december)s?$",
    re.IGNORECASE,
)


def numbers_in(text: str) -> set[str]:
    """Every number written in ``text``, as digits (thousands separators dropped, "62nd" as 62)."""
    found = set()
    for raw in _NUMBER.findall(text):
        number = re.sub(r",(?=\d{3}\b)", "", raw).rstrip(".,")
        found.add(number.lstrip("0") or "0")
    return found


@dataclass(frozen=True)
class Claims:
    """What a statement asserts, as the check compares it: numbers, names and other terms."""

    numbers: frozenset[str]
    names: frozenset[str]
    """Stems of its capitalised words that are not stop words, and of its words of time
    ("Sunday", "month"), which must be found as they are."""
    terms: frozenset[str]
    """Stems of its other content words."""

    @classmethod
    def of(cls, statement: str) -> Claims:
        stems = terms(statement)
        names = set()
        for word in words(statement):
            if (word[:1].isupper() and not word.isdigit()) or _WHEN.match(word):
                names.update(terms(word))
        return cls(frozenset(numbers_in(statement)), frozenset(names), frozenset(set(stems) - names))


@dataclass(frozen=True)
class Pool:
    """What passages hold, ready to check statements against."""

    numbers: frozenset[str]
    stems: frozenset[str]

    @classmethod
    def of(cls, passages: Sequence[str]) -> Pool:
        text = "\n".join(passages)
        return cls(frozenset(numbers_in(text)), frozenset(terms(text)))


def why_unsupported(statement: str, passages: Sequence[str], share: float = SUPPORT_SHARE) -> str | None:
    """Why ``passages`` do not support ``statement`` (one short phrase), or None when they do."""
    claims = Claims.of(statement)
    if not claims.terms and not claims.names and not claims.numbers:
        return "it says nothing the passages could hold"
    pool = Pool.of(passages)
    missing = sorted(claims.numbers - pool.numbers)
    if missing:
        return f"the number {missing[0]} is in no cited passage"
    absent = sorted(claims.names - pool.stems)
    if absent:
        return f"the name {_shown(statement, absent[0])!r} is in no cited passage"
    if claims.terms:
        held = len(claims.terms & pool.stems) / len(claims.terms)
        if held < share:
            return f"the cited passages hold {held:.0%} of its words"
    return None


def supports(passages: Sequence[str], statement: str, threshold: float = SUPPORT_SHARE) -> bool:
    """Whether ``passages`` together support ``statement`` (see the module's rule)."""
    return why_unsupported(statement, passages, threshold) is None


def _shown(statement: str, stem: str) -> str:
    """The word of ``statement`` whose stem is ``stem``, as written."""
    return next((w for w in words(statement) if stem in terms(w)), stem)


def anchor(statement: str, passage: str) -> tuple[int, int] | None:
    """(start, end) in ``passage`` of the run of at most ``MAX_ANCHOR_SENTENCES`` consecutive
    sentences that holds most of ``statement``'s numbers, names and words (the shortest, then
    the first, among equals); None when no sentence holds any."""
    claims = Claims.of(statement)
    spans = sentence_spans(passage)
    best: tuple[int, int, int, int] | None = None  # (held, -length, -start, end)
    for length in range(1, MAX_ANCHOR_SENTENCES + 1):
        for i in range(len(spans) - length + 1):
            a, b = spans[i][0], spans[i + length - 1][1]
            pool = Pool.of([passage[a:b]])
            held = len(claims.numbers & pool.numbers) + len((claims.names | claims.terms) & pool.stems)
            if held and (best is None or (held, -length, -a) > best[:3]):
                best = (held, -length, -a, b)
    return None if best is None else (-best[2], best[3])


MARKERS = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")


@dataclass(frozen=True)
class Checked:
    """One written sentence, checked against the numbered passages it cites."""

    sentence: str
    """As written, markers and all."""
    statement: str
    """Without its ``[n]`` markers."""
    anchors: tuple[tuple[int, int, int], ...]
    """(passage number, start, end in that passage) of each cited passage's supporting span."""
    reason: str | None
    """Why it is not supported; None when it is."""

    @property
    def supported(self) -> bool:
        return self.reason is None


def check(sentence: str, passages: Sequence[tuple[str, str]]) -> Checked:
    """Check ``sentence`` against the ``passages`` its ``[n]`` markers cite, numbered from 1,
    each given as (text, context) where context is what a reader sees with it (title, source,
    date), which it may also draw on. Supported when the cited passages support it, and the
    span of each that ``anchor`` finds together still does."""
    cited = [int(n) for group in MARKERS.findall(sentence) for n in re.split(r"[,;]", group)]
    statement = " ".join(re.sub(r"\s+([.,;:!?])", r"\1", MARKERS.sub("", sentence)).split())
    if not cited:
        return Checked(sentence, statement, (), "it cites no passage")
    wrong = [n for n in cited if not 1 <= n <= len(passages)]
    if wrong:
        return Checked(sentence, statement, (), f"it cites [{wrong[0]}], which is not among the passages")
    numbered = list(dict.fromkeys(cited))
    reason = why_unsupported(statement, [part for n in numbered for part in passages[n - 1]])
    if reason is not None:
        return Checked(sentence, statement, (), reason)
    anchors = []
    for n in numbered:
        span = anchor(statement, passages[n - 1][0])
        if span is not None:
            anchors.append((n, *span))
    texts = [passages[n - 1][0][a:b] for n, a, b in anchors] + [passages[n - 1][1] for n in numbered]
    if not anchors or not supports(texts, statement):
        return Checked(sentence, statement, (), "no few sentences of the cited passages hold it")
    return Checked(sentence, statement, tuple(anchors), None)
