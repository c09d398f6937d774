"""Evaluation suites: a corpus (``articles.jsonl``) and its questions (``questions.jsonl``).

A question line: ``{"id", "question", "answers": [...]}`` and optionally ``"date"``
(YYYY-MM-DD, the question's "today"), ``"choices"`` (options for multiple choice; a blank one,
as four realtimeqa-dev quizzes end with, is left out),
``"gold_urls"`` (the articles that hold the answer) and ``"source"`` (for grouping results;
without it, the id up to its last ``_``: for RealTimeQA, the quiz date).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from eval.metrics import exact_match
from ingest.readers import Problem, parse_date
from rag.errors import InputError


@dataclass(frozen=True)
class Question:
    """One evaluation question with its gold answers and evidence."""

    id: str
    question: str
    answers: tuple[str, ...]
    date: date | None = None
    choices: tuple[str, ...] = ()
    gold_urls: tuple[str, ...] = ()
    source: str = ""


def _strings(record: dict[str, object], name: str, where: str) -> tuple[str, ...]:
    value = record.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(where, f"field {name!r} must be a list of strings")
    return tuple(value)


def question_from(record: object, where: str) -> Question:
    """A ``Question`` from one parsed JSON line; raises ``InputError`` naming the field."""
    if not isinstance(record, dict):
        raise InputError(where, "not a question: expected a JSON object")
    for name in ("id", "question"):
        if not isinstance(record.get(name), str) or not record[name].strip():
            raise InputError(where, f"field {name!r} is missing or not a string")
    answers = _strings(record, "answers", where)
    if not answers:
        raise InputError(where, "field 'answers' must list at least one answer")
    if not all(a.strip() for a in answers):
        raise InputError(where, "field 'answers' holds an empty answer; give each answer's text")
    choices = tuple(c for c in _strings(record, "choices", where) if c.strip())
    if choices and len(choices) < 2:
        raise InputError(where, "field 'choices' needs at least two options (or leave it out)")
    if choices and not any(exact_match(c, answers) for c in choices):
        raise InputError(
            where, "field 'answers' names none of the 'choices' (compared normalised): no choice could score"
        )
    if isinstance(record.get("date"), str) and not record["date"].strip():  # as-of would be off unsaid
        raise InputError(
            where, "field 'date' is blank; give the question's date, YYYY-MM-DD, or leave it out"
        )
    source = record.get("source")
    qid = record["id"]
    return Question(
        id=qid,
        question=record["question"],
        answers=answers,
        date=parse_date(record.get("date"), where, "date"),
        choices=choices,
        gold_urls=_strings(record, "gold_urls", where),
        source=source if isinstance(source, str) and source else qid.rsplit("_", 1)[0],
    )


def load_questions(path: Path, limit: int | None = None) -> tuple[list[Question], list[Problem]]:
    """Questions from a JSONL file, with a problem for each bad line (the rest still load); with
    ``limit``, reading stops at that many questions."""
    questions: list[Question] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"cannot read the questions file ({exc})") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            question = question_from(json.loads(line), where)
        except json.JSONDecodeError as exc:
            problems.append(Problem(where, f"not valid JSON ({exc.msg})", True))
            continue
        except InputError as exc:
            problems.append(Problem(exc.location, exc.reason, True))
            continue
        if question.id in seen:
            problems.append(Problem(where, f"duplicate question id {question.id!r}; kept the first", True))
            continue
        seen.add(question.id)
        questions.append(question)
        if limit is not None and len(questions) >= limit:
            break
    return questions, problems
