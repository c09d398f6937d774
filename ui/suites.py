"""The commands that run question suites: ``citewire eval``, ``citewire eval compare`` and
``citewire train``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rag.errors import ConfigError
from ui.cli import settings_from


def _check_suite_files(args: argparse.Namespace) -> None:
    """``ConfigError`` naming the flag of a suite file that is not there, or of a count under 1."""
    for flag, count in (("--limit", args.limit), ("--top-k", args.top_k)):
        if count is not None and count <= 0:
            raise ConfigError(f"{flag} must be greater than 0. Currently, it is {count}")
    for flag, path in (("--articles", args.articles), ("--questions", args.questions)):
        if not path.is_file():
            raise ConfigError(f"{flag} {path}: no such file; give the suite's JSONL file")


def cmd_eval(args: argparse.Namespace) -> int:
    """``citewire eval``: run a suite and print the summary table's path and headline figures."""
    from eval.runner import RunConfig, run_eval

    _check_suite_files(args)
    config = RunConfig(
        articles=args.articles,
        questions=args.questions,
        out=args.out,
        as_of=args.as_of,
        limit=args.limit,
        top_k=args.top_k,
    )

    suite, library = _suite_library(args, config)
    _, summary = run_eval(config, library, progress=not args.quiet, on_problem=_report, suite=suite)
    print(format_summary(summary))
    index = library.settings.data_dir
    print(f"wrote {args.out}/results.jsonl, summary.json, report.md and plots (index: {index})")
    skipped = {
        "question lines": summary["run"]["questions_skipped"],
        "article inputs": summary["run"]["ingest"]["skipped"],
    }
    for what, count in skipped.items():
        if count:
            message = f"citewire: {count} {what} were skipped (see above); fix them and run again"
            print(message, file=sys.stderr)
    return 1 if any(skipped.values()) else 0


def _report(problem: object) -> None:
    print(problem, file=sys.stderr)


def _suite_library(args: argparse.Namespace, config: Any) -> tuple[Any, Any]:
    """The suite's questions (read before any library is opened or ingested into) and the
    library of its corpus: by default the corpus's own embedded index, also when
    CITEWIRE_CHROMA_URL names the reader's server, so that a suite never joins the library
    people chat with."""
    from eval.runner import default_index_dir, load_suite, make_out_dir

    suite = load_suite(config, on_problem=_report)
    make_out_dir(config.out)
    settings = settings_from(args)
    if args.data_dir is None and args.chroma_url is None:
        index = default_index_dir(settings.data_dir, args.articles)
        settings = settings.with_changes(data_dir=index, chroma_url=None)
    import rag

    return suite, rag.open(settings=settings)


def cmd_train(args: argparse.Namespace) -> int:
    """``citewire train``: learn the reader from a suite (see ``eval/train.py``); prints the
    model card's figures."""
    from eval.runner import RunConfig
    from eval.train import train
    from ingest import ingest

    if args.folds < 2:
        raise ConfigError(f"--folds must be at least 2. Currently, it is {args.folds}")
    _check_suite_files(args)
    config = RunConfig(args.articles, args.questions, args.out, limit=args.limit, top_k=args.top_k)
    suite, library = _suite_library(args, config)
    if not (args.reuse_rows and (args.out / "rows.npz").is_file()):
        print(ingest([args.articles], library, progress=not args.quiet, on_problem=_report).summary())
    from tqdm import tqdm

    with tqdm(total=len(suite.questions), unit="q", disable=True if args.quiet else None) as bar:
        summary = train(
            library,
            suite.questions,
            args.out,
            top_k=args.top_k or library.settings.top_k,
            folds_count=args.folds,
            reuse_rows=args.reuse_rows,
            tick=bar.update,
        )
    print((args.out / "card.md").read_text(), end="")
    index = library.settings.data_dir
    print(f"wrote {args.out}/reader.txt, cv.json, card.md ({summary['seconds']} s; index: {index})")
    return 0


def format_summary(summary: dict[str, Any]) -> str:
    """The headline figures of an eval run, one metric a line."""
    lines = []
    for name, value in summary["metrics"].items():
        if name == "refused_gold_retrieved":
            lines.append(f"{name:24} {value['count']} of {value['of']}")
        elif value["mean"] is not None:
            low, high = value["ci95"]
            lines.append(f"{name:24} {value['mean']:.3f}  [{low:.3f}, {high:.3f}]  n={value['count']}")
    run = summary["run"]
    lines.append(
        f"ingest {run['ingest']['seconds']} s ({run['ingest']['chunks_added']} chunks added); "
        f"answering {run['questions_asked']} questions took {run['answering_seconds']} s"
    )
    return "\n".join(lines)


def cmd_compare(args: argparse.Namespace) -> int:
    """``citewire eval compare RUN_A RUN_B``."""
    from eval.compare import compare_runs, format_comparison

    report = compare_runs(args.run_a, args.run_b)
    print(json.dumps(report, indent=2) if args.json else format_comparison(report))
    return 0
