"""Shared fixtures: one real embedding model per session, real Chroma in temporary folders."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

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
