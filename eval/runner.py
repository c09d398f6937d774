"""Running a suite: ingest the corpus, ask every question, score it, write the outputs.

Outputs in ``--out``: ``results.jsonl`` (one line per question: answer, citations, choice,
ranked article urls, each metric, latency), ``summary.json`` (each metric's mean, count and 95%
bootstrap interval), ``report.md`` and PNG plots.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from eval import metrics as m
from eval.suite import Question, load_questions
from ingest import IngestReport, Problem, ingest
from rag.answer import ExtractiveAnswerer
from rag.choice import Choice
from rag.errors import ConfigError
from rag.grounding import MARKERS
from rag.library import Library
from rag.query import Query
from rag.records import Answer, Hit

SHOWN_PROBLEMS = 5  # bad question lines named one by one; a wrong file would name every line
RETRIEVE_K = 30  # chunks searched per question: enough for 10 distinct articles
METRICS = (
    "hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10",
    "exact_match", "f1", "contains_gold", "passages_hold_gold", "mc_accuracy",
    "quote_alignment", "citation_recall", "citation_precision", "refused",
    "unsupported_rate", "fallback", "model_seconds", "tokens_per_second",
)  # fmt: skip
# Only for a language model's answers: the share of its sentences left out by the citation check,
# whether the answer gave way to the extractive one, the seconds it took to write (search not
# counted) and what it wrote per second, in its own tokens.
MODEL_METRICS = ("unsupported_rate", "fallback", "model_seconds", "tokens_per_second")
_CITED_SENTENCE = re.compile(r"(?:\[\d+\])+")  # a written answer's sentence ends in its markers


@dataclass(frozen=True)
class RunConfig:
    """What one evaluation run does."""

    articles: Path
    questions: Path
    out: Path
    as_of: str = "question"  # "question" or "none"
    limit: int | None = None
    top_k: int | None = None

    def __post_init__(self) -> None:
        if self.as_of not in ("question", "none"):
            raise ConfigError(f"as_of must be 'question' or 'none'. Currently, it is {self.as_of!r}")
        if self.limit is not None and self.limit <= 0:
            raise ConfigError(f"limit must be greater than 0. Currently, limit is {self.limit}")
        if self.top_k is not None and self.top_k <= 0:
            raise ConfigError(f"top_k must be greater than 0. Currently, top_k is {self.top_k}")
        for path in (self.articles, self.questions):
            if not path.is_file():
                raise ConfigError(
                    f"{path} is not a file; give the suite's articles.jsonl and questions.jsonl"
                )


@dataclass(frozen=True)
class Suite:
    """A run's questions, read and checked before any library is opened, and the lines skipped."""

    questions: list[Question]
    problems: list[Problem]


def load_suite(config: RunConfig, on_problem: Callable[[Problem], None] | None = None) -> Suite:
    """The run's questions (the first ``limit``, read no further); the first ``SHOWN_PROBLEMS``
    lines skipped go to ``on_problem``, then one line counting the rest.

    Raises ``ConfigError`` when no question can be read, before a corpus is ingested for nothing.
    """
    questions, problems = load_questions(config.questions, config.limit)
    if on_problem:
        for problem in problems[:SHOWN_PROBLEMS]:
            on_problem(problem)
        if len(problems) > SHOWN_PROBLEMS:
            listed = " (summary.json lists them all)" if questions else ""
            more = f"{len(problems) - SHOWN_PROBLEMS} more lines skipped{listed}"
            on_problem(Problem(str(config.questions), more, True))
    if not questions:
        raise ConfigError(
            f"{config.questions}: no question could be read ({len(problems)} lines skipped); "
            "each line must be a JSON object with 'question' and 'answers'"
        )
    return Suite(questions, problems)


def default_index_dir(base: Path, articles: Path) -> Path:
    """An index folder named for the corpus's content, so the same corpus reuses its index."""
    digest = hashlib.sha256()
    try:
        with articles.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise ConfigError(f"cannot read the articles file {articles}: {exc.strerror or exc}") from exc
    return base / "eval" / f"{articles.stem}-{digest.hexdigest()[:12]}"


