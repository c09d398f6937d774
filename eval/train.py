"""Training the reader: which sentence of the retrieved passages to quote, learned from news
quizzes (``citewire train``).

Each question is asked as of its date, the way ``citewire eval`` asks it; every candidate
sentence of its passages becomes a row of ``rag.reading.FEATURES``, labelled by distant
supervision (1 when the sentence holds the correct option's text, normalised as the evaluation
normalises answers). A LightGBM LambdaRank model is fitted on the questions with at least one
such sentence, and checked by cross-validation over weeks (question ids start with their week,
``20230106_3``): weeks in contiguous blocks, so that a fold's test weeks are news its training
never saw. The hand-set score the answerer uses without a model is scored on the same folds.

Multiple choice is learned the same way: each option of a question becomes a row of
``rag.reading.OPTION_FEATURES`` (how strongly the passages hold it, how often and how early they
name it, what a search for the question and the option together brings back, ...), labelled 1
for the correct option, and ranked by a smaller LambdaRank model, checked beside the hand-set
choice (``rag.choice.choose``). Where the question's form settles the choice ("All of the
above", "Which of these is not ...?": ``rag.choice.by_form``), both are scored as settled, as
the product answers.

Outputs in ``--out``: ``rows.npz`` (the features, reused by ``--reuse-rows``), ``reader.txt``
(the model fitted on every week), ``chooser.txt`` (the options' model), ``reader.json`` (its
features and the calibration of its score into the chance that the best sentence holds the
answer, with the refusal threshold), ``cv.json`` (figures by fold and by week, overall, and the
risk-coverage curve) and ``card.md`` (the model card's figures).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.metrics import contains_gold, exact_match
from eval.suite import Question
from rag.answer import ExtractiveAnswerer
from rag.choice import by_form, option_evidence, strongest
from rag.errors import ConfigError
from rag.library import Library
from rag.query import Query
from rag.reading import FEATURES, OPTION_FEATURES, option_features, sentence_features

HAND = FEATURES.index("hand_score")
PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 20,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "verbose": -1,
    "n_jobs": 2,
}
CHOICE_PARAMS: dict[str, Any] = {**PARAMS, "n_estimators": 100, "num_leaves": 7}


@dataclass
class Rows:
    """Every question's candidate sentences as feature rows, labelled."""

    features: np.ndarray  # (sentences, FEATURES) float32
    labels: np.ndarray  # (sentences,) 1 when the sentence holds the correct option's text
    question: np.ndarray  # (sentences,) the index of its question in ``ids``
    ids: list[str]  # question ids, in order
    weeks: list[str]  # each question's week
    options: np.ndarray  # (options, OPTION_FEATURES) float32: each option of each question
    option_labels: np.ndarray  # (options,) 1 for the correct option
    option_question: np.ndarray  # (options,) the index of its question
    hand_choice: np.ndarray  # (questions,) 1 when the hand-set choice (rag.choice.choose) is right
    settled: np.ndarray  # (questions,) the option its form settles (rag.choice.by_form), else -1

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            features=self.features,
            labels=self.labels,
            question=self.question,
            ids=np.array(self.ids),
            weeks=np.array(self.weeks),
            names=np.array(FEATURES),
            options=self.options,
            option_labels=self.option_labels,
            option_question=self.option_question,
            hand_choice=self.hand_choice,
            settled=self.settled,
            option_names=np.array(OPTION_FEATURES),
        )

    @classmethod
    def load(cls, path: Path) -> Rows:
        data = np.load(path)
        if (
            tuple(data["names"]) != FEATURES
            or tuple(data["option_names"]) != OPTION_FEATURES
            or "settled" not in data
        ):
            raise ConfigError(
                f"{path} holds other features than rag.reading's, or was written before the choices "
                "settled by a question's form were kept; run `citewire train` without --reuse-rows"
            )
        return cls(
            data["features"],
            data["labels"],
            data["question"],
            list(data["ids"]),
            list(data["weeks"]),
            data["options"],
            data["option_labels"],
            data["option_question"],
            data["hand_choice"],
            data["settled"],
        )


