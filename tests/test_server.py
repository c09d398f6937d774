"""Server mode: the same library on a real ``chroma run`` server answers as the embedded one."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import EXAMPLES, SEED_QUESTION

from ingest import ingest
from rag import Embedder, Library, Settings
from rag.library import open_library


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = free_port()
    log = (tmp_path / "chroma.log").open("w")
    process = subprocess.Popen(
        [chroma, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(tmp_path / "server")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2):
                    break
            except OSError as exc:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"chroma server did not start: {(tmp_path / 'chroma.log').read_text()}"
                    ) from exc
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.mark.server
def test_server_mode_matches_embedded(
    chroma_server: str, make_library: Callable[..., Library], embedder: Embedder, tmp_path: Path
) -> None:
    embedded = make_library()
    remote = open_library(
        settings=Settings(data_dir=tmp_path / "unused", chroma_url=chroma_server), embedder=embedder
    )
    for library in (embedded, remote):
        report = ingest([EXAMPLES], library, progress=False)
        assert report.added == 5
    again = ingest([EXAMPLES], remote, progress=False)
    assert again.added == 0 and again.unchanged == 5
    assert remote.store.count_chunks() == embedded.store.count_chunks()
    for question in (SEED_QUESTION, "When did Philae land on the comet?", "Who won the 2022 FIFA World Cup?"):
        a, b = embedded.ask(question), remote.ask(question)
        assert a.to_dict() == b.to_dict()
    # Vectors live on the server; only the BM25 index is kept locally.
    assert not (tmp_path / "unused" / "chroma").exists()
    assert (tmp_path / "unused" / "bm25" / "citewire").is_dir()
    assert remote.forget(remote.sources()[0].id)
    assert remote.store.count_articles() == 4
