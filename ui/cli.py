"""The ``citewire`` command: a thin layer over ``rag`` and ``ingest``.

Every command catches ``CitewireError`` and prints its message; anything else is a bug and
keeps its traceback. With ``--json``, an error (a bad flag too) is also printed on stdout as the
HTTP API gives it, ``{"error": {"message", "type"}}``, so a caller reading stdout is never left
with nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from rag.errors import CitewireError, ConfigError, NotFoundError, error_type
from rag.query import Query, check_length, day
from rag.records import Answer
from rag.settings import Settings


def _date_arg(value: str) -> date:
    try:
        found = day(value, "the date")
    except ConfigError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2015-12-16") from None
    assert found is not None
    return found


def _as_of_arg(value: str) -> date:
    return date.today() if value.lower() == "today" else _date_arg(value)


def _store_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="where the library lives (env CITEWIRE_DATA_DIR)")
    parser.add_argument("--collection", help="Chroma collection name (env CITEWIRE_COLLECTION)")
    parser.add_argument(
        "--chroma-url", help="use a Chroma server, e.g. http://127.0.0.1:8000 (env CITEWIRE_CHROMA_URL)"
    )


def _llm_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--llm",
        metavar="URL|FILE.gguf|local",
        help="a language model writes the answers, each sentence checked against its passage: an "
        "OpenAI-compatible base url, a .gguf file, or 'local' for the small bundled SmolLM2 "
        "(env CITEWIRE_LLM)",
    )
    parser.add_argument(
        "--llm-model", metavar="NAME", help="the model to ask the --llm server for (env CITEWIRE_LLM_MODEL)"
    )
    parser.add_argument(
        "--reader",
        metavar="DIR",
        help="the learned reader: builtin (the shipped one, the default), a folder `citewire train` "
        "wrote, or none for the hand-set weights (env CITEWIRE_READER)",
    )


def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    """Settings from the environment, overridden by the flags given."""
    return Settings.from_env(
        data_dir=getattr(args, "data_dir", None),
        collection=getattr(args, "collection", None),
        chroma_url=getattr(args, "chroma_url", None),
        llm=getattr(args, "llm", None),
        llm_model=getattr(args, "llm_model", None),
        reader=getattr(args, "reader", None),
        **extra,
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("citewire")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


class UsageError(ConfigError):
    """The command line itself is wrong (argparse's own errors), exit status 2: printed as
    argparse prints it, usage first; ``reason`` is argparse's message alone."""

    def __init__(self, usage: str, prog: str, reason: str) -> None:
        super().__init__(f"{usage}{prog}: error: {reason}")
        self.reason = reason


class _Parser(argparse.ArgumentParser):
    """argparse, raising its errors instead of exiting, so ``main`` can report them as JSON too."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.format_usage(), self.prog, message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = _Parser(
        prog="citewire", description="Ask questions of news articles and get cited answers, offline."
    )
    parser.add_argument("--version", action="version", version=f"citewire {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="add article files and folders (.txt .md .html .jsonl)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--json", action="store_true", help="print the report as JSON (problems also go to stderr)"
    )
    _store_flags(p)

    p = sub.add_parser("ask", help="answer a question with numbered citations")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the answer record as JSON")
    p.add_argument("--top-k", type=int, help="passages to retrieve (default 5)")
    p.add_argument("--since", type=_date_arg, help="only articles published on or after this date")
    p.add_argument("--until", type=_date_arg, help="only articles published on or before this date")
    p.add_argument(
        "--as-of",
        type=_as_of_arg,
        help="answer as of this date (or 'today'): later articles are left out, the days just "
        "before it rank higher",
    )
    _store_flags(p)
    _llm_flags(p)

    p = sub.add_parser("sources", help="list the stored articles")
    p.add_argument("--json", action="store_true", help="print the articles as a JSON list")
    _store_flags(p)

    p = sub.add_parser(
        "eval",
        help="run an evaluation suite (`citewire eval compare RUN_A RUN_B` compares two runs)",
    )
    p.add_argument("--articles", required=True, type=Path, help="the suite's articles.jsonl")
    p.add_argument("--questions", required=True, type=Path, help="the suite's questions.jsonl")
    p.add_argument(
        "--out", type=Path, default=Path("runs/latest"), help="output folder (default runs/latest)"
    )
    p.add_argument("--limit", type=int, help="ask only the first N questions")
    p.add_argument("--top-k", type=int, help="passages per answer (default 5)")
    p.add_argument(
        "--as-of",
        choices=("question", "none"),
        default="question",
        help="question: nothing published after a question's date may be cited (default)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _store_flags(p)
    _llm_flags(p)

    p = sub.add_parser("train", help="learn which sentences to quote from news quizzes (eval/train.py)")
    p.add_argument("--articles", required=True, type=Path, help="the quizzes' articles.jsonl")
    p.add_argument("--questions", required=True, type=Path, help="the quizzes' questions.jsonl")
    p.add_argument("--out", type=Path, default=Path("runs/train"), help="output folder (default runs/train)")
    p.add_argument("--folds", type=int, default=5, help="blocks of weeks to cross-validate over (default 5)")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--top-k", type=int, help="passages per question (default 5)")
    p.add_argument("--reuse-rows", action="store_true", help="reuse --out's rows.npz instead of asking again")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _store_flags(p)

    p = sub.add_parser("chat", help="serve the chat page on this machine")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    p.add_argument(
        "--auth", metavar="FILE", help="file of user:password lines (or env CITEWIRE_AUTH=user:password)"
    )
    p.add_argument("--no-auth", action="store_true", help="serve on a non-loopback address without login")
    p.add_argument("--examples", metavar="PATH", help="ingest these articles first if the library is empty")
    p.add_argument("--max-upload-mb", type=int, default=10, help="largest upload accepted (default 10)")
    _store_flags(p)
    _llm_flags(p)

    p = sub.add_parser("serve", help="serve the HTTP API (/v1, OpenAI-compatible chat) and the chat page")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    p.add_argument(
        "--api-key-file",
        metavar="FILE",
        help="the bearer token every /v1 request must carry, on the file's first line (or env "
        "CITEWIRE_API_KEY); required off loopback",
    )
    p.add_argument("--auth", metavar="FILE", help="the chat page's login, as for `citewire chat`")
    p.add_argument("--no-auth", action="store_true", help="serve the page off loopback without login")
    p.add_argument("--no-page", action="store_true", help="serve the API only, without the chat page at /")
    p.add_argument(
        "--cors-origin", action="append", metavar="URL", help="allow browser calls from this origin"
    )
    p.add_argument("--max-upload-mb", type=int, default=10, help="largest upload accepted (default 10)")
    _store_flags(p)
    _llm_flags(p)

    p = sub.add_parser("forget", help="remove an article by id (see `citewire sources`)")
    p.add_argument("article_id", metavar="ID")
    p.add_argument("--json", action="store_true", help='print {"forgot": ID} as JSON')
    _store_flags(p)
    return parser


def build_compare_parser() -> argparse.ArgumentParser:
    """``citewire eval compare RUN_A RUN_B``."""
    parser = _Parser(
        prog="citewire eval compare", description="Compare two evaluation runs question by question."
    )
    parser.add_argument("run_a", type=Path, metavar="RUN_A")
    parser.add_argument("run_b", type=Path, metavar="RUN_B")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        from ui import serving, suites

        if argv[:2] == ["eval", "compare"]:
            return suites.cmd_compare(build_compare_parser().parse_args(argv[2:]))
        args = build_parser().parse_args(argv)
        handler = {
            "ingest": cmd_ingest,
            "ask": cmd_ask,
            "sources": cmd_sources,
            "forget": cmd_forget,
            "eval": suites.cmd_eval,
            "train": suites.cmd_train,
            "chat": serving.cmd_chat,
            "serve": serving.cmd_serve,
        }
        return handler[args.command](args)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        _json_error(argv, exc)
        return 2
    except CitewireError as exc:
        print(f"citewire: {exc}", file=sys.stderr)
        _json_error(argv, exc)
        return 1
    except BrokenPipeError:  # output piped into `head` and closed early: not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        kept = f" {INGEST_INTERRUPTED}" if argv[:1] == ["ingest"] else ""
        print(f"\ncitewire: interrupted.{kept}", file=sys.stderr)
        return 130


def _json_error(argv: list[str], exc: CitewireError) -> None:
    """With ``--json`` asked for, the error on stdout too."""
    if "--json" in argv:
        message = exc.reason if isinstance(exc, UsageError) else str(exc)
        print(json.dumps({"error": {"message": message, "type": error_type(exc)}}, ensure_ascii=False))


INGEST_INTERRUPTED = (
    "What was stored before it is kept, whole articles only; running the same command again "
    "adds the rest without duplicates."
)


def _open(args: argparse.Namespace, existing: bool = False) -> Any:
    """The library the flags name; with ``existing``, an embedded library that is not there yet is
    an error (asking or listing would only create an empty one)."""
    import rag

    return rag.open(settings=settings_from(args), create=not existing)


def cmd_ingest(args: argparse.Namespace) -> int:
    """``citewire ingest PATH...``: exit 1 if any input was skipped. When no path names a file
    to read, the library is not opened, so none is created for nothing."""
    from ingest import IngestReport, Problem, ingest
    from ingest.readers import iter_files

    def show(problem: Problem) -> None:
        print(problem, file=sys.stderr)

    found = list(iter_files(args.paths))
    if all(isinstance(entry, Problem) for entry in found):
        report = IngestReport(problems=[e for e in found if isinstance(e, Problem)])
        for problem in report.problems:
            show(problem)
    else:
        report = ingest(args.paths, _open(args), progress=not (args.quiet or args.json), on_problem=show)
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if args.json else report.summary())
    return 1 if report.skipped else 0


def cmd_ask(args: argparse.Namespace) -> int:
    """``citewire ask QUESTION``: prints the answer and its sources, or the JSON record."""
    if args.top_k is not None and args.top_k <= 0:
        raise ConfigError(f"--top-k must be greater than 0. Currently, it is {args.top_k}")
    check_length(args.question)
    query = Query(args.question, top_k=args.top_k, since=args.since, until=args.until, as_of=args.as_of)
    library = _open(args, existing=True)
    answers = library.stream(query)
    if args.json:
        *_, answer = answers
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    shown = ""  # sentences are printed as they pass the check; the sources follow the answer
    for answer in answers:
        text = answer.answer
        print(text[len(shown) :] if text.startswith(shown) else f"\n{text}", end="", flush=True)
        shown = text
    print(format_answer(answer)[len(shown) :])
    return 0


def format_answer(answer: Answer) -> str:
    """An answer for the terminal: the text, then one block per citation, then what a language
    model wrote that was left out."""
    lines = [answer.answer]
    if answer.fallback:
        lines.append(f"(the model's answer gave way to the quoted one: {answer.fallback_reason})")
    if answer.citations:
        lines.append("")
        lines.append("Sources:")
    for c in answer.citations:
        when = c.published.isoformat() if c.published else "undated"
        lines.append(f"[{c.n}] {c.title} ({c.source or 'unknown source'}, {when})")
        lines.append(f"    {c.url or c.source_path}")
        lines.append(f"    > {c.quote}  (characters {c.start}-{c.end})")
    if answer.unsupported:
        lines.append("")
        lines.append("Left out (not supported by the passages it cites):")
        lines.extend(f"  - {u.sentence}  ({u.reason})" for u in answer.unsupported)
    return "\n".join(lines)


def cmd_sources(args: argparse.Namespace) -> int:
    """``citewire sources``: one line per stored article."""
    from ingest.problem import counted

    library = _open(args, existing=True)
    articles = library.sources()
    if args.json:
        rows = [a.to_dict() for a in articles]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for a in articles:
        when = a.published.isoformat() if a.published else "undated"
        print(f"{a.id}  {when:10}  {counted(a.chunks, 'chunk'):>10}  {a.title}  <{a.url or a.source_path}>")
    print(f"{counted(len(articles), 'article')}, {counted(sum(a.chunks for a in articles), 'chunk')}")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    """``citewire forget ID``: exit 1 when no such article is stored."""
    library = _open(args, existing=True)
    if not library.forget(args.article_id):
        raise NotFoundError(f"no article with id {args.article_id!r}; `citewire sources` lists the ids")
    print(json.dumps({"forgot": args.article_id}) if args.json else f"forgot {args.article_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
