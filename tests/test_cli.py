"""The ``citewire`` command end to end, as a user runs it (separate processes, real model)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

from conftest import EXAMPLES, bbc_slice, needs_shared, run

from rag import Library


def test_ingest_ask_sources_forget(tmp_path: Path) -> None:
    data = tmp_path / "lib"
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"title": "no text here"}\n')
    done = run("ingest", str(EXAMPLES), str(bad), "--quiet", data_dir=data)
    assert done.returncode == 1, done.stderr  # one input was skipped
    assert f"skipped: {bad}:1: not an article" in done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("5 articles (5 added, 0 updated, 0 unchanged, 0 duplicates, 0 removed, 1 skipped)")
    assert "chunks/s" in last

    asked = run("ask", "What did Xi say about multilateral governance?", "--json", data_dir=data)
    assert asked.returncode == 0, asked.stderr
    record = json.loads(asked.stdout)
    assert set(record) >= {"answer", "refused", "citations"}
    assert record["refused"] is False and "[1]" in record["answer"]
    first = record["citations"][0]
    assert set(first) >= {
        "n", "article_id", "title", "url", "source_path", "published",
        "quote", "passage", "start", "end", "score",
    }  # fmt: skip
    assert first["url"] == "https://example.org/citewire/xi-world-internet-conference-2015"
    assert first["published"] == "2015-12-16"
    assert "multilateral" in first["quote"]

    # Bytes that are not UTF-8 in a question (a terminal in another encoding) are no crash.
    garbled = run("ask", "What did Xi \udcff say about multilateral governance?", data_dir=data)
    assert garbled.returncode == 0, garbled.stderr
    assert "multilateral" in garbled.stdout

    # As of a day before the conference, its article cannot be cited.
    earlier = run("ask", "What did Xi say about multilateral governance?", "--as-of", "2015-12-15", "--json",
                  data_dir=data)  # fmt: skip
    assert earlier.returncode == 0, earlier.stderr
    cited = json.loads(earlier.stdout)["citations"]
    assert first["url"] not in {c["url"] for c in cited}  # cited first without --as-of, above
    assert all(c["published"] <= "2015-12-15" for c in cited)

    listed = run("sources", "--json", data_dir=data)
    rows = json.loads(listed.stdout)
    assert len(rows) == 5
    pluto = next(r for r in rows if "Pluto" in r["title"])
    assert run("forget", pluto["id"], data_dir=data).returncode == 0
    missing = run("forget", pluto["id"], data_dir=data)
    assert missing.returncode == 1 and "citewire sources" in missing.stderr
    assert len(json.loads(run("sources", "--json", data_dir=data).stdout)) == 4

    # --json: the report and the forgetting as records a script reads.
    again = run("ingest", str(EXAMPLES), str(bad), "--json", data_dir=data)
    assert again.returncode == 1 and f"skipped: {bad}:1: not an article" in again.stderr
    report = json.loads(again.stdout)
    assert (report["articles"], report["added"], report["unchanged"], report["skipped"]) == (5, 1, 4, 1)
    assert [(p["file"], p["skipped"]) for p in report["problems"]] == [(f"{bad}:1", True)]
    forgot = run("forget", pluto["id"], "--json", data_dir=data)
    assert forgot.returncode == 0 and json.loads(forgot.stdout) == {"forgot": pluto["id"]}
    # An error, with --json, is a record on stdout too, typed as the HTTP API types it.
    missing = run("forget", pluto["id"], "--json", data_dir=data)
    assert missing.returncode == 1 and "citewire sources" in missing.stderr
    error = json.loads(missing.stdout)["error"]
    assert error["type"] == "not_found_error" and pluto["id"] in error["message"]


def test_bad_arguments_get_clear_errors(tmp_path: Path) -> None:
    done = run("--version", data_dir=tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("citewire 0."), done.stdout
    done = run("ask", "anything", "--top-k", "0", data_dir=tmp_path)
    assert done.returncode == 1 and "--top-k must be greater than 0" in done.stderr
    done = run("ask", "anything", "--since", "last week", data_dir=tmp_path)
    assert done.returncode == 2 and "not a date like 2015-12-16" in done.stderr
    done = run("ask", "anything", "--as-of", "yesterday", data_dir=tmp_path)
    assert done.returncode == 2 and "not a date like 2015-12-16" in done.stderr
    done = run("ask", "anything", "--as-of", "yesterday", "--json", data_dir=tmp_path)
    assert done.returncode == 2 and "usage: citewire ask" in done.stderr
    said = "argument --as-of: 'yesterday' is not a date like 2015-12-16"
    assert json.loads(done.stdout) == {"error": {"message": said, "type": "invalid_request_error"}}
    done = run("ask", "word " * 900, data_dir=tmp_path)  # the page's and the API's cap
    assert done.returncode == 1 and "The question is 4,500 characters; ask in at most 4,000." in done.stderr
    # chat: a port in use (a second `make chat`) and a bad upload limit, before anything loads.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = run("chat", "--port", port, data_dir=tmp_path)
        assert done.returncode == 1 and f"Port {port} on 127.0.0.1 is in use" in done.stderr, done.stderr
    done = run("chat", "--max-upload-mb", "0", data_dir=tmp_path)
    assert done.returncode == 1 and "--max-upload-mb must be greater than 0" in done.stderr
    assert not (tmp_path / "chroma").exists()
    # (urlsplit, or its port, raises ValueError on the last two)
    for url in ("localhost:1234", "http://[::1", "http://127.0.0.1:99999"):
        done = run("ask", "anything", "--chroma-url", url, data_dir=tmp_path)
        assert done.returncode == 1 and "http://127.0.0.1:8000" in done.stderr, url
        assert "Traceback" not in done.stderr


def test_a_damaged_store_is_one_line_naming_it(tmp_path: Path) -> None:
    """A database file that is not one (damaged, or another program's) was a traceback of
    chromadb's ``InternalError``."""
    (tmp_path / "chroma").mkdir()
    (tmp_path / "chroma" / "chroma.sqlite3").write_bytes(b"not a database at all\n" * 200)
    done = run("sources", data_dir=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"Could not open the Chroma store in {tmp_path / 'chroma'}" in done.stderr


def test_a_missing_library_is_named_not_created(tmp_path: Path) -> None:
    nowhere = tmp_path / "no-library"
    for args in (("ask", "What happened?"), ("sources",), ("forget", "a123")):
        done = run(*args, data_dir=nowhere)
        assert done.returncode == 1 and f"There is no library in {nowhere} yet" in done.stderr, args
        assert "citewire ingest PATH" in done.stderr
    # An ingest of nothing readable (a mistyped path) makes no empty library either.
    typo = tmp_path / "artciles"
    done = run("ingest", str(typo), "--quiet", data_dir=nowhere)
    assert done.returncode == 1 and f"skipped: {typo}: no such file or folder" in done.stderr
    assert "0 articles (0 added" in done.stdout
    # eval checks its files before it opens (and would create) a library.
    missing = tmp_path / "articles.jsonl"
    done = run("eval", "--articles", str(missing), "--questions", str(missing), data_dir=nowhere)
    assert done.returncode == 1 and f"--articles {missing}: no such file" in done.stderr
    # ... and its questions: a file with none to ask ingests nothing; nor does a bad --top-k.
    articles, questions = tmp_path / "a.jsonl", tmp_path / "q.jsonl"
    articles.write_text('{"text": "The island ferry returned to service on Monday."}\n')
    questions.write_text('{"id": "q_1", "question": "When?"}\nnot json\n')
    suite = ("--articles", str(articles), "--questions", str(questions))
    done = run("eval", *suite, data_dir=nowhere)
    assert done.returncode == 1 and f"{questions}: no question could be read (2 lines skipped)" in done.stderr
    assert f"{questions}:1:" in done.stderr and f"{questions}:2:" in done.stderr
    questions.write_text('{"id": "q_1", "question": "When?", "answers": ["Monday"]}\n')
    done = run("eval", *suite, "--top-k", "0", data_dir=nowhere)
    assert done.returncode == 1 and "--top-k must be greater than 0. Currently, it is 0" in done.stderr
    # ... and its output folder, which used to fail only after every question was answered.
    done = run("eval", *suite, "--out", str(articles), data_dir=nowhere)
    assert done.returncode == 1, done.stderr
    assert f"--out {articles}: cannot make the output folder (a file has that name)" in done.stderr
    assert "Traceback" not in done.stderr
    assert not nowhere.exists()


def test_eval_with_skipped_lines_exits_1_and_compare_names_a_damaged_run(tmp_path: Path) -> None:
    articles = tmp_path / "articles.jsonl"
    text = "The island ferry returned to service on Monday after a month of repairs to its engine."
    record = {"url": "https://example.org/ferry", "title": "Island ferry returns", "text": text}
    articles.write_text(json.dumps(record) + "\n")
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        '{"id": "q_1", "question": "When did the island ferry return to service?", "answers": ["Monday"]}\n'
        '{"id": "q_2", "question": "Empty?", "answers": [""]}\n'
    )
    out = tmp_path / "run"
    suite = ("--articles", str(articles), "--questions", str(questions))
    # A reader's server named in the environment is not where an evaluation's corpus goes (this
    # one is not even running): the corpus gets its own index under the data directory.
    server = {"CITEWIRE_CHROMA_URL": "http://127.0.0.1:9"}
    done = run("eval", *suite, "--out", str(out), "--quiet", data_dir=tmp_path / "lib", **server)
    assert done.returncode == 1, done.stderr
    assert f"(index: {tmp_path / 'lib' / 'eval'}" in done.stdout
    assert f"{questions}:2: field 'answers' holds an empty answer" in done.stderr
    assert "1 question lines were skipped" in done.stderr
    assert json.loads((out / "summary.json").read_text())["run"]["questions_asked"] == 1
    assert run("eval", "compare", str(out), str(out), data_dir=tmp_path).returncode == 0
    with (out / "results.jsonl").open("a") as results:
        results.write('{"id": "q_9", "question": "cut sh')
    done = run("eval", "compare", str(out), str(out), data_dir=tmp_path)
    assert done.returncode == 1 and f"{out / 'results.jsonl'}:2 is not valid JSON" in done.stderr
    assert "Traceback" not in done.stderr
    record = json.loads((out / "results.jsonl").read_text().splitlines()[0])
    record["metrics"]["hit@1"] = "yes"
    (out / "results.jsonl").write_text(json.dumps(record) + "\n")
    done = run("eval", "compare", str(out), str(out), data_dir=tmp_path)
    assert done.returncode == 1 and f"{out / 'results.jsonl'}:1: metric 'hit@1' is 'yes'" in done.stderr
    assert "Traceback" not in done.stderr

    # A bad article line, with every question good, still fails the run: its score is not the suite's.
    questions.write_text(questions.read_text().splitlines()[0] + "\n")
    with articles.open("a") as more:
        more.write('{"title": "no text"}\n')
    done = run("eval", *suite, "--out", str(out), "--quiet", data_dir=tmp_path / "lib")
    assert done.returncode == 1 and f"{articles}:2: not an article" in done.stderr
    assert "1 article inputs were skipped" in done.stderr and "question lines" not in done.stderr


@needs_shared
def test_an_interrupted_ingest_keeps_whole_articles_and_a_second_run_adds_the_rest(tmp_path: Path) -> None:
    corpus = tmp_path / "bbc"
    for i, path in enumerate(bbc_slice(30)):
        corpus.mkdir(exist_ok=True)
        shutil.copy(path, corpus / f"{i:03}.txt")
    data = tmp_path / "lib"
    # Ctrl-C as the second group of passages is about to be embedded, while the first is being
    # stored, on any machine (a signal sent from outside once something was stored raced the
    # ingest, and lost on a fast machine).
    sigint = ("ingest.pipeline:_embed", 2, "sigint")
    interrupted = run("ingest", str(corpus), "--quiet", data_dir=data, hook=sigint)
    assert interrupted.returncode == 130, interrupted.stderr
    stderr = interrupted.stderr
    assert "citewire: interrupted. What was stored before it is kept" in stderr and "Traceback" not in stderr
    again = run("ingest", str(corpus), "--quiet", data_dir=data)
    assert again.returncode == 0, again.stderr
    summary = again.stdout.strip().splitlines()[-1]
    counts = re.search(
        r"\((\d+) added, 0 updated, (\d+) unchanged, (\d+) duplicates?, 0 removed, 0 skipped\)", summary
    )
    assert counts, summary
    added, unchanged, duplicates = int(counts[1]), int(counts[2]), int(counts[3])
    # One of these 150 BBC files is a copy of another, stored once.
    assert added > 0 and unchanged > 0 and (added + unchanged, duplicates) == (149, 1), summary
    rows = json.loads(run("sources", "--json", data_dir=data).stdout)
    assert len(rows) == len({r["id"] for r in rows}) == 149


def test_an_embedded_store_is_refused_to_a_second_process(
    tmp_path: Path, make_library: Callable[..., Library]
) -> None:
    """Chroma's embedded store belongs to one process: another process is refused at once, told
    which process holds the directory and what to do, and writes nothing."""
    data = tmp_path / "lib"
    library = make_library(data)  # this process holds the store
    done = run("ingest", str(EXAMPLES), "--quiet", data_dir=data)
    assert done.returncode == 1
    holder = f"is in use by another process (pid {os.getpid()}:"
    assert f"The data directory {data.resolve()} {holder}" in done.stderr
    assert "--chroma-url" in done.stderr and "Traceback" not in done.stderr
    assert library.store.count_articles() == 0 and not library.sources()
    # A client of a Chroma server keeps only its BM25 index here, but not beside an embedded store.
    done = run("sources", "--chroma-url", "http://127.0.0.1:9", data_dir=data)
    assert done.returncode == 1 and "with its embedded store" in done.stderr
    # This process may open the directory again (another library, ``rag.ask``).
    assert make_library(data).store.count_chunks() == 0


def test_a_huge_text_file_costs_only_itself(tmp_path: Path) -> None:
    """A text of megabytes in one paragraph aborted the whole ingest with NLTK's regex time limit
    and stored nothing; now it is named on one line and the rest goes in."""
    sentence = "The quick brown fox jumps over the lazy dog near the river bank today. "
    (tmp_path / "huge.txt").write_text("Huge\n\n" + (sentence * 10 + "\n") * 29_490)  # 21 MB
    with (tmp_path / "dump.txt").open("w") as dump:  # 50 MB
        dump.write("Dump\n\n")
        for i in range(50_000):
            dump.write(
                f"Line {i} of a log that someone saved with a .txt ending, padded out to a kilobyte. " * 12
                + "\n"
            )
    (tmp_path / "good.txt").write_text(
        "Harbour reopens after the storm\n\nThe harbour at Portwell reopened on Tuesday after a storm "
        "closed it for three days. Fishing boats went out at dawn.\n"
    )
    records = [
        {
            "url": "https://example.org/ferry",
            "title": "Ferry timetable",
            "text": "Six crossings a day from May.",
        },
        "not json",
        {"title": "A number", "text": 42},
        {
            "url": "https://example.org/library",
            "title": "Library hours",
            "text": "Open until nine from June.",
        },
    ]
    (tmp_path / "mixed.jsonl").write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n"
    )
    data = tmp_path / "lib"
    files = [str(tmp_path / name) for name in ("good.txt", "huge.txt", "dump.txt", "mixed.jsonl")]
    done = run("ingest", *files, "--quiet", data_dir=data)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert (
        f"skipped: {tmp_path / 'huge.txt'}: the text is 20,967,396 characters, over the 5,000,000" in lines[0]
    )
    assert lines[1].startswith(f"skipped: {tmp_path / 'dump.txt'}: the text is ")
    mixed = tmp_path / "mixed.jsonl"
    assert lines[2:] == [
        f"skipped: {mixed}:2: not valid JSON (Expecting value); each line must be one JSON object",
        f"skipped: {mixed}:3: field 'text' must be a string, got 42",
    ]
    assert "3 articles (3 added" in done.stdout and "4 skipped" in done.stdout
    titles = {row["title"] for row in json.loads(run("sources", "--json", data_dir=data).stdout)}
    assert titles == {"Harbour reopens after the storm", "Ferry timetable", "Library hours"}
