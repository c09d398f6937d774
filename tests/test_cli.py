"""The ``citewire`` command end to end, as a user runs it (separate processes, real model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from conftest import EXAMPLES, ROOT

from rag import Library

CLI = [sys.executable, "-m", "ui.cli"]


def run(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CITEWIRE_DATA_DIR": str(data_dir)}
    return subprocess.run([*CLI, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_ingest_ask_sources_forget(tmp_path: Path) -> None:
    data = tmp_path / "lib"
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"title": "no text here"}\n')
    done = run("ingest", str(EXAMPLES), str(bad), "--quiet", data_dir=data)
    assert done.returncode == 1, done.stderr  # one input was skipped
    assert f"skipped: {bad}:1: not an article" in done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("5 articles (5 added, 0 updated, 0 unchanged, 1 skipped)")
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

    # As of a day before the conference, its article cannot be cited.
    earlier = run("ask", "What did Xi say about multilateral governance?", "--as-of", "2015-12-15", "--json",
                  data_dir=data)  # fmt: skip
    assert earlier.returncode == 0, earlier.stderr
    assert all(c["published"] <= "2015-12-15" for c in json.loads(earlier.stdout)["citations"])

    listed = run("sources", "--json", data_dir=data)
    rows = json.loads(listed.stdout)
    assert len(rows) == 5
    pluto = next(r for r in rows if "Pluto" in r["title"])
    assert run("forget", pluto["id"], data_dir=data).returncode == 0
    missing = run("forget", pluto["id"], data_dir=data)
    assert missing.returncode == 1 and "citewire sources" in missing.stderr
    assert len(json.loads(run("sources", "--json", data_dir=data).stdout)) == 4


def test_bad_arguments_get_clear_errors(tmp_path: Path) -> None:
    done = run("ask", "anything", "--top-k", "0", data_dir=tmp_path)
    assert done.returncode == 1 and "--top-k must be greater than 0" in done.stderr
    done = run("ask", "anything", "--since", "last week", data_dir=tmp_path)
    assert done.returncode == 2 and "not a date like 2015-12-16" in done.stderr
    done = run("ask", "anything", "--as-of", "yesterday", data_dir=tmp_path)
    assert done.returncode == 2 and "not a date like 2015-12-16" in done.stderr
    # (urlsplit, or its port, raises ValueError on the last two)
    for url in ("localhost:1234", "http://[::1", "http://127.0.0.1:99999"):
        done = run("ask", "anything", "--chroma-url", url, data_dir=tmp_path)
        assert done.returncode == 1 and "http://127.0.0.1:8000" in done.stderr, url
        assert "Traceback" not in done.stderr


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
