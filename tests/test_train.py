"""``citewire train`` on a slice of realtimeqa-2023: rows, cross-validation over weeks, a model
that loads and scores the answerer's candidates."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA

from eval.metrics import contains_gold
from eval.suite import load_questions
from eval.train import Rows, folds, train
from ingest import ingest
from rag import ConfigError, ExtractiveAnswerer, Library, Query
from rag.embedding import Embedder
from rag.reading import FEATURES, OPTION_FEATURES, Reader

QUIZZES = SHARED_DATA / "realtimeqa-2023"
WEEKS = ("20230106", "20230113", "20230120", "20230127")

pytestmark = pytest.mark.skipif(
    not QUIZZES.is_dir(), reason=f"realtimeqa-2023 not found at {QUIZZES}; it always runs in CI"
)


@pytest.fixture(scope="module")
def quizzes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Four questions of each of four weeks, and for each the articles of its day that hold its
    answer (two at most) and two that do not."""
    folder = tmp_path_factory.mktemp("quizzes")
    questions = [json.loads(line) for line in (QUIZZES / "questions.jsonl").read_text().splitlines()]
    articles = [json.loads(line) for line in (QUIZZES / "articles.jsonl").read_text().splitlines()]
    chosen = [q for week in WEEKS for q in [q for q in questions if q["id"].startswith(week + "_")][:4]]
    picked: dict[str, dict[str, object]] = {}
    for q in chosen:
        day = [a for a in articles if a.get("published") == q["date"]]
        holding = [a for a in day if contains_gold(a["text"], q["answers"])][:2]
        other = [a for a in day if a not in holding][:2]
        picked.update((a["url"], a) for a in holding + other)
    (folder / "articles.jsonl").write_text("".join(json.dumps(a) + "\n" for a in picked.values()))
    (folder / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in chosen))
    return folder / "articles.jsonl", folder / "questions.jsonl"


def test_weeks_are_cut_into_contiguous_blocks() -> None:
    assert folds(["w3", "w1", "w2", "w1", "w4"], 2) == [["w1", "w2"], ["w3", "w4"]]
    assert folds(["w1"], 5) == [["w1"]]


def test_train_writes_a_reader_that_scores_the_answerers_candidates(
    quizzes: tuple[Path, Path], make_library: Callable[..., Library], tmp_path: Path
) -> None:
    articles, questions_path = quizzes
    library = make_library()
    ingest([articles], library, progress=False)
    questions, problems = load_questions(questions_path)
    assert not problems and len(questions) == 16
    out = tmp_path / "train"
    summary = train(library, questions, out, top_k=5, folds_count=2)

    rows = Rows.load(out / "rows.npz")
    assert rows.features.shape == (len(rows.labels), len(FEATURES))
    assert sorted(set(rows.weeks)) == list(WEEKS)
    assert rows.labels.sum() > 0  # the slice holds answers, so some sentences are labelled
    assert [f["weeks"] for f in summary["folds"]] == [[WEEKS[0], WEEKS[1]], [WEEKS[2], WEEKS[3]]]
    assert set(summary["weeks"]) == set(WEEKS)
    overall = summary["overall"]
    assert overall["questions"] == 16 and 0 < overall["answerable"] <= 1
    assert overall["top1"] <= overall["top3"] <= overall["answerable"]
    assert overall["hand_top1"] <= overall["hand_top3"] <= overall["answerable"]
    assert 0 <= overall["choice"] <= 1 and 0 <= overall["hand_choice"] <= 1
    assert rows.options.shape == (len(rows.option_labels), len(OPTION_FEATURES))
    assert rows.option_labels.sum() == 16  # one correct option a question
    assert (out / "chooser.txt").is_file()
    assert summary["model_bytes"] < 2_000_000
    assert "| **all** | 16 |" in (out / "card.md").read_text()

    reader = Reader.load(out, library.embedder)
    q = questions[0]
    hits = library.search(Query(q.question, top_k=5, as_of=q.date))
    ranked = ExtractiveAnswerer().candidates(q.question, hits)
    scores = reader.scores(q.question, ranked)
    assert scores.shape == (len(ranked),) and np.isfinite(scores).all()
    assert 0.0 <= reader.chance(float(scores.max())) <= 1.0

    # A library told of the reader quotes by its chances, refuses under its threshold and
    # picks options with its chooser.
    library.settings = library.settings.with_changes(reader=str(out))
    assert library.answerer.reader is library.reader is not None  # type: ignore[attr-defined]
    for q in questions[:4]:
        answer = library.ask(Query(q.question, as_of=q.date))
        assert answer.confidence is not None and 0.0 <= answer.confidence <= 1.0
        why = answer.refusal_reason or ""
        assert "of the question's terms" not in why  # the reader, not the hand-set coverage, decides
        if "chance of holding the answer" in why:
            assert answer.confidence < reader.refuse_below
        elif not answer.refused:
            assert answer.confidence >= reader.refuse_below
        choice = library.choose(Query(q.question, as_of=q.date), q.choices)
        assert choice.choice in q.choices
    never = reader.never_refusing()
    assert never.refuse_below == 0.0 and reader.refuse_below >= 0.0

    # The rows are reused as they are; the model is fitted again on them.
    again = train(library, questions, out, top_k=5, folds_count=2, reuse_rows=True)
    assert again["sentences"] == summary["sentences"]


def test_a_reader_of_other_features_is_refused(tmp_path: Path, embedder: Embedder) -> None:
    with pytest.raises(ConfigError, match="cannot load the reader"):
        Reader.load(tmp_path, embedder)
    (tmp_path / "reader.txt").write_text("tree\n")
    (tmp_path / "reader.json").write_text(
        json.dumps({"features": ["other"], "x": [0], "y": [0], "refuse_below": 0})
    )
    with pytest.raises(ConfigError, match="other features"):
        Reader.load(tmp_path, embedder)
    # A description cut short, or not an object, is named too (they were a KeyError, an
    # AttributeError).
    for spec in ({"features": list(FEATURES), "x": [0]}, [1, 2]):
        (tmp_path / "reader.json").write_text(json.dumps(spec))
        with pytest.raises(ConfigError, match="is not a reader's description"):
            Reader.load(tmp_path, embedder)


def test_rows_of_an_earlier_citewire_train_are_refused_with_the_fix(tmp_path: Path) -> None:
    """Rows written before the form rule (no ``settled``) are not reused as if they matched."""
    old = tmp_path / "rows.npz"
    np.savez(old, names=np.array(FEATURES), option_names=np.array(OPTION_FEATURES))
    with pytest.raises(ConfigError, match="without --reuse-rows") as raised:
        Rows.load(old)
    assert str(old) in str(raised.value)