def score_question(
    question: Question,
    answer: Answer,
    choice: Choice | None,
    ranked_urls: Sequence[str],
    article_text: Callable[[str], str | None],
    passages: Sequence[str],
) -> dict[str, float | None]:
    """Every metric for one question; None where a metric does not apply. ``passages`` are the
    texts the answer was drawn from: whether one holds a gold answer is the most
    ``contains_gold`` could be with them."""
    scores: dict[str, float | None] = dict.fromkeys(METRICS)
    if question.gold_urls:
        scores["hit@1"] = m.hit_at_k(ranked_urls, question.gold_urls, 1)
        scores["hit@5"] = m.hit_at_k(ranked_urls, question.gold_urls, 5)
        scores["hit@10"] = m.hit_at_k(ranked_urls, question.gold_urls, 10)
        scores["mrr@10"] = m.mrr_at_k(ranked_urls, question.gold_urls, 10)
        scores["ndcg@10"] = m.ndcg_at_k(ranked_urls, question.gold_urls, 10)
    # The answer's own words, without the [n] markers, which would match a gold "3" (for the
    # extractive answerer: its quotes).
    said = "" if answer.refused else MARKERS.sub("", answer.answer).strip()
    short = choice.choice if choice is not None else said
    scores["exact_match"] = m.exact_match(short, question.answers)
    scores["f1"] = m.token_f1(short, question.answers)
    scores["contains_gold"] = m.contains_gold(said, question.answers) if said else 0.0
    scores["passages_hold_gold"] = float(any(m.contains_gold(p, question.answers) for p in passages))
    if choice is not None:
        scores["mc_accuracy"] = m.exact_match(choice.choice, question.answers)
    if not answer.refused:
        texts = {c.article_id: article_text(c.article_id) for c in answer.citations}
        scores["quote_alignment"] = m.quote_alignment(
            [(c.quote, texts[c.article_id], c.start, c.end) for c in answer.citations]
        )
        cited = m.citation_scores([(c.quote, [c.passage]) for c in answer.citations])
        if cited is not None:
            scores["citation_recall"], scores["citation_precision"] = cited
    scores["refused"] = float(answer.refused)
    return scores


def answer_question(library: Library, question: Question, as_of: str, top_k: int | None) -> dict[str, Any]:
    """Ask one question the way ``rag`` does and time it; returns the result record (unscored)."""
    today = question.date if as_of == "question" else None
    k = top_k or library.settings.top_k
    started = time.perf_counter()
    query = Query(question.question, top_k=k, as_of=today)
    hits = library.search(query.with_top_k(max(RETRIEVE_K, k)))
    writing = time.perf_counter()
    answer = library.answerer.compose(question.question, hits[:k], as_of=today)
    written = time.perf_counter() - writing
    choice = None
    if question.choices:
        choice = library.choose(query, question.choices, hits=hits[:k])
    latency = (time.perf_counter() - started) * 1000
    model = model_figures(library, answer, written)
    return {
        "answer": answer,
        "choice": choice,
        "ranked": ranked_articles(hits),
        "passages": [h.chunk.text for h in hits[:k]],
        "latency_ms": latency,
        "model": model,
        "unrefused": unrefused(library, question, hits[:k], today),
    }


def unrefused(library: Library, question: Question, hits: Sequence[Hit], today: date | None) -> float | None:
    """Whether the extractive answer would hold a gold answer had the answerer not refused (its
    score thresholds lowered to 0): with each answer's ``confidence``, what the risk-coverage
    plot draws. None for a language model's answers."""
    if not isinstance(library.answerer, ExtractiveAnswerer):
        return None
    answerer = library.answerer
    reader = answerer.reader.never_refusing() if answerer.reader else None
    bold = replace(answerer, min_score=0.0, min_coverage=0.0, reader=reader)
    answer = bold.compose(question.question, hits, as_of=today)
    return None if answer.refused else m.contains_gold(MARKERS.sub("", answer.answer), question.answers)


