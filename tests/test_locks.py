"""Claims on a data directory: one process alone for an embedded store, shared by the clients of
a Chroma server, and a refusal that names the holders still running."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT

from rag.errors import StoreError
from rag.locks import claim_data_dir

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no fcntl: nothing is locked on Windows")

HOLD = """
import sys
from pathlib import Path
from rag.locks import claim_data_dir
try:
    claim_data_dir(Path(sys.argv[1]), shared=sys.argv[2] == "shared")
except Exception as exc:
    print(f"refused: {exc}", flush=True)
    sys.exit(1)
print("held", flush=True)
sys.stdin.read()  # until the test closes our stdin
"""


@dataclass(frozen=True)
class Other:
    """Another process that claimed a directory: its pid and what it said (held, or refused: why)."""

    pid: int
    said: str


@contextmanager
def other_process(folder: Path, mode: str) -> Iterator[Other]:
    """Another process claiming ``folder`` (``shared`` or ``alone``), running until the block ends."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder), mode],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    try:
        yield Other(process.pid, process.stdout.readline().strip())
    finally:
        process.stdin.close()
        process.wait(timeout=30)
        process.stdout.close()


def claim_together(folder: Path, threads: int) -> list[BaseException]:
    """Claim ``folder`` alone from ``threads`` threads at once; the errors raised."""
    start = threading.Barrier(threads)
    failures: list[BaseException] = []

    def claim() -> None:
        start.wait()
        try:
            claim_data_dir(folder, shared=False)
        except StoreError as exc:
            failures.append(exc)

    running = [threading.Thread(target=claim) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    return failures


def test_threads_of_one_process_opening_a_directory_do_not_refuse_each_other(tmp_path: Path) -> None:
    for n in range(20):
        assert not claim_together(tmp_path / f"lib{n}", threads=4)


def test_an_embedded_claim_beside_clients_of_a_server_names_those_running(tmp_path: Path) -> None:
    folder = tmp_path / "lib"
    claim_data_dir(folder, shared=True)  # this process: a client of a server
    with other_process(folder, "shared") as finished:  # another client, which then finishes
        assert finished.said == "held"
    with other_process(folder, "alone") as embedded:
        assert embedded.said.startswith("refused: ")
        assert "in use by clients of a Chroma server" in embedded.said
        assert f"pid {os.getpid()}: " in embedded.said and f"pid {finished.pid}: " not in embedded.said


def test_a_shared_claim_is_made_exclusive_only_when_no_one_else_shares_it(tmp_path: Path) -> None:
    alone, shared = tmp_path / "alone", tmp_path / "shared"
    claim_data_dir(alone, shared=True)
    claim_data_dir(alone, shared=False)  # nobody else holds it: this process now has it alone
    with other_process(alone, "shared") as client:
        assert "with its embedded store" in client.said and f"pid {os.getpid()}: " in client.said

    claim_data_dir(shared, shared=True)
    with other_process(shared, "shared") as client:
        assert client.said == "held"
        with pytest.raises(StoreError, match=f"clients of a Chroma server .*pid {client.pid}: "):
            claim_data_dir(shared, shared=False)
        # This process keeps its shared claim: an embedded store is still refused the directory.
        with other_process(shared, "alone") as embedded:
            assert embedded.said.startswith("refused: ")
