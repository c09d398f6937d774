"""Soak test: every kind of client at once against one Chroma server, for a bounded time.

    python bench/soak.py [--seconds 120] [--page-clients 3] [--batch 20] [--max-questions 500] [--out F.json]

Starts, on 127.0.0.1 only and in a temporary folder: a ``chroma run`` server; ``citewire ingest``
of realtimeqa-dev articles, ``--batch`` at a time (the seed article first), another starting as
each ends so one always runs; ``citewire chat`` with ``--page-clients`` threads asking its
``/ask`` API through gradio_client; and one thread running ``citewire ask --json`` again and
again. Questions come from realtimeqa-dev's questions and the seed question. After
``--seconds`` no request starts, the ingest running then is let finish (``--grace`` seconds at
most, then interrupted), and the store is checked. Printed (and written as JSON with ``--out``):
the CPU model; questions asked, answers and refusals per client kind; each distinct error once,
with its count; p50/p95 latency of page and CLI asks as a client waits (the page answers one
question at a time, so its clients queue; each CLI ask loads the model); articles ingested;
whether every citation names an article stored at the end (by id and url); whether the chunk
count in Chroma equals the BM25 index's of a fresh client and of the ingests' own data
directory, and the passage counts the article records give; and whether any url or path is
stored as two articles.
Exit status 0 when there were no errors and every check holds, else 1.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import DATA, parser

RTQA = DATA / "realtimeqa-dev"
SEED_QUESTION = "What did Xi say about multilateral governance?"
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def cpu_model() -> str:
    """The CPU's model name, from lscpu, else /proc/cpuinfo."""
    text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout if shutil.which("lscpu") else ""
    text += Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE | re.IGNORECASE)
    return found.group(1).strip() if found else "unknown"


def jsonl_lines(path: Path) -> list[str]:
    """The lines of a JSONL file that hold something."""
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def percentile(values: list[float], share: float) -> float | None:
    """The ``share`` quantile (nearest rank) of ``values``, in seconds; None when there are none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else None


@dataclass
class Soak:
    """What the clients did, shared between their threads, and every subprocess started."""

    deadline: float
    max_questions: int
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    asked: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    latency: dict[str, list[float]] = field(default_factory=lambda: {"page": [], "cli": []})
    citations: list[tuple[str, str | None]] = field(default_factory=list)  # (article id, url)

    def start(self, command: list[str], **options: Any) -> subprocess.Popen[bytes]:
        """Start ``command``, kept to be stopped in the end."""
        with self.lock:
            if self.stop.is_set():
                raise RuntimeError("the soak is stopping")
            process = subprocess.Popen(command, **options)
            self.processes.append(process)
            return process

    def stop_all(self) -> None:
        """Let no request start, and stop every subprocess: terminate, then kill."""
        self.stop.set()
        with self.lock:
            for process in self.processes:
                if process.poll() is None:
                    process.terminate()
            for process in self.processes:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def going(self, asked: int) -> bool:
        return not self.stop.is_set() and time.monotonic() < self.deadline and asked < self.max_questions

    def answered(self, kind: str, record: dict[str, Any], seconds: float) -> None:
        with self.lock:
            self.asked[kind] += 1
            (self.refusals if record["refused"] else self.answers)[kind] += 1
            self.latency[kind].append(seconds)
            self.citations += [(c["article_id"], c.get("url")) for c in record["citations"]]

    def error(self, kind: str, message: str) -> None:
        with self.lock:
            if kind != "ingest":
                self.asked[kind] += 1
            if not self.stop.is_set():  # (requests cut short by the stopping are not errors)
                self.errors[f"{kind}: {message.strip()}"] += 1


def last_line(output: bytes) -> str:
    """The last line of a process's output: where its error is."""
    return (output.decode(errors="replace").strip().splitlines() or ["(no message)"])[-1]


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    """Return once ``url`` answers; SystemExit when ``process`` ends or ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{log.stem} did not start: {last_line(log.read_bytes())}") from None
            time.sleep(0.5)


def page_client(soak: Soak, url: str, questions: list[str], seed: int) -> None:
    """Ask the page's ``/ask`` API until the deadline or ``max_questions``."""
    from gradio_client import Client

    rng, asked = random.Random(seed), 0
    try:
        client = Client(url, verbose=False)
    except Exception as exc:
        soak.error("page", f"connecting: {type(exc).__name__}: {exc}")
        return
    while soak.going(asked):
        asked += 1
        started = time.perf_counter()
        try:
            record = client.predict(rng.choice(questions), api_name="/ask")
            soak.answered("page", record, time.perf_counter() - started)
        except Exception as exc:
            soak.error("page", f"{type(exc).__name__}: {exc}")


