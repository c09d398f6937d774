"""Server-mode sync benchmark: what taking in other clients' writes costs a library that searches.

    python bench/sync.py [--articles 300] [--added 30] [--rounds 200]

Starts a Chroma server (`chroma run` on 127.0.0.1, in a temporary folder) and two clients of it,
each with its own data directory, as on two machines. The writer ingests ``--articles`` BBC
articles; the reader opens the library and searches. Printed:

- how long a check for other clients' writes takes when there were none: just after the ingest,
  when the records of the last minute are looked at again in case the clients' clocks differ,
  and once that minute is over;
- the reader's search latency with a check before every search and with none (the default
  checks at most once a second), the two run alternately on the same questions;
- how long the reader takes to take in ``--added`` more articles that the writer ingested.
"""

from __future__ import annotations

import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from common import DATA, parser

if TYPE_CHECKING:
    from rag import Library


def start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A ``chroma run`` server on a free loopback port, once it answers its heartbeat."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    process = subprocess.Popen(
        [chroma, "run", "--host", "127.0.0.1", "--port", str(port), "--path", str(folder / "server")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2):
                return process, url
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the chroma server did not start") from None
            time.sleep(0.3)


def timed_checks(library: Library, rounds: int) -> list[float]:
    """Milliseconds each of ``rounds`` checks for other clients' writes took (none are expected)."""
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        if library.catch_up():
            raise SystemExit("another client wrote to the server during the benchmark")
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--corpus", type=Path, default=DATA / "bbc")
    options.add_argument("--articles", type=int, default=300)
    options.add_argument("--added", type=int, default=30)
    options.add_argument("--rounds", type=int, default=200)
    args = options.parse_args()

    from ingest import ingest
    from rag import Embedder, Settings
    from rag.lexical_sync import CLOCK_MARGIN
    from rag.library import open_library

    files = sorted(args.corpus.rglob("*.txt"))
    if len(files) < args.articles + args.added:
        raise SystemExit(f"{args.corpus} holds {len(files)} .txt files; fewer than --articles + --added")
    step = len(files) // (args.articles + args.added)
    picked = files[::step][: args.articles + args.added]
    first, later = picked[: args.articles], picked[args.articles :]
    questions = [p.read_text(encoding="utf-8", errors="replace").splitlines()[0] for p in first]
    embedder = Embedder.load("fp32")
    with tempfile.TemporaryDirectory() as folder:
        process, url = start_server(Path(folder))
        try:

            def client(name: str, sync_seconds: float) -> Library:
                settings = Settings(data_dir=Path(folder) / name, chroma_url=url, sync_seconds=sync_seconds)
                return open_library(settings=settings, embedder=embedder)

            writer = client("writer", 1.0)
            ingest(first, writer, progress=False)
            written = time.time()
            checking, quiet = client("reader", 0.0), client("reader", 1e9)
            for library in (checking, quiet):
                library.search(questions[0])  # loads the index and the model's first batch
            fresh = timed_checks(checking, args.rounds)  # the writes are under a minute old
            time.sleep(max(0.0, written + CLOCK_MARGIN + 1 - time.time()))
            settled = timed_checks(checking, args.rounds)
            timings: dict[str, list[float]] = {"a check before every search": [], "no check": []}
            for i in range(args.rounds):
                question = questions[i % len(questions)]
                for name, library in (("a check before every search", checking), ("no check", quiet)):
                    started = time.perf_counter()
                    library.search(question)
                    timings[name].append((time.perf_counter() - started) * 1000)
            report = ingest(later, writer, progress=False)
            started = time.perf_counter()
            assert checking.catch_up()
            taken = (time.perf_counter() - started) * 1000
            chunks = checking.store.count_chunks()
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(
        f"library: {args.articles} BBC articles on a Chroma server, "
        f"then {report.added} more ({chunks} chunks in all)"
    )
    print(
        f"a check that finds nothing new: median {statistics.median(fresh):.1f} ms just after the "
        f"ingest, {statistics.median(settled):.1f} ms once its writes are over {CLOCK_MARGIN:.0f} s old"
    )
    for name, values in timings.items():
        print(f"search with {name}: median {statistics.median(values):.1f} ms over {len(values)}")
    print(
        f"taking in {report.added} articles ({report.chunks} passages) another client added: {taken:.0f} ms"
    )
    print("command: python bench/sync.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
