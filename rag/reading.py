"""What a learned reader sees of each candidate sentence: the features the training pipeline
(``eval/train.py``) fits a ranking model on, and the same, computed the same way, at answer time.

Most features come from what the extractive answerer already computes for a sentence (its share
of the question's terms, its passage's search score and rank, whether it holds the kind of thing
asked for) plus where it sits and what its title shares with the question; one, its likeness to
the question, reads the embedding model's word-piece input vectors without running the model, so
a question's features cost a few milliseconds (1.5 to 3.5 ms on the two-core machines measured;
docs/training.md). The options' features add a search per option
(``rag.library.Library.option_searches``).
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.answer import CLOSERS, MIN_SCORE, ExtractiveAnswerer, Sentence
from rag.choice import Choice, Weighed, choose, phrase
from rag.errors import ConfigError
from rag.evidence import coverage
from rag.records import Hit
from rag.text import expected_answer, new_names, points_back, question_terms, terms

_KINDS = {None: 0, "quantity": 1, "time": 2, "person": 3}

FEATURES = (
    "match",  # rarity-weighted share of the question's terms in the sentence
    "coverage",  # plain share of them
    "passage_coverage",  # share of them in the sentence's passage
    "relevance",  # passage score over the best passage score
    "passage_score",  # the passage's search score
    "passage_rank",  # 0 for the first passage
    "hand_score",  # the hand-set mix of the above (the answerer's score without a model)
    "hand_rank",  # the sentence's place under the hand-set score, 0 first
    "kind_asked",  # 0 none, 1 quantity, 2 time, 3 person
    "holds_kind",  # holds a number, a date, a person's name as asked
    "new_names",  # names and numbers the question does not name
    "points_back",  # opens with "he", "it", "this"...
    "closed",  # ends with closing punctuation (not a headline or caption)
    "words",  # its length in words
    "offset",  # log of its offset in the article (a lead sentence is near 0)
    "sentences",  # candidates for the question
    "likeness",  # the embedding model's word-piece likeness of sentence and question
    "likeness_gap",  # that less the best candidate's
    "match_gap",  # match less the best candidate's
    "title_match",  # share of the question's terms in the article's title
)


class WordVectors(Protocol):
    """What the reader needs of the embedding model (``rag.embedding.Embedder.word_vectors``)."""

    def word_vectors(self, texts: Sequence[str]) -> np.ndarray: ...


def likeness(vectors: WordVectors, question: str, ranked: Sequence[Sentence]) -> np.ndarray:
    """The cosine of each sentence's word-piece vector with the question's."""
    if not ranked:
        return np.zeros(0, dtype=np.float32)
    table = vectors.word_vectors([question, *(s.text for s in ranked)])
    return table[1:] @ table[0]


def sentence_features(question: str, ranked: Sequence[Sentence], vectors: WordVectors) -> np.ndarray:
    """One row of ``FEATURES`` per sentence of ``ranked`` (the answerer's candidates, best first)."""
    kind = _KINDS.get(expected_answer(question), 0)
    weights = question_terms(question)
    asked = weights.keys()
    alike = likeness(vectors, question, ranked)
    best_alike = float(alike.max()) if len(alike) else 0.0
    best_match = max((s.match for s in ranked), default=0.0)
    titles: dict[str, float] = {}
    rows = np.zeros((len(ranked), len(FEATURES)), dtype=np.float32)
    for place, s in enumerate(ranked):
        title = s.hit.chunk.title
        if title not in titles:
            titles[title] = coverage(weights, set(terms(title)))
        rows[place] = (
            s.match,
            s.coverage,
            s.context,
            s.relevance,
            s.hit.score,
            s.rank,
            s.score,
            place,
            kind,
            float(s.holds_kind),
            len(new_names(s.text, asked)),
            float(points_back(s.text)),
            float(s.text.endswith(CLOSERS)),
            len(s.text.split()),
            math.log1p(s.start),
            len(ranked),
            alike[place],
            alike[place] - best_alike,
            s.match - best_match,
            titles[title],
        )
    return rows


BUILTIN = Path(__file__).resolve().parent / "reader"


def reader_folder(setting: str) -> Path | None:
    """The folder the ``reader`` setting names: the shipped reader for ``builtin``, none for
    ``none`` (or an empty setting)."""
    name = setting.strip().lower()
    if name in ("", "none"):
        return None
    return BUILTIN if name == "builtin" else Path(setting)


class Reader:
    """A learned reader, as ``citewire train`` writes it to a folder: a LightGBM model over
    ``FEATURES`` (``reader.txt``), the calibration of its score into the chance that a
    question's best sentence holds the answer, with the chance under which to refuse
    (``reader.json``), and a model over ``OPTION_FEATURES`` for multiple choice (``chooser.txt``)."""

    def __init__(
        self,
        folder: Path,
        booster: Any,
        calibration: tuple[Sequence[float], Sequence[float]],
        refuse_below: float,
        vectors: WordVectors,
        chooser: Any | None = None,
    ) -> None:
        self.folder = folder
        self.vectors = vectors
        self._booster = booster
        self._x = np.asarray(calibration[0], dtype=float)
        self._y = np.asarray(calibration[1], dtype=float)
        self.refuse_below = refuse_below
        self.chooser = chooser

    @classmethod
    def load(cls, folder: Path, vectors: WordVectors) -> Reader:
        """The reader in ``folder``, comparing texts by ``vectors`` (the library's embedding
        model); ``ConfigError`` naming the file when it is missing or was trained on other
        features."""
        model, meta, options = folder / "reader.txt", folder / "reader.json", folder / "chooser.txt"
        try:
            spec = json.loads(meta.read_text(encoding="utf-8"))
            texts = [model.read_text(encoding="utf-8")]
            if options.is_file():
                texts.append(options.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot load the reader in {folder}: {exc}; run `citewire train` again"
            ) from exc
        if not isinstance(spec, dict) or not all(key in spec for key in ("x", "y", "refuse_below")):
            raise ConfigError(
                f"{meta} is not a reader's description (it needs x, y and refuse_below); run "
                "`citewire train` again"
            )
        if tuple(spec.get("features", ())) != FEATURES:
            raise ConfigError(
                f"{meta} was trained on other features than this Citewire's; run `citewire train` again"
            )
        import lightgbm as lgb

        try:
            boosters = [lgb.Booster(model_str=text) for text in texts]
        except lgb.basic.LightGBMError as exc:
            raise ConfigError(
                f"a model in {folder} is not a LightGBM model ({exc}); run `citewire train` again"
            ) from exc
        chooser = boosters[1] if len(boosters) > 1 else None
        calibration = (spec["x"], spec["y"])
        return cls(folder, boosters[0], calibration, float(spec["refuse_below"]), vectors, chooser)

    keep_ratio = 0.0
    """A learned reader's answers quote the best ``max_sentences`` (that match the question half
    as well as the best), whatever their chance: in 2023 cross-validation the answers held the
    gold answer for 27.5% of questions so, against 25.7% when quoting only sentences with 0.6 of
    the best's chance, as the hand-set score does (docs/training.md)."""

    def never_refusing(self) -> Reader:
        """The same reader with no refusal threshold (what the evaluation's risk-coverage plot
        asks of it)."""
        twin = copy.copy(self)
        twin.refuse_below = 0.0
        return twin

    def scores(self, question: str, ranked: Sequence[Sentence]) -> np.ndarray:
        """The model's score of each sentence of ``ranked`` (higher is likelier the answer)."""
        if not ranked:
            return np.zeros(0)
        features = sentence_features(question, ranked, self.vectors)
        # One thread: for a few dozen rows, starting LightGBM's thread pool costs more than it saves.
        return np.asarray(self._booster.predict(features, num_threads=1), dtype=float)

    def chance(self, score: float | np.ndarray) -> np.ndarray:
        """The calibrated chance that a sentence of this score, a question's best, holds its answer."""
        return np.interp(score, self._x, self._y)

    def choose(
        self,
        question: str,
        options: Sequence[str],
        hits: Sequence[Hit],
        searched: Callable[[], Sequence[Sequence[Hit]]],
        min_score: float = MIN_SCORE,
    ) -> Choice:
        """The option the options' model ranks first (unless the question's form settles it,
        ``rag.choice.by_form``); grounded and cited as ``rag.choice`` grounds a choice (a
        sentence of the passages holds it). ``searched`` gives each option's passages when
        searched for with the question (``rag.library.Library.option_searches``); it, and the
        hand-set ranking of the passages' sentences, are made only when the form does not
        settle the question. ``min_score`` is the refusal gate a grounding passage must pass."""
        if self.chooser is None:
            raise ConfigError(f"the reader in {self.folder} has no chooser.txt; run `citewire train` again")
        chooser = self.chooser

        def pick(weighed: Weighed) -> int:
            ranked = ExtractiveAnswerer().candidates(question, hits)
            rows = option_features(question, options, hits, ranked, searched(), weighed)
            return int(np.argmax(chooser.predict(rows, num_threads=1)))

        return choose(question, options, hits, pick, min_score)


OPTION_FEATURES = (
    "evidence",  # how strongly the passages' sentences hold the option (rag.choice.option_evidence)
    "evidence_share",  # that over the best option's
    "evidence_rank",  # the option's place by it, 0 first
    "mentions",  # times the option's words, as a phrase, occur in the passages
    "mention_share",  # that over all options' mentions
    "first_passage",  # rank of the first passage that mentions it (the passage count when none)
    "in_lead",  # in one of the answerer's three best sentences
    "option_words",  # the option's length in words
    "asked_share",  # share of the option's terms the question itself holds
    "options",  # how many options there are
    # Searching again for the question with the option's words added: a right option that the
    # question's own passages miss often brings up an article of the week that holds it.
    "searched_top",  # the best passage score of that search
    "searched_gap",  # that less the best option's
    "searched_mean",  # its mean passage score
    "searched_mentions",  # times the option, as a phrase, occurs in its passages
    "searched_share",  # that over all options'
)


def option_features(
    question: str,
    options: Sequence[str],
    hits: Sequence[Hit],
    ranked: Sequence[Sentence],
    searched: Sequence[Sequence[Hit]],
    evidence: Weighed,
) -> np.ndarray:
    """One row of ``OPTION_FEATURES`` per option, from the question's passages, the answerer's
    ranked candidate sentences, each option's passages searched for with the question, and the
    options' ``evidence`` in the passages (``rag.choice.option_evidence``)."""
    weighed = [score for score, _ in evidence]
    strongest = max(weighed, default=0.0)
    order = sorted(range(len(options)), key=lambda i: (-weighed[i], i))
    passages = [phrase(h.chunk.text) for h in hits]
    lead = " ".join(phrase(s.text) for s in ranked[:3])
    said = [phrase(o) for o in options]
    mentions = [sum(p.count(o) for p in passages) if o.strip() else 0 for o in said]
    total = sum(mentions)
    asked = set(question_terms(question))
    tops = [found[0].score if found else 0.0 for found in searched]
    again = [
        sum(phrase(h.chunk.text).count(o) for h in found) if o.strip() else 0
        for o, found in zip(said, searched, strict=True)
    ]
    rows = np.zeros((len(options), len(OPTION_FEATURES)), dtype=np.float32)
    for i, option in enumerate(options):
        own = set(terms(option))
        first = next((r for r, p in enumerate(passages) if said[i].strip() and said[i] in p), len(hits))
        rows[i] = (
            weighed[i],
            weighed[i] / strongest if strongest > 0 else 0.0,
            order.index(i),
            mentions[i],
            mentions[i] / total if total else 0.0,
            first,
            float(bool(said[i].strip()) and said[i] in lead),
            len(option.split()),
            len(own & asked) / len(own) if own else 0.0,
            len(options),
            tops[i],
            tops[i] - max(tops),
            float(np.mean([h.score for h in searched[i]])) if searched[i] else 0.0,
            again[i],
            again[i] / max(sum(again), 1),
        )
    return rows
