"""What a learned reader sees of each candidate sentence: the features the training pipeline
(``eval/train.py``) fits a ranking model on, and the same, computed the same way, at answer time.

Every feature comes from what the extractive answerer already computes for a sentence (its share
of the question's terms, its passage's search score and rank, whether it holds the kind of thing
asked for) plus where it sits and how old its article is; nothing here calls a model, so a
question's features cost well under a millisecond per sentence.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from rag.answer import CLOSERS, Sentence
from rag.errors import ConfigError
from rag.text import expected_answer, new_names, points_back, question_terms

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
    "age_days",  # days from its article's date to the as-of date, -1 when either is unknown
    "sentences",  # candidates for the question
)


def sentence_features(question: str, ranked: Sequence[Sentence], as_of: date | None) -> np.ndarray:
    """One row of ``FEATURES`` per sentence of ``ranked`` (the answerer's candidates, best first)."""
    kind = _KINDS.get(expected_answer(question), 0)
    asked = question_terms(question).keys()
    rows = np.zeros((len(ranked), len(FEATURES)), dtype=np.float32)
    for place, s in enumerate(ranked):
        published = s.hit.chunk.published
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
            (as_of - published).days if as_of and published else -1,
            len(ranked),
        )
    return rows


class Reader:
    """A learned sentence ranker: a LightGBM model over ``FEATURES`` (``reader.txt``) and the
    calibration of its best score into the chance that the answer is in that sentence
    (``reader.json``), both written by ``citewire train``."""

    def __init__(self, booster: Any, x: Sequence[float], y: Sequence[float], refuse_below: float) -> None:
        self._booster = booster
        self._x = np.asarray(x, dtype=float)
        self._y = np.asarray(y, dtype=float)
        self.refuse_below = refuse_below

    @classmethod
    def load(cls, folder: Path) -> Reader:
        """The reader in ``folder``; ``ConfigError`` naming the file when it is missing or was
        trained on other features."""
        model, meta = folder / "reader.txt", folder / "reader.json"
        try:
            spec = json.loads(meta.read_text(encoding="utf-8"))
            text = model.read_text(encoding="utf-8")
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot load the reader in {folder}: {exc}; run `citewire train` again"
            ) from exc
        if tuple(spec.get("features", ())) != FEATURES:
            raise ConfigError(
                f"{meta} was trained on other features than this Citewire's; run `citewire train` again"
            )
        import lightgbm as lgb

        try:
            booster = lgb.Booster(model_str=text)
        except lgb.basic.LightGBMError as exc:
            raise ConfigError(f"{model} is not a LightGBM model ({exc}); run `citewire train` again") from exc
        return cls(booster, spec["x"], spec["y"], float(spec["refuse_below"]))

    def scores(self, question: str, ranked: Sequence[Sentence], as_of: date | None) -> np.ndarray:
        """The model's score of each sentence of ``ranked`` (higher is likelier the answer)."""
        if not ranked:
            return np.zeros(0)
        return np.asarray(self._booster.predict(sentence_features(question, ranked, as_of)), dtype=float)

    def chance(self, score: float) -> float:
        """The calibrated chance that a question's best-scored sentence holds its answer."""
        return float(np.interp(score, self._x, self._y))