def cli_client(soak: Soak, url: str, data_dir: Path, questions: list[str], seed: int) -> None:
    """Run ``citewire ask --json`` until the deadline or ``max_questions``."""
    rng, asked = random.Random(seed), 0
    while soak.going(asked):
        asked += 1
        command = [str(BIN / "citewire"), "ask", rng.choice(questions), "--json"]
        started = time.perf_counter()
        try:
            process = soak.start(
                [*command, "--chroma-url", url, "--data-dir", str(data_dir)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            out, err = process.communicate(timeout=600)
            if process.returncode != 0:
                soak.error("cli", f"exit {process.returncode}: {last_line(err)}")
                continue
            soak.answered("cli", json.loads(out), time.perf_counter() - started)
        except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
            soak.error("cli", f"{type(exc).__name__}: {exc}")


def soak_run(args: Any, soak: Soak, folder: Path) -> tuple[str, list[str], bool]:
    """Start the server, the page and the clients, keep an ingest running until the deadline;
    the server's url, each ingest's summary line and whether the last one was interrupted."""
    citewire, chroma_port, page_port = str(BIN / "citewire"), free_port(), free_port()
    url, page_url = f"http://{HOST}:{chroma_port}", f"http://{HOST}:{page_port}/"
    lines = jsonl_lines(RTQA / "articles.jsonl")
    batches = [lines[i : i + args.batch] for i in range(0, len(lines), args.batch)]
    questions = [json.loads(line)["question"] for line in jsonl_lines(RTQA / "questions.jsonl")]
    questions += [SEED_QUESTION] * max(1, len(questions) // 10)
    summaries: list[str] = []

    def logged(name: str, command: list[str], stdout: Any = None) -> subprocess.Popen[bytes]:
        with (folder / f"{name}.log").open("wb") as log:  # the process keeps its own copy
            return soak.start(command, stdout=stdout or log, stderr=log if stdout else subprocess.STDOUT)

    server = logged("chroma", [
        str(BIN / "chroma"), "run", "--host", HOST, "--port", str(chroma_port),
        "--path", str(folder / "server"),
    ])  # fmt: skip
    wait_for(f"{url}/api/v2/heartbeat", server, folder / "chroma.log", 60)

    def next_ingest() -> subprocess.Popen[bytes] | None:
        if not batches:
            return None
        n, slice_file = len(summaries), folder / f"slice-{len(summaries):03}.jsonl"
        slice_file.write_text("\n".join(batches.pop(0)) + "\n", encoding="utf-8")
        paths = [str(slice_file), *([str(DATA / "seed")] if n == 0 else [])]
        command = [citewire, "ingest", *paths, "--chroma-url", url, "--data-dir", str(folder / "ingest")]
        return logged(f"ingest-{n:03}", [*command, "--quiet"], stdout=subprocess.PIPE)

    def finished(process: subprocess.Popen[bytes]) -> None:
        summaries.append((process.stdout.read() if process.stdout else b"").decode(errors="replace").strip())
        if process.returncode != 0:
            log = folder / f"ingest-{len(summaries) - 1:03}.log"
            soak.error("ingest", f"exit {process.returncode}: {last_line(log.read_bytes())}")

    ingest = next_ingest()
    page = logged("page", [
        citewire, "chat", "--chroma-url", url, "--data-dir", str(folder / "page"), "--host", HOST,
        "--port", str(page_port),
    ])  # fmt: skip
    wait_for(page_url, page, folder / "page.log", 180)
    soak.deadline = time.monotonic() + args.seconds
    threads = [
        threading.Thread(target=page_client, args=(soak, page_url, questions, i), daemon=True)
        for i in range(args.page_clients)
    ]
    cli = (soak, url, folder / "cli", questions, args.page_clients)
    threads.append(threading.Thread(target=cli_client, args=cli, daemon=True))
    for thread in threads:
        thread.start()
    interrupted = False
    while ingest is not None:
        if ingest.poll() is not None:
            finished(ingest)
            ingest = next_ingest() if time.monotonic() < soak.deadline else None
        elif time.monotonic() > soak.deadline + args.grace:
            ingest.send_signal(signal.SIGINT)  # as Ctrl-C: the articles stored stay whole
            ingest.wait(timeout=60)
            finished(ingest)
            ingest, interrupted = None, True
        time.sleep(0.2)
    for thread in threads:
        thread.join()
    if page.poll() is not None:
        why = last_line((folder / "page.log").read_bytes())
        soak.error("page", f"the chat page exited with {page.returncode} during the soak: {why}")
    return url, summaries, interrupted


def check_store(url: str, folder: Path, soak: Soak) -> dict[str, Any]:
    """What the store holds at the end, against what the clients were told and the BM25 indexes."""
    import rag

    def library(data_dir: Path) -> rag.Library:
        return rag.open(settings=rag.Settings(chroma_url=url, data_dir=data_dir))

    fresh = library(folder / "check")
    stored = fresh.store.articles()
    urls = {a.id: a.url for a in stored}
    names = Counter(a.url or a.source_path or "" for a in stored)
    return {
        "articles_stored": len(stored),
        "citations": len(soak.citations),
        "citations_missing": sorted({i for i, u in soak.citations if i not in urls or urls[i] != u}),
        "chunks": {
            "chroma": fresh.store.count_chunks(),
            "article records": sum(a.chunks for a in stored),
            "BM25 of a fresh client": len(fresh.lexical),
            "BM25 of the ingests' data dir": len(library(folder / "ingest").lexical),
        },
        "stored_twice": sorted(name for name, n in names.items() if n > 1),
    }


def seconds(value: float | None) -> str:
    """A latency as printed."""
    return "-" if value is None else f"{value:.2f} s"


def main() -> int:
    options = parser(__doc__)
    options.add_argument("--seconds", type=float, default=120)
    options.add_argument("--page-clients", type=int, default=3)
    options.add_argument("--batch", type=int, default=20, help="articles per ingest")
    options.add_argument("--max-questions", type=int, default=500, help="per client")
    options.add_argument("--grace", type=float, default=300, help="seconds the last ingest may take")
    options.add_argument("--out", type=Path, help="write the report here as JSON")
    options.add_argument("--keep", action="store_true", help="keep the temporary folder (kept on errors)")
    args = options.parse_args()
    soak = Soak(deadline=float("inf"), max_questions=args.max_questions)
    folder = Path(tempfile.mkdtemp(prefix="citewire-soak-"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # killed: clean up as on Ctrl-C
    try:
        url, summaries, interrupted = soak_run(args, soak, folder)
        store = check_store(url, folder, soak)
    except KeyboardInterrupt:
        print("interrupted; every subprocess stopped", file=sys.stderr)
        return 130
    finally:
        soak.stop_all()
        if args.keep or soak.errors:
            print(f"logs and data kept in {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    latency = {k: {"p50": percentile(v, 0.5), "p95": percentile(v, 0.95)} for k, v in soak.latency.items()}
    ok = not (soak.errors or store["citations_missing"] or store["stored_twice"])
    report = {
        "cpu": cpu_model(),
        "command": "python bench/soak.py " + " ".join(sys.argv[1:]),
        **{k: dict(getattr(soak, k)) for k in ("asked", "answers", "refusals", "errors")},
        "latency": latency,
        "ingests": len(summaries),
        "ingest_interrupted": interrupted,
        "articles_added": sum(int(m.group(1)) for s in summaries for m in re.finditer(r"(\d+) added", s)),
        **store,
        "ok": ok and len(set(store["chunks"].values())) == 1,
    }
    print(f"CPU: {report['cpu']}; {args.seconds:.0f} s, {args.page_clients} page clients, 1 CLI client")
    for kind, times in latency.items():
        print(
            f"{kind}: {soak.asked[kind]} asked, {soak.answers[kind]} answers, {soak.refusals[kind]} "
            f"refusals; latency p50 {seconds(times['p50'])}, p95 {seconds(times['p95'])}"
        )
    last = " (the last interrupted)" if interrupted else ""
    print(f"ingest: {len(summaries)} runs{last}, {report['articles_added']} articles added, ", end="")
    print(f"{store['articles_stored']} stored")
    print(f"errors: {sum(soak.errors.values())}")
    for message, count in soak.errors.items():
        print(f"  {count} x {message}")
    missing = store["citations_missing"]
    print(f"citations: {store['citations']}, naming an article not stored: {len(missing)} {missing[:5]}")
    print("chunks: " + ", ".join(f"{name} {n}" for name, n in store["chunks"].items()))
    print(f"urls or paths stored as two articles: {len(store['stored_twice'])} {store['stored_twice'][:5]}")
    print(f"{'OK' if report['ok'] else 'FAILED'}; command: {report['command']}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