def week_of(question: Question) -> str:
    """The quiz week a question belongs to: its id's first part, else its date."""
    head, sep, _ = question.id.partition("_")
    if sep:
        return head
    return question.date.isoformat() if question.date else "undated"


def collect(
    library: Library,
    questions: Sequence[Question],
    top_k: int,
    tick: Callable[[], None] = lambda: None,
) -> Rows:
    """Ask every question as of its date and turn its candidate sentences into labelled rows."""
    answerer = ExtractiveAnswerer()
    blocks: list[np.ndarray] = []
    labels: list[float] = []
    owner: list[int] = []
    option_blocks: list[np.ndarray] = []
    option_labels: list[float] = []
    option_owner: list[int] = []
    hand: list[float] = []
    settled: list[int] = []
    for index, q in enumerate(questions):
        query = Query(q.question, top_k=top_k, as_of=q.date)
        hits = library.search(query)
        ranked = answerer.candidates(q.question, hits)
        blocks.append(sentence_features(q.question, ranked, library.embedder))
        labels += [contains_gold(s.text, q.answers) for s in ranked]
        owner += [index] * len(ranked)
        right = [exact_match(option, q.answers) for option in q.choices]
        if len(q.choices) >= 2:
            searched = library.option_searches(query, q.choices)
            weighed = option_evidence(q.question, q.choices, hits)
            option_blocks.append(option_features(q.question, q.choices, hits, ranked, searched, weighed))
            option_labels += right
            option_owner += [index] * len(q.choices)
            form = by_form(q.question, q.choices, weighed)
            settled.append(-1 if form is None else form.index)
            hand.append(right[strongest(q.choices, hits, weighed) if form is None else form.index])
        else:
            hand.append(0.0)
            settled.append(-1)
        tick()
    return Rows(
        _stack(blocks, len(FEATURES)),
        np.asarray(labels, dtype=np.float32),
        np.asarray(owner, dtype=np.int32),
        [q.id for q in questions],
        [week_of(q) for q in questions],
        _stack(option_blocks, len(OPTION_FEATURES)),
        np.asarray(option_labels, dtype=np.float32),
        np.asarray(option_owner, dtype=np.int32),
        np.asarray(hand, dtype=np.float32),
        np.asarray(settled, dtype=np.int32),
    )


def _stack(blocks: list[np.ndarray], width: int) -> np.ndarray:
    return np.concatenate(blocks) if blocks else np.zeros((0, width), dtype=np.float32)


def folds(weeks: Sequence[str], count: int) -> list[list[str]]:
    """The distinct weeks in order, cut into ``count`` contiguous blocks."""
    ordered = sorted(set(weeks))
    count = max(1, min(count, len(ordered)))
    return [list(block) for block in np.array_split(np.array(ordered, dtype=object), count)]


def fit(
    features: np.ndarray, labels: np.ndarray, owner: np.ndarray, keep: np.ndarray, params: dict[str, Any]
) -> Any:
    """A LambdaRank model on the rows of the questions in mask ``keep`` that have a positive
    row (``owner``: each row's question, rows of a question together)."""
    import lightgbm as lgb

    positive = np.zeros(len(keep), dtype=bool)
    positive[owner[labels > 0]] = True
    take = (keep & positive)[owner]
    groups = np.bincount(owner[take], minlength=len(keep))
    model = lgb.LGBMRanker(**params)
    model.fit(features[take], labels[take], group=groups[groups > 0])
    return model


def by_question(owner: np.ndarray, count: int) -> list[np.ndarray]:
    """The row indices of each of ``count`` questions, from each row's question (one pass)."""
    order = np.argsort(owner, kind="stable")
    ends = np.searchsorted(owner[order], np.arange(count + 1))
    return [order[ends[i] : ends[i + 1]] for i in range(count)]