def model_figures(library: Library, answer: Answer, seconds: float) -> dict[str, float | None]:
    """``MODEL_METRICS`` for an answer a language model wrote (all None for the extractive one,
    and for a refusal made before the model was asked)."""
    figures: dict[str, float | None] = dict.fromkeys(MODEL_METRICS)
    if answer.written is None:
        return figures
    kept = 0 if answer.fallback or answer.refused else len(_CITED_SENTENCE.findall(answer.answer))
    total = kept + len(answer.unsupported)
    figures["unsupported_rate"] = len(answer.unsupported) / total if total else None
    figures["fallback"] = float(answer.fallback)
    figures["model_seconds"] = seconds
    tokens = library.language_model.count_tokens(answer.written)
    figures["tokens_per_second"] = tokens / seconds if seconds > 0 else None
    return figures


def ranked_articles(hits: Sequence[Hit]) -> list[str]:
    """The first ten distinct articles of ``hits``, by url (else file, else id): what the
    retrieval metrics score."""
    return m.distinct(h.chunk.url or h.chunk.source_path or h.chunk.article_id for h in hits)[:10]


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Each metric's mean, count and 95% bootstrap interval, from result records."""
    summary: dict[str, Any] = {}
    for name in METRICS:
        values = [r["metrics"][name] for r in results if r["metrics"].get(name) is not None]
        low, high = m.bootstrap_ci(values)
        summary[name] = {
            "mean": sum(values) / len(values) if values else None,
            "count": len(values),
            "ci95": [low, high] if values else None,
        }
    latencies = [r["latency_ms"] for r in results]
    for q in (50, 95):
        low, high = m.bootstrap_ci(latencies, f"p{q}")
        summary[f"latency_p{q}_ms"] = {
            "mean": m.percentile(latencies, q) if latencies else None,
            "count": len(latencies),
            "ci95": [low, high] if latencies else None,
        }
    refused_with_gold = [r for r in results if r["metrics"]["refused"] and r["gold_urls"]]
    summary["refused_gold_retrieved"] = {
        "mean": None,
        "count": sum(1 for r in refused_with_gold if r["metrics"]["hit@10"]),
        "of": len(refused_with_gold),
        "ci95": None,
    }
    return summary


