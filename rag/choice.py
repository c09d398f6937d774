"""Multiple choice grounded in retrieved passages: pick the option the evidence supports.

For each option, every sentence of the retrieved passages is scored by how much of the option
it holds (its distinctive words: those it does not share with the other options or the
question) times how well the sentence matches the question. The option with the strongest
evidence wins, and its best sentence is cited. With no evidence for any option, the option
mentioned most often in the passages is taken and the choice is marked ungrounded.

Two forms of question are answered from the other options' evidence instead (``by_form``): an
"All of the above" option is taken when the passages hold two or more of the others, and "Which
of these is not ...?" (or "... is false?") takes the option held least when every other option
is held.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rag.answer import MIN_SCORE
from rag.errors import ConfigError
from rag.evidence import Evidence, citation, coverage, evidence_sentences, rarity_weights
from rag.records import Citation, Hit
from rag.text import question_terms, terms, words


@dataclass(frozen=True)
class Choice:
    """The option picked for a multiple-choice question, with the sentence that grounds it."""

    question: str
    choices: tuple[str, ...]
    index: int
    scores: tuple[float, ...]
    grounded: bool
    citations: tuple[Citation, ...] = ()

    @property
    def choice(self) -> str:
        """The text of the chosen option."""
        return self.choices[self.index]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "question": self.question,
            "choices": list(self.choices),
            "choice": self.choice,
            "index": self.index,
            "scores": [round(s, 4) for s in self.scores],
            "grounded": self.grounded,
            "citations": [c.to_dict() for c in self.citations],
        }


# An option that names the others together, and a question that asks for the one option left out.
_TOGETHER = re.compile(r"(all|both) of (the )?(above|these|them)\W*", re.IGNORECASE)
_LEFT_OUT = re.compile(
    r"\b(which (one )?of (these|the following)|all (of )?(these|the following))\b"
    r".*?(\bnot\b|n't\b|\bexcept\b|\bfalse\b|\buntrue\b|\bincorrect\b)",
    re.IGNORECASE,
)


# A number written with a point or commas ("4.96", "1,200"), which ``words`` cuts in two.
_NUMBER = re.compile(r"\d+(?:[.,]\d+)+")


def _whole_numbers(text: str) -> str:
    """``text`` with each number written with a point or commas made one word ("4_96", "1200"),
    so that an option "$4" is not found in "$4.96", nor "200" in "1,200"."""
    return _NUMBER.sub(lambda m: m.group().replace(",", "").replace(".", "_"), text)


def _option_terms(option: str) -> list[str]:
    option = _whole_numbers(option)
    found = terms(option)
    return found or [w.lower() for w in words(option)]


def _sentence_terms(e: Evidence) -> frozenset[str]:
    """The sentence's terms with its numbers whole: the pieces ``words`` cut them into, unless
    also written alone, give way to the numbers."""
    if not _NUMBER.search(e.text):
        return e.terms
    whole = set(terms(_whole_numbers(e.text)))
    cut = set(terms(e.text))
    return (e.terms - (cut - whole)) | (whole - cut)


def phrase(text: str) -> str:
    """``text`` as its lower-cased words between spaces, numbers whole, for whole-word phrase
    search."""
    return " " + " ".join(w.lower() for w in words(_whole_numbers(text))) + " "


def _held(weights: dict[str, float], found: frozenset[str]) -> float:
    """Weighted share of an option's terms in a sentence; a term also matches as a word's
    stem-prefix ("europ" in "european"), since options and articles inflect names differently;
    a number only as itself ("1200" is not in "12000")."""
    total = sum(weights.values())
    if total == 0:
        return 0.0
    hit = 0.0
    for term, weight in weights.items():
        if term in found or (len(term) >= 4 and term.isalpha() and any(w.startswith(term) for w in found)):
            hit += weight
    return hit / total


Weighed = Sequence[tuple[float, Evidence | None]]
"""Each option's evidence, as ``option_evidence`` gives it."""


def choose(
    question: str,
    choices: Sequence[str],
    hits: Sequence[Hit],
    pick: Callable[[Weighed], int | None] | None = None,
    min_score: float = MIN_SCORE,
) -> Choice:
    """Pick the option of ``choices`` best supported by ``hits``: the one the question's form
    settles (``by_form``), else ``pick``'s (a learned or a language model's pick, given the
    options' evidence; None from it leaves the choice to the rule), else ``strongest``'s;
    grounded as ``grounded_choice`` says, ``min_score`` being the library's refusal gate.
    Raises ``ConfigError`` without options."""
    options = options_of(choices)
    weighed = option_evidence(question, options, hits)
    settled = by_form(question, options, weighed)
    if settled is not None:
        return settled
    index = pick(weighed) if pick is not None else None
    if index is None:
        index = strongest(options, hits, weighed)
    return grounded_choice(question, options, index, weighed, min_score)


