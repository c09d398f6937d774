"""Shared fixtures: one real embedding model per session, real Chroma in temporary folders."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from rag import Embedder, Library, Settings
from rag.library import open_library
from rag.offline import go_offline

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "articles"
SHARED_DATA = Path(os.environ.get("CITEWIRE_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()
SEED_DIR = SHARED_DATA / "seed"
BBC_DIR = SHARED_DATA / "bbc"
RTQA_DIR = SHARED_DATA / "realtimeqa-dev"
SEED_QUESTION = "What did Xi say about multilateral governance?"

needs_shared = pytest.mark.skipif(
    not (SEED_DIR.is_dir() and BBC_DIR.is_dir() and RTQA_DIR.is_dir()),
    reason=f"real data not found at {SHARED_DATA} (../shared/data beside the checkout); "
    "these tests need the real articles and always run in CI",
)

go_offline()


CLI = [sys.executable, "-m", "ui.cli"]


Hook = tuple[str, int, str]
"""A fault for ``tests/cli_hook.py``: (target, call, action)."""


def run(
    *args: str, data_dir: Path, hook: Hook | None = None, **variables: str
) -> subprocess.CompletedProcess[str]:
    """``citewire ARGS`` in a process of its own; with ``hook``, its fault happens just before
    the target's call (see ``tests/cli_hook.py``)."""
    env = {**os.environ, "CITEWIRE_DATA_DIR": str(data_dir), **variables}
    command = [*CLI, *args]
    if hook is not None:
        target, call, action = hook
        command = [
            sys.executable,
            str(ROOT / "tests" / "cli_hook.py"),
            target,
            str(call),
            action,
            "--",
            *args,
        ]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2, loaded once for the whole session."""
    return Embedder.load()


@pytest.fixture
def make_library(tmp_path: Path, embedder: Embedder) -> Callable[..., Library]:
    """Open a fresh embedded library in a temporary folder (or the one given)."""

    def make(data_dir: Path | None = None, **settings: object) -> Library:
        folder = data_dir or tmp_path / "library"
        return open_library(settings=Settings(data_dir=folder, **settings), embedder=embedder)  # type: ignore[arg-type]

    return make


def bbc_slice(per_topic: int) -> list[Path]:
    """The first ``per_topic`` BBC files of each topic, in a stable order."""
    files: list[Path] = []
    for topic in sorted(p for p in BBC_DIR.iterdir() if p.is_dir()):
        files.extend(sorted(topic.glob("*.txt"))[:per_topic])
    return files


@pytest.fixture(scope="session")
def news_library(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Library:
    """The seed article among 100 real BBC distractors, ingested once for the session."""
    if not SEED_DIR.is_dir() or not BBC_DIR.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}; needed for the seed-article tests")
    from ingest import ingest

    library = open_library(settings=Settings(data_dir=tmp_path_factory.mktemp("news")), embedder=embedder)
    report = ingest([SEED_DIR, *bbc_slice(20)], library, progress=False)
    assert report.skipped == 0, report.problems
    return library


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    """Wait until ``url`` answers; ``RuntimeError`` with the end of the server's ``log`` when
    ``process`` ends first or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"{url} did not answer: {log.read_text()[-2000:]}") from exc
            time.sleep(0.3)


class ChromaServer:
    """A real ``chroma run`` server on loopback, in a folder of its own, that a test can kill
    (as a crash would: SIGKILL) and start again on the same port and folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._log = folder / "chroma.log"

    def start(self) -> None:
        chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
        with self._log.open("a") as log:
            self.process = subprocess.Popen(
                [
                    chroma,
                    "run",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--path",
                    str(self.folder / "db"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until_serving(f"{self.url}/api/v2/heartbeat", self.process, self._log, seconds=60)

    def kill(self) -> None:
        """Kill it at once, as a crash would, and wait until it is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    """A running Chroma server, stopped after the test."""
    server = ChromaServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.fail(
            "Debian's chromium and chromium-driver are needed: apt-get install chromium chromium-driver"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--window-size=1400,1000",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_for(check: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception:  # the page is still rendering
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
