"""End-to-end evaluation on a small real slice of realtimeqa-dev."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import RTQA_DIR, needs_shared

from eval.compare import compare_runs, format_comparison
from eval.metrics import normalize_url
from eval.report import risk_coverage
from eval.runner import METRICS, RunConfig, load_suite, run_eval, summarize
from eval.suite import load_questions
from ingest import Problem
from rag import ConfigError, Library
from rag.records import Answer

pytestmark = needs_shared


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Six gold questions, one no article answers, the gold articles and 24 distractor articles."""
    folder = tmp_path_factory.mktemp("suite")
    questions = [json.loads(line) for line in (RTQA_DIR / "questions.jsonl").read_text().splitlines()]
    articles = [json.loads(line) for line in (RTQA_DIR / "articles.jsonl").read_text().splitlines()]
    by_url = {normalize_url(a["url"]): a for a in articles}
    chosen = [q for q in questions if any(normalize_url(u) in by_url for u in q["gold_urls"])][:6]
    # One no article answers (our own words), so that the run has a refusal to report.
    chosen.append(
        {
            "id": "offtopic",
            "question": "At what temperature does liquid nitrogen boil on the surface of Mars?",
            "date": "2022-06-16",
            "choices": ["-196 C", "-150 C", "-100 C", "-50 C"],
            "answers": ["-150 C"],
            "gold_urls": [],
        }
    )
    gold = {normalize_url(u) for q in chosen for u in q["gold_urls"]}
    picked = [by_url[u] for u in sorted(gold) if u in by_url]
    picked += [a for a in articles if normalize_url(a["url"]) not in gold][:24]
    (folder / "articles.jsonl").write_text("".join(json.dumps(a) + "\n" for a in picked))
    (folder / "questions.jsonl").write_text(
        "".join(json.dumps(q) + "\n" for q in chosen) + '{"id": "broken", "question": 3}\n'
    )
    return folder / "articles.jsonl", folder / "questions.jsonl"


def test_eval_writes_every_output_and_summary_matches_results(
    suite: tuple[Path, Path], make_library: object, tmp_path: Path
) -> None:
    articles, questions = suite
    library: Library = make_library()  # type: ignore[operator]
    out = tmp_path / "run"
    problems: list[str] = []
    results, _ = run_eval(
        RunConfig(articles=articles, questions=questions, out=out),
        library,
        progress=False,
        on_problem=lambda p: problems.append(str(p)),
    )
    assert any("questions.jsonl:8" in p and "'question'" in p for p in problems)
    outputs = ("results.jsonl", "summary.json", "report.md", "metrics.png", "latency.png", "by_source.png")
    for name in (*outputs, "risk_coverage.png"):
        assert (out / name).stat().st_size > 0, name
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 7 == len(results)
    for record in lines:
        assert {
            "retrieved_urls",
            "metrics",
            "latency_ms",
            "choice",
            *Answer("q", "a", False).to_dict(),
        } <= set(record)
        assert set(record["metrics"]) == set(METRICS)
    # The summary is what the per-question lines say.
    written = json.loads((out / "summary.json").read_text())
    recomputed = summarize(lines)
    for name in METRICS:
        values = [r["metrics"][name] for r in lines if r["metrics"][name] is not None]
        assert written["metrics"][name]["count"] == len(values)
        if values:
            assert written["metrics"][name]["mean"] == pytest.approx(sum(values) / len(values))
            assert written["metrics"][name]["ci95"] == pytest.approx(recomputed[name]["ci95"])
    latencies = sorted(r["latency_ms"] for r in lines)
    assert written["metrics"]["latency_p50_ms"]["mean"] == pytest.approx(latencies[3])
    assert written["metrics"]["hit@10"]["count"] == 6
    # Gold articles are in the corpus, so retrieval finds most of them.
    assert written["metrics"]["hit@10"]["mean"] >= 0.5
    # Extractive quotes sit exactly at their offsets.
    assert written["metrics"]["quote_alignment"]["count"] > 0
    assert written["metrics"]["quote_alignment"]["mean"] == 1.0
    # --as-of question: nothing published after the question's date is cited or retrieved.
    dates = {json.loads(a)["url"]: json.loads(a)["published"] for a in articles.read_text().splitlines()}
    for record in lines:
        for citation in record["citations"]:
            assert citation["published"] <= record["date"]
        for url in record["retrieved_urls"]:
            match = [d for u, d in dates.items() if normalize_url(u) == url]
            assert match and match[0] <= record["date"]
    report = (out / "report.md").read_text()
    assert "| hit@5 |" in report and "proxy" in report and "![metrics.png](metrics.png)" in report
    assert "![risk_coverage.png](risk_coverage.png)" in report
    assert "also holds" not in report and not any("also holds" in p for p in problems)
    # Every extractive answer says how sure it was, refusals too; the risk-coverage curve ends
    # with every question answered, at the share the answers would hold without refusing.
    assert all(r["confidence"] is not None for r in lines if r["citations"])
    curve = risk_coverage(lines)
    bold = [r["unrefused_contains_gold"] or 0.0 for r in lines if r["confidence"] is not None]
    assert curve[-1] == pytest.approx((len(bold) / len(lines), sum(bold) / len(bold)))
    # The answer metrics apart for questions with and without gold urls, from the same lines.
    with_gold = [r for r in lines if r["gold_urls"]]
    mc = [r["metrics"]["mc_accuracy"] for r in with_gold if r["metrics"]["mc_accuracy"] is not None]
    refused = sum(r["metrics"]["refused"] for r in with_gold) / len(with_gold)
    shown = f"| with gold urls | {len(with_gold)} | {sum(mc) / len(mc):.3f} |" if mc else "| with gold urls |"
    assert shown in report and f"| {refused:.3f} |" in report
    # The answer's passages bound what it can hold; each refusal says why, and the report
    # groups the refusals by it, with what their passages held.
    for r in lines:
        assert r["metrics"]["contains_gold"] <= r["metrics"]["passages_hold_gold"]
    turned_away = [r for r in lines if r["refused"]]
    assert turned_away and all(r["refusal_reason"] for r in turned_away)
    assert "| refused because | questions | passages hold gold | answer would hold gold |" in report
    assert sum(refusal_rows(report).values()) == len(turned_away)
    # Multiple choice apart for grounded choices and guesses (the gold articles ground some).
    grounded = [r for r in lines if r["choice"] and r["choice"]["grounded"]]
    right = sum(r["metrics"]["mc_accuracy"] for r in grounded) / len(grounded)
    assert f"{len(grounded)} choices grounded in a sentence of the passages, {right:.3f} of them" in report

    # A second run reuses the index: nothing is ingested again.
    _, second = run_eval(
        RunConfig(articles=articles, questions=questions, out=tmp_path / "again"), library, progress=False
    )
    assert second["run"]["ingest"]["chunks_added"] == 0
    comparison = compare_runs(out, out)
    assert all(row["diff"] == 0 and row["ci95"] == [0.0, 0.0] for row in comparison["metrics"])
    assert comparison["flips"] == []
    assert "metrics that differ (latency aside): 0" in format_comparison(comparison)
    # The median latency the report gives is compared as such; the mean is labelled a mean.
    p50 = written["metrics"]["latency_p50_ms"]["mean"]
    assert comparison["latency_p50_ms"] == [pytest.approx(p50), pytest.approx(p50)]
    assert "latency_ms (mean)" in format_comparison(comparison)
    assert not math.isnan(written["metrics"]["latency_p95_ms"]["mean"])