def strongest(options: Sequence[str], hits: Sequence[Hit], weighed: Weighed) -> int:
    """The hand-set rule: the option with the strongest evidence, or with none for any, the
    option the passages name most often (the choice is then ungrounded)."""
    scores = [score for score, _ in weighed]
    if max(scores) > 0:
        return max(range(len(options)), key=lambda i: (scores[i], -i))
    passages = phrase(" ".join(h.chunk.text for h in hits))
    counts = [passages.count(phrase(o)) for o in options]
    return max(range(len(options)), key=lambda i: (counts[i], -i))


def options_of(choices: Sequence[str]) -> tuple[str, ...]:
    """``choices`` as a tuple of two or more options, each some text; ``ConfigError`` naming what
    is not (one string is not a list of options: its letters would be). Repeats are kept, as a
    quiz may have them."""
    if isinstance(choices, str) or not isinstance(choices, Iterable):
        raise ConfigError(f"choices must be a list of options. Currently, choices is {choices!r}")
    options = tuple(choices)
    if len(options) < 2:
        raise ConfigError(f"choose needs at least two choices. Currently, there are {len(options)}")
    for option in options:
        if not isinstance(option, str) or not option.strip():
            raise ConfigError(f"each choice must be some text. Currently, choices holds {option!r}")
    return options


def grounded_choice(
    question: str, options: Sequence[str], index: int, weighed: Weighed, min_score: float = MIN_SCORE
) -> Choice:
    """The choice of ``options[index]``, grounded (and cited) when ``weighed`` found evidence
    for it in a passage near enough to the question to answer it (its search score at least
    ``min_score``, the refusal gate's: a sentence of an unrelated story that happens to name the
    option grounds nothing)."""
    score, evidence = weighed[index]
    grounded = score > 0 and evidence is not None and evidence.hit.score >= min_score
    citations = (citation(1, evidence),) if grounded and evidence is not None else ()
    return Choice(question, tuple(options), index, tuple(s for s, _ in weighed), grounded, citations)


def by_form(question: str, options: Sequence[str], weighed: Weighed) -> Choice | None:
    """The choice the question's form settles from the other options' evidence (``weighed``, as
    ``option_evidence`` gives it), citing their best sentences; None for other questions: an
    "All of the above" option when the passages hold two or more of the others, and for "Which
    of these is not ...?" the option held least when every other one is held."""
    held = {i for i, (score, _) in enumerate(weighed) if score > 0}
    together = [i for i, option in enumerate(options) if _TOGETHER.fullmatch(option.strip())]
    if together and len(held - set(together)) >= 2:
        index = together[0]
    elif not together and _LEFT_OUT.search(question) and len(held) >= len(options) - 1:
        index = min(range(len(options)), key=lambda i: (weighed[i][0], i))
    else:
        return None
    others = [evidence for i, (_, evidence) in enumerate(weighed) if i != index and i in held and evidence]
    citations = tuple(citation(n, evidence) for n, evidence in enumerate(others[:3], start=1))
    return Choice(question, tuple(options), index, tuple(s for s, _ in weighed), True, citations)


def option_evidence(
    question: str, choices: Sequence[str], hits: Sequence[Hit]
) -> list[tuple[float, Evidence | None]]:
    """For each option, how strongly the sentences of ``hits`` support it, and the sentence
    that supports it best (None when none holds any of it)."""
    options = options_of(choices)
    pool = evidence_sentences(question, hits, min_words=3)
    asked = question_terms(question)
    rarity = rarity_weights(asked, pool)
    option_terms = [_option_terms(o) for o in options]
    # Weigh each option's words by how distinctive they are.
    weights: list[dict[str, float]] = []
    for i, own in enumerate(option_terms):
        others = {t for j, ts in enumerate(option_terms) if j != i for t in ts}
        weights.append({t: 0.1 if t in asked else 0.3 if t in others else 1.0 for t in dict.fromkeys(own)})
    best_hit = max((h.score for h in hits), default=0.0)
    held_terms = [_sentence_terms(e) for e in pool]
    phrases = [phrase(e.text) for e in pool]
    weighed: list[tuple[float, Evidence | None]] = []
    for i, option in enumerate(options):
        said = phrase(option)
        strongest: list[tuple[float, Evidence]] = []
        for e, found, written in zip(pool, held_terms, phrases, strict=True):
            held = 1.0 if said.strip() and said in written else _held(weights[i], found)
            if held == 0:
                continue
            relevance = e.hit.score / best_hit if best_hit > 0 else 0.0
            strongest.append((held * (0.3 + coverage(rarity, set(e.terms))) * (0.5 + 0.5 * relevance), e))
        strongest.sort(key=lambda pair: -pair[0])
        top = [s for s, _ in strongest[:2]]
        score = top[0] + 0.25 * top[1] if len(top) == 2 else top[0] if top else 0.0
        weighed.append((score, strongest[0][1] if strongest else None))
    return weighed