def run_eval(
    config: RunConfig,
    library: Library,
    *,
    progress: bool = True,
    on_problem: Callable[[Problem], None] | None = None,
    suite: Suite | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Ingest the suite's corpus into ``library``, answer its questions, write every output.

    ``suite`` is the questions already read by ``load_suite``; without it they are read here."""
    suite = suite if suite is not None else load_suite(config, on_problem)
    questions, problems = suite.questions, suite.problems
    make_out_dir(config.out)  # before the ingest and the questions, not after them
    ingested: IngestReport = ingest([config.articles], library, progress=progress, on_problem=on_problem)
    others = library.count_articles() - (ingested.added + ingested.updated + ingested.unchanged)
    if others > 0 and on_problem is not None:  # another suite's, or the reader's own library
        said = (
            f"also holds {others} articles that are not in {config.articles}, and they are searched "
            "too; give the suite a --data-dir of its own, or none (each corpus then gets its own index)"
        )
        on_problem(Problem(library.settings.chroma_url or str(library.settings.data_dir), said, False))

    from tqdm import tqdm

    # What every answer needs is loaded before the clock starts: an ingest that finds every
    # article stored already loads neither the embedding model nor the reader, and the first
    # question would carry their seconds.
    library.warm_up()
    results: list[dict[str, Any]] = []
    started = time.perf_counter()
    for question in tqdm(questions, unit="q", disable=None if progress else True, dynamic_ncols=True):
        asked = answer_question(library, question, config.as_of, config.top_k)
        answer, choice = asked["answer"], asked["choice"]
        results.append(
            {
                "id": question.id,
                "date": question.date.isoformat() if question.date else None,
                "source": question.source,
                "answers": list(question.answers),
                "choices": list(question.choices),
                "gold_urls": list(question.gold_urls),
                **answer.to_dict(),  # the record `ask --json` prints, whole
                "question": question.question,
                "choice": choice.to_dict() if choice else None,
                "retrieved_urls": asked["ranked"],
                "unrefused_contains_gold": asked["unrefused"],
                "metrics": {
                    **score_question(
                        question, answer, choice, asked["ranked"], library.article_text, asked["passages"]
                    ),
                    **asked["model"],
                },
                "latency_ms": round(asked["latency_ms"], 3),
            }
        )
    answering = time.perf_counter() - started
    summary = summarize(results)
    run_info = {
        "articles": str(config.articles),
        "questions": str(config.questions),
        "as_of": config.as_of,
        "limit": config.limit,
        "top_k": config.top_k or library.settings.top_k,
        "questions_asked": len(results),
        "questions_skipped": len(problems),
        "skipped_lines": [str(p) for p in problems],
        "ingest": {
            "articles": ingested.articles,
            "added": ingested.added,
            "chunks_added": ingested.chunks,
            "seconds": round(ingested.seconds, 2),
            "skipped": ingested.skipped,
            "other_articles": max(others, 0),
        },
        "answering_seconds": round(answering, 2),
        "reader": library.settings.reader,
        "index": library.settings.chroma_url or str(library.settings.data_dir),
    }
    write_outputs(config.out, results, {"run": run_info, "metrics": summary})
    return results, {"run": run_info, "metrics": summary}


def make_out_dir(out: Path) -> None:
    """Create the run's output folder, or raise ``ConfigError`` saying why it cannot be."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        why = "a file has that name" if isinstance(exc, FileExistsError) else exc.strerror or str(exc)
        raise ConfigError(f"--out {out}: cannot make the output folder ({why}); give another folder") from exc
    if not os.access(out, os.W_OK):
        raise ConfigError(f"--out {out}: the folder is not writable; give another folder")


def write_outputs(out: Path, results: Sequence[dict[str, Any]], summary: dict[str, Any]) -> None:
    """Write results.jsonl, summary.json, the plots and report.md into ``out``."""
    from eval.report import write_plots, write_report

    make_out_dir(out)
    with (out / "results.jsonl").open("w", encoding="utf-8") as handle:
        for record in results:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    plots = write_plots(out, results, summary["metrics"])
    write_report(out, results, summary, plots)


def read_run(folder: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Load a run's results and summary; raises ``ConfigError`` naming what is missing."""
    results_path, summary_path = folder / "results.jsonl", folder / "summary.json"
    for path in (results_path, summary_path):
        if not path.is_file():
            raise ConfigError(f"{path} not found; is {folder} the --out folder of a `citewire eval` run?")
    again = f"run `citewire eval ... --out {folder}` again"
    try:
        lines = results_path.read_text(encoding="utf-8").splitlines()
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the run in {folder} ({exc}); {again}") from exc
    results = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{results_path}:{number} is not valid JSON ({exc.msg}); {again}") from exc
        if not isinstance(record, dict) or not all(
            isinstance(record.get(key), kind)
            for key, kind in (("id", str), ("question", str), ("metrics", dict), ("latency_ms", (int, float)))
        ):
            raise ConfigError(
                f"{results_path}:{number} is not a result record (it needs id, question, metrics and "
                f"latency_ms); {again}"
            )
        damaged = [
            name
            for name, value in record["metrics"].items()
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)))
        ]
        if damaged:
            raise ConfigError(
                f"{results_path}:{number}: metric {damaged[0]!r} is {record['metrics'][damaged[0]]!r}, "
                f"not a number or null; {again}"
            )
        results.append(record)
    return results, summary