def refusal_rows(report: str) -> dict[str, int]:
    """The refusal table of a report: each reason's count of questions."""
    table = report.split("| refused because |", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    return {row.split(" | ")[0].strip("| "): int(row.split(" | ")[1]) for row in table}


def test_an_index_holding_another_corpus_is_named(
    suite: tuple[Path, Path], make_library: object, tmp_path: Path
) -> None:
    """An evaluator who gives two suites one --data-dir: the first's articles are searched
    in the second's run too, which the run says, on stderr and in the report."""
    articles, questions = suite
    library: Library = make_library()  # type: ignore[operator]
    config = RunConfig(articles=articles, questions=questions, out=tmp_path / "all", limit=1)
    run_eval(config, library, progress=False)
    one = tmp_path / "one.jsonl"
    lines = articles.read_text().splitlines()
    one.write_text(lines[0] + "\n")
    problems: list[str] = []
    config = RunConfig(articles=one, questions=questions, out=tmp_path / "one", limit=1)
    _, summary = run_eval(config, library, progress=False, on_problem=lambda p: problems.append(str(p)))
    others = len(lines) - 1
    assert summary["run"]["ingest"]["other_articles"] == others
    assert any(f"also holds {others} articles that are not in {one}" in p for p in problems), problems
    assert (
        f"the index also holds {others} articles not in this suite"
        in (tmp_path / "one" / "report.md").read_text()
    )


def test_bad_question_lines_are_named(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"id": "a", "question": "Q?", "answers": ["x"]}\n'
        '{"id": "b", "question": "Q?", "answers": []}\n'
        '{"id": "c", "question": "Q?", "answers": ["x"], "choices": ["only one"]}\n'
        '{"id": "d", "question": "Q?", "answers": ["x"], "date": "June"}\n'
        '{"id": "a", "question": "Again?", "answers": ["y"]}\n'
        '{"id": "e", "question": "Q?", "answers": ["x"], "choices": ["y", "z"]}\n'
        '{"id": "f", "question": "Q?", "answers": ["“The X”"], "choices": ["y", "x"]}\n'
        '{"id": "g", "question": "Q?", "answers": ["x"], "choices": ["y", "x", ""]}\n'
        '{"id": "h", "question": "Q?", "answers": ["x"], "choices": ["x", " "]}\n'
        '{"id": "i", "question": "Q?", "answers": ["x"], "date": " "}\n'
    )
    questions, problems = load_questions(path)
    assert [q.id for q in questions] == ["a", "f", "g"]
    assert questions[2].choices == ("y", "x")  # a blank choice, as four realtimeqa-dev quizzes end with
    reasons = {p.location.rsplit(":", 1)[1]: p.reason for p in problems}
    assert "at least one answer" in reasons["2"]
    assert "at least two options" in reasons["3"]
    assert "'date'" in reasons["4"]
    assert "duplicate question id 'a'" in reasons["5"]
    assert "'answers' names none of the 'choices'" in reasons["6"]
    assert "at least two options" in reasons["9"]
    assert "field 'date' is blank" in reasons["10"]