def question_figures(
    labels: np.ndarray, scores: np.ndarray, mine: np.ndarray, take: int = 3
) -> tuple[float, float]:
    """For the question whose rows are ``mine``: whether its best-scored sentence holds the
    answer, and whether one of its ``take`` best does."""
    if not len(mine):
        return 0.0, 0.0
    order = mine[np.argsort(-scores[mine], kind="stable")]
    return float(labels[order[0]]), float(labels[order[:take]].max())


def cross_validate(rows: Rows, count: int, params: dict[str, Any]) -> dict[str, Any]:
    """Figures by fold and week for the learned model and the hand-set score, and each
    question's out-of-fold best score (for calibrating refusal)."""
    weeks = np.array(rows.weeks)
    learned = np.zeros(len(rows.labels), dtype=np.float64)
    report: dict[str, Any] = {"folds": [], "weeks": {}}
    picked = np.zeros(len(rows.option_labels), dtype=np.float64)
    for block in folds(rows.weeks, count):
        test = np.isin(weeks, block)
        model = fit(rows.features, rows.labels, rows.question, ~test, params)
        rows_in = test[rows.question]
        if rows_in.any():
            learned[rows_in] = model.predict(rows.features[rows_in])
        chooser = fit(rows.options, rows.option_labels, rows.option_question, ~test, CHOICE_PARAMS)
        options_in = test[rows.option_question]
        if options_in.any():
            picked[options_in] = chooser.predict(rows.options[options_in])
        report["folds"].append({"weeks": [block[0], block[-1]], "questions": int(test.sum())})
    per_question = []
    sentences_of = by_question(rows.question, len(rows.weeks))
    options_of = by_question(rows.option_question, len(rows.weeks))
    hand = rows.features[:, HAND]
    for index, week in enumerate(rows.weeks):
        mine, options = sentences_of[index], options_of[index]
        top, top3 = question_figures(rows.labels, learned, mine)
        hand_top, hand_top3 = question_figures(rows.labels, hand, mine)
        chose = None
        if len(options):  # the question's form settles some choices before the model (as in rag)
            pick = rows.settled[index] if rows.settled[index] >= 0 else np.argmax(picked[options])
            chose = float(rows.option_labels[options[pick]])
        per_question.append(
            {
                "id": rows.ids[index],
                "week": week,
                "answerable": float(rows.labels[mine].max()) if len(mine) else 0.0,
                "top1": top,
                "top3": top3,
                "hand_top1": hand_top,
                "hand_top3": hand_top3,
                "best": float(learned[mine].max()) if len(mine) else float("-inf"),
                "choice": chose,
                "hand_choice": float(rows.hand_choice[index]) if len(options) else None,
            }
        )
    keys = ("answerable", "top1", "top3", "hand_top1", "hand_top3", "choice", "hand_choice")
    for week in sorted(set(rows.weeks)):
        of_week = [p for p in per_question if p["week"] == week]
        report["weeks"][week] = {"questions": len(of_week), **{k: _mean(p[k] for p in of_week) for k in keys}}
    report["overall"] = {
        "questions": len(per_question),
        **{k: _mean(p[k] for p in per_question) for k in keys},
    }
    report["questions"] = per_question
    return report


