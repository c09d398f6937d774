"""Answers written by a language model, every sentence checked against the passage it cites.

The model gets the retrieved passages, numbered, each with its title, source and date, and the
reader's "today"; it is asked for a short answer with ``[n]`` after each sentence, or Citewire's
refusal sentence. Each sentence it writes is checked as soon as it is complete
(``rag.grounding.check``): a supported one is kept, its citations anchored to the verbatim
sentences of the passages that hold it, so every ``[n]`` points at an exact span of an article as
the extractive answers' do; the others are left out and listed in ``Answer.unsupported`` with the
reason. When nothing supported remains, or the model fails, the answer is the extractive one,
flagged ``fallback``.

The extractive answerer's refusal tests run first: a question the passages cannot answer (the
best passage too far from it, a year it names in none of them) is refused without asking the
model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date

from rag.answer import MIN_SCORE, REFUSAL, ExtractiveAnswerer
from rag.choice import Choice, Weighed, choose
from rag.conversation import Turn
from rag.errors import ModelError
from rag.evidence import Evidence, citation
from rag.grounding import MARKERS, Checked, check
from rag.llm import LanguageModel
from rag.records import Answer, Citation, Hit, Unsupported
from rag.text import sentence_spans, terms

SYSTEM = (
    "You answer questions about news articles using only the numbered passages you are given. "
    "Answer in one to three short sentences, the short answer first. End every sentence with the "
    "number of the passage it comes from in square brackets, like [1]. If the passages do not "
    f"answer the question, reply with exactly: {REFUSAL}"
)
ANSWER_TOKENS = 160
# ``[n]`` markers opening a sentence piece belong to the sentence before; so does a marker still
# being written ("[", "[1", "[1,") at the end of a reply that is still streaming.
_LEADING_MARKERS = re.compile(r"^(\s*\[\d+(?:\s*[,;]\s*\d+)*\])+|^\s*\[[\d,; ]*$")


def passage_context(hit: Hit) -> str:
    """What the model, and a reader, see with a passage: its title, source and date (ISO and
    written out, so that either form in an answer is found)."""
    chunk = hit.chunk
    when = (
        f"{chunk.published.isoformat()}, {chunk.published.strftime('%-d %B %Y')}" if chunk.published else ""
    )
    return "; ".join(part for part in (chunk.title, chunk.source or "", when) if part)


def build_prompt(
    model: LanguageModel, question: str, hits: Sequence[Hit], as_of: date | None
) -> tuple[str, list[str]]:
    """The user message, and the text of each passage as shown in it: passages in rank order,
    the last ones cut (by the model's token count) or left out to fit its context with the
    system message and the answer."""
    head = f"Today is {as_of.isoformat()}.\n\n" if as_of else ""
    tail = f"\nQuestion: {question}\nAnswer:"
    budget = model.context_window - ANSWER_TOKENS - model.count_tokens(SYSTEM + head + tail) - 16
    shown: list[str] = []
    blocks: list[str] = []
    for n, hit in enumerate(hits, start=1):
        label = f"[{n}] {passage_context(hit)}\n"
        room = budget - model.count_tokens(label) - 2
        text = _cut(model, hit.chunk.text, room)
        if not text:
            break
        shown.append(text)
        blocks.append(f"{label}{text}\n")
        budget -= model.count_tokens(blocks[-1]) + 1
    return head + "Passages:\n\n" + "\n".join(blocks) + tail, shown


def _cut(model: LanguageModel, text: str, room: int) -> str:
    """``text``, or its longest run of whole sentences from the start that takes at most
    ``room`` tokens ("" when not even its first does)."""
    if room <= 0:
        return ""
    if model.count_tokens(text) <= room:
        return text
    kept = ""
    for _, end in sentence_spans(text):
        if model.count_tokens(text[:end]) > room:
            break
        kept = text[:end]
    return kept


def split_sentences(text: str) -> list[str]:
    """The sentences of a model's reply, each with the ``[n]`` markers written after its full
    stop ("... drama series. [1]")."""
    sentences: list[str] = []
    for start, end in sentence_spans(text):
        piece = text[start:end]
        markers = _LEADING_MARKERS.match(piece)
        if markers and sentences:
            sentences[-1] += " " + markers.group().strip()
            piece = piece[markers.end() :].strip()
        if piece:
            sentences.append(piece)
    return sentences


def is_refusal(text: str) -> bool:
    """Whether a reply is (mostly) the refusal sentence."""
    wanted = set(terms(REFUSAL))
    found = set(terms(text))
    return bool(found) and len(wanted & found) >= 0.7 * len(wanted) and len(found - wanted) <= 2


@dataclass(frozen=True)
class GenerativeAnswerer:
    """Answers written by ``model``, checked sentence by sentence (see the module's notes)."""

    model: LanguageModel
    extractive: ExtractiveAnswerer

    @property
    def name(self) -> str:
        return f"llm:{self.model.name}"

    def compose(
        self,
        question: str,
        hits: Sequence[Hit],
        exclude: frozenset[tuple[str, int]] = frozenset(),
        as_of: date | None = None,
    ) -> Answer:
        """The whole answer (the last of ``stream``)."""
        *_, answer = self.stream(question, hits, exclude, as_of)
        return answer

    def stream(
        self,
        question: str,
        hits: Sequence[Hit],
        exclude: frozenset[tuple[str, int]] = frozenset(),
        as_of: date | None = None,
    ) -> Iterator[Answer]:
        """The answer as it grows: one more checked sentence each time, the whole answer last
        (with what the model wrote, in ``written``)."""
        ranked = self.extractive.candidates(question, hits, as_of)
        reason = self.extractive.refusal_reason(question, hits, ranked[0] if ranked else None)
        if reason is not None:
            yield Answer(question, REFUSAL, True, answerer=self.name, refusal_reason=reason, hits=tuple(hits))
            return
        prompt, shown = build_prompt(self.model, question, hits, as_of)
        passages = [(text, passage_context(hit)) for text, hit in zip(shown, hits, strict=False)]
        kept: list[Checked] = []
        dropped: list[Unsupported] = []
        reply = ""
        try:
            checked = 0  # sentences of the reply already checked
            for piece in self.model.stream(SYSTEM, prompt, ANSWER_TOKENS):
                reply += piece
                sentences = split_sentences(reply)
                # The last may still grow, or its markers still come.
                for sentence in sentences[checked : len(sentences) - 1]:
                    if self._take(sentence, passages, kept, dropped):
                        yield self._answer(question, hits, kept, dropped)
                checked = max(checked, len(sentences) - 1)
            for sentence in split_sentences(reply)[checked:]:
                self._take(sentence, passages, kept, dropped)
        except ModelError as exc:
            if kept:  # what was checked before the model failed stands
                yield self._answer(question, hits, kept, dropped, written=reply or None)
            else:
                yield self._fallback(question, hits, exclude, dropped, str(exc), written=reply or None)
            return
        if not kept and is_refusal(reply):
            yield Answer(
                question,
                REFUSAL,
                True,
                answerer=self.name,
                refusal_reason="the model found no answer",
                written=reply,
                hits=tuple(hits),
            )
            return
        if not kept:
            why = "nothing the model wrote was supported by the passages it cited"
            why = why if reply.strip() else "the model wrote nothing"
            yield self._fallback(question, hits, exclude, dropped, why, written=reply or None)
            return
        yield self._answer(question, hits, kept, dropped, written=reply)

    @staticmethod
    def _take(
        sentence: str, passages: list[tuple[str, str]], kept: list[Checked], dropped: list[Unsupported]
    ) -> bool:
        """Check ``sentence``; True when it joins the answer."""
        if is_refusal(sentence):
            return False
        result = check(sentence, passages)
        if result.supported:
            kept.append(result)
            return True
        dropped.append(Unsupported(sentence, result.reason or "unsupported"))
        return False

    def _answer(
        self,
        question: str,
        hits: Sequence[Hit],
        kept: list[Checked],
        dropped: list[Unsupported],
        written: str | None = None,
    ) -> Answer:
        """The kept sentences, each followed by the numbers of its citations (numbered in the
        order they first appear, one per distinct span); ``written`` is the model's whole reply,
        for the whole answer."""
        citations: dict[tuple[str, int, int], Citation] = {}
        parts = []
        for result in kept:
            numbers = []
            for n, start, end in result.anchors:
                hit = hits[n - 1]
                chunk = hit.chunk
                key = (chunk.article_id, chunk.start + start, chunk.start + end)
                if key not in citations:
                    evidence = Evidence(hit, n - 1, key[1], key[2], chunk.text[start:end], frozenset())
                    citations[key] = citation(len(citations) + 1, evidence)
                numbers.append(citations[key].n)
            marks = "".join(f"[{n}]" for n in dict.fromkeys(numbers))
            parts.append(f"{result.statement} {marks}")
        return Answer(
            question,
            " ".join(parts),
            False,
            tuple(citations.values()),
            answerer=self.name,
            unsupported=tuple(dropped),
            written=written,
            hits=tuple(hits),
        )

    def _fallback(
        self,
        question: str,
        hits: Sequence[Hit],
        exclude: frozenset[tuple[str, int]],
        dropped: list[Unsupported],
        why: str,
        written: str | None,
    ) -> Answer:
        answer = self.extractive.compose(question, hits, exclude)
        return replace(
            answer,
            answerer=self.name,
            unsupported=tuple(dropped),
            fallback=True,
            fallback_reason=why,
            written=written,
        )


REWRITE_SYSTEM = (
    "You rewrite a reader's latest question about the news so that it stands on its own: name "
    "whatever it refers to in the conversation before it. If it already stands on its own, "
    "repeat it unchanged. Reply with the question alone."
)
_REWRITE_TOKENS = 60


def rewrite_follow_up(model: LanguageModel, question: str, history: Sequence[Turn]) -> str | None:
    """``question`` rewritten by ``model`` as a standalone question from the last turns of the
    conversation; None when the model fails or writes something that is no question."""
    lines = []
    for turn in history[-3:]:
        lines.append(f"Reader: {turn.question}")
        if turn.answer:
            lines.append(f"Answer: {MARKERS.sub('', turn.answer)[:600]}")
    prompt = "\n".join([*lines, f"Reader's latest question: {question}", "Standalone question:"])
    try:
        written = "".join(model.stream(REWRITE_SYSTEM, prompt, _REWRITE_TOKENS)).strip()
    except ModelError:
        return None
    first = written.split("\n", 1)[0].strip().strip('"').strip()
    return first if 3 <= len(first.split()) <= 60 and first.endswith("?") else None


CHOOSE_SYSTEM = (
    "You answer multiple-choice questions about news articles using only the numbered passages "
    "you are given. Reply with the letter of the option the passages support, then the number of "
    "the passage that supports it in square brackets, like: B [2]"
)
_LETTERS = "ABCDEFGH"


def model_choice(
    model: LanguageModel,
    question: str,
    choices: Sequence[str],
    hits: Sequence[Hit],
    min_score: float = MIN_SCORE,
) -> Choice:
    """The option ``model`` picks from the passages, grounded (and cited) when a sentence of a
    passage passing the refusal gate (``min_score``) holds it (``rag.choice.grounded_choice``);
    the extractive choice when the model fails or names no option. A question whose form settles
    the choice ("All of the above", "Which of these is not ...?": ``rag.choice.by_form``) is not
    put to the model."""

    def pick(weighed: Weighed) -> int | None:
        options = "\n".join(f"{_LETTERS[i]}. {option}" for i, option in enumerate(choices[: len(_LETTERS)]))
        prompt, _ = build_prompt(model, f"{question}\nOptions:\n{options}", hits, None)
        try:
            written = "".join(model.stream(CHOOSE_SYSTEM, prompt, 12))
        except ModelError:
            return None
        picked = re.match(r"\s*\(?([A-H])\b", written)
        if picked is None or _LETTERS.index(picked.group(1)) >= len(choices):
            return None
        return _LETTERS.index(picked.group(1))

    return choose(question, choices, hits, pick, min_score)