def test_a_file_of_bad_lines_is_named_in_a_few_and_a_limit_reads_no_further(tmp_path: Path) -> None:
    articles = tmp_path / "a.jsonl"  # passed as the questions by mistake: every line is bad
    articles.write_text("".join(json.dumps({"text": f"Story {i}."}) + "\n" for i in range(40)))
    named: list[Problem] = []
    with pytest.raises(ConfigError, match="no question could be read \\(40 lines skipped\\)"):
        load_suite(RunConfig(articles, articles, tmp_path / "out"), named.append)
    assert [p.location for p in named[:5]] == [f"{articles}:{n}" for n in range(1, 6)]
    assert len(named) == 6 and named[5].reason == "35 more lines skipped"
    # Two good questions, then bad lines: --limit 2 reads no further, so nothing is named.
    questions = tmp_path / "q.jsonl"
    good = "".join(json.dumps({"id": f"q{i}", "question": "Q?", "answers": ["x"]}) + "\n" for i in range(2))
    questions.write_text(good + articles.read_text())
    named.clear()
    suite = load_suite(RunConfig(articles, questions, tmp_path / "out", limit=2), named.append)
    assert [q.id for q in suite.questions] == ["q0", "q1"] and named == []
    suite = load_suite(RunConfig(articles, questions, tmp_path / "out"), named.append)
    assert len(suite.problems) == 40 and len(named) == 6 and "summary.json lists them all" in named[5].reason


def test_risk_coverage_orders_answers_by_confidence() -> None:
    def result(confidence: float | None, right: float | None) -> dict[str, object]:
        return {"confidence": confidence, "unrefused_contains_gold": right}

    results = [result(0.9, 1.0), result(0.2, 0.0), result(0.6, 1.0), result(None, None)]
    assert risk_coverage(results) == [(0.25, 1.0), (0.5, 1.0), (0.75, pytest.approx(2 / 3))]
    # A language model's run carries no unrefused answers: no curve.
    assert risk_coverage([result(0.9, None), result(0.5, None)]) == []


def test_a_rerun_on_a_stored_index_loads_the_models_before_timing_the_first_question(
    suite: tuple[Path, Path], make_library: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import eval.runner as runner
    from rag.library import open_library
    from rag.settings import Settings

    articles, questions = suite
    folder = tmp_path / "library"
    make_library(folder)  # type: ignore[operator]
    ingest_config = RunConfig(articles=articles, questions=questions, out=tmp_path / "first", limit=1)
    run_eval(ingest_config, make_library(folder), progress=False)  # type: ignore[operator]
    # Reopened as `citewire eval` opens it: every article is stored, so ingest loads no model.
    library = open_library(settings=Settings(data_dir=folder))
    ready: list[tuple[bool, bool]] = []
    answer = runner.answer_question

    def noting(library: Library, *args: object) -> dict[str, object]:
        ready.append((library.loaded()["embedding"], library._reader is not None))
        return answer(library, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "answer_question", noting)
    run_eval(RunConfig(articles=articles, questions=questions, out=tmp_path / "again", limit=1), library,
             progress=False)  # fmt: skip
    assert ready == [(True, True)]


def write_run(folder: Path, questions: dict[str, str], reader: str = "builtin") -> Path:
    """A run folder as `citewire eval` writes it, for questions (id: text) all answered right."""
    folder.mkdir()
    records = [
        {"id": qid, "question": text, "metrics": dict.fromkeys(METRICS, 1.0), "latency_ms": 50.0}
        for qid, text in questions.items()
    ]
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    run = {"articles": "a.jsonl", "questions": "q.jsonl", "as_of": "question", "reader": reader}
    (folder / "summary.json").write_text(json.dumps({"run": run, "metrics": {}}))
    return folder


def test_compare_pairs_only_the_same_question_and_says_what_differs(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", {"q1": "Who won?", "q2": "Where was it?", "q3": "When?"})
    b = write_run(tmp_path / "b", {"q1": "Who won?", "q2": "Which team lost?", "q4": "Why?"}, reader="none")
    comparison = compare_runs(a, b)
    assert (comparison["common_questions"], comparison["only_a"], comparison["only_b"]) == (1, 1, 1)
    shown = format_comparison(comparison)
    assert "left out, the same id asking another question in each run: q2" in shown
    assert "run with other settings: reader builtin in A, none in B" in shown
    other = write_run(tmp_path / "other", {"x1": "Who won?"})
    with pytest.raises(ConfigError, match="share no question id"):
        compare_runs(a, other)
    (other / "results.jsonl").write_text("")
    with pytest.raises(ConfigError, match=r"results\.jsonl holds no result"):
        compare_runs(a, other)