def calibration(report: dict[str, Any], answered_share: float = 0.85) -> dict[str, Any]:
    """From the out-of-fold scores: the probability that a question's best sentence holds its
    answer, as a function of that sentence's score (isotonic, as ``x``/``y`` points to
    interpolate between), and the probability under which to refuse: the one that keeps
    ``answered_share`` of the questions whose passages hold the answer answered."""
    from sklearn.isotonic import IsotonicRegression

    scored = [q for q in report["questions"] if np.isfinite(q["best"])]
    best = np.array([q["best"] for q in scored])
    right = np.array([q["top1"] for q in scored])
    curve = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(best, right)
    x = np.asarray(curve.X_thresholds_, dtype=float)
    y = np.asarray(curve.y_thresholds_, dtype=float)
    answerable = np.array([q["answerable"] for q in scored]) > 0
    chance = np.interp(best, x, y)
    threshold = float(np.quantile(chance[answerable], 1 - answered_share)) if answerable.any() else 0.0
    order = np.argsort(-chance, kind="stable")
    answered = np.arange(1, len(order) + 1)
    risk = {  # share answered and accuracy of the answered, best-scored first
        "coverage": [round(float(c), 4) for c in answered / len(order)],
        "accuracy": [round(float(a), 4) for a in np.cumsum(right[order]) / answered],
    }
    return {
        "x": x.round(6).tolist(),
        "y": y.round(6).tolist(),
        "refuse_below": round(threshold, 6),
        "risk": risk,
    }


def _mean(values: Any) -> float:
    values = [v for v in values if v is not None]  # multiple choice: questions with options
    return round(float(np.mean(values)), 4) if values else 0.0


def write_outputs(
    out: Path, rows: Rows, report: dict[str, Any], params: dict[str, Any], seconds: float
) -> Path:
    """Fit on every week, save the model and the figures; returns the model's path."""
    everything = np.ones(len(rows.ids), dtype=bool)
    model = fit(rows.features, rows.labels, rows.question, everything, params)
    path = out / "reader.txt"
    model.booster_.save_model(str(path))
    chooser = fit(rows.options, rows.option_labels, rows.option_question, everything, CHOICE_PARAMS)
    chooser.booster_.save_model(str(out / "chooser.txt"))
    calibrated = calibration(report)
    (out / "reader.json").write_text(
        json.dumps({"features": list(FEATURES), **{k: v for k, v in calibrated.items() if k != "risk"}})
        + "\n"
    )
    summary = {key: value for key, value in report.items() if key != "questions"}
    summary["refuse_below"] = calibrated["refuse_below"]
    summary["risk"] = calibrated["risk"]
    summary["features"] = list(FEATURES)
    summary["params"] = params
    summary["seconds"] = round(seconds, 1)
    summary["sentences"] = len(rows.labels)
    summary["model_bytes"] = path.stat().st_size + (out / "chooser.txt").stat().st_size
    (out / "cv.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in report["questions"]))
    (out / "card.md").write_text(card(summary))
    return path


def card(summary: dict[str, Any]) -> str:
    """The model card's figures, as Markdown."""
    overall = summary["overall"]
    lines = [
        "| week | questions | answer in a candidate | first sentence: learned | hand-set "
        "| one of three: learned | hand-set | multiple choice: learned | hand-set |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    keys = ("answerable", "top1", "hand_top1", "top3", "hand_top3", "choice", "hand_choice")
    for week, figures in [*summary["weeks"].items(), ("**all**", overall)]:
        cells = " | ".join(f"{figures[k]:.3f}" for k in keys)
        lines.append(f"| {week} | {figures['questions']} | {cells} |")
    head = (
        f"Cross-validated over {len(summary['folds'])} blocks of weeks; {summary['sentences']} "
        f"candidate sentences; model {summary['model_bytes']:,} bytes; {summary['seconds']} s.\n\n"
    )
    return head + "\n".join(lines) + "\n"


def train(
    library: Library,
    questions: Sequence[Question],
    out: Path,
    *,
    top_k: int,
    folds_count: int = 5,
    reuse_rows: bool = False,
    tick: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Collect (or reuse) the rows, cross-validate, fit on everything and write the outputs;
    returns the summary."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    cached = out / "rows.npz"
    if reuse_rows and cached.is_file():
        rows = Rows.load(cached)
    else:
        rows = collect(library, questions, top_k, tick)
        rows.save(cached)
    report = cross_validate(rows, folds_count, PARAMS)
    write_outputs(out, rows, report, PARAMS, time.perf_counter() - started)
    return json.loads((out / "cv.json").read_text())
