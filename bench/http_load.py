"""HTTP API load test: many clients asking at once, on loopback, for a bounded time.

    python bench/http_load.py --data-dir DIR [--clients 50] [--seconds 60] [--questions-limit 100]

DIR must already hold the questions' corpus (the realtimeqa-dev index `citewire eval` built, shown
on its last line). The script starts `citewire serve --no-page` on a free loopback port in a
process of its own, asks each question once, one at a time (the reference answers and the
sequential latency), then runs ``--clients`` clients at once for ``--seconds``, each asking the
questions in its own order (``POST /v1/ask`` with the question's date as ``as_of``). Every answer
under load must equal the sequential answer to the same question: a mismatch would mean answers
mixed between clients. Prints errors, mismatches, latency p50/p95 and throughput, with the CPU.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from common import DATA, ROOT, parser
from soak import cpu_model


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> None:
    options = parser(__doc__)
    options.add_argument("--data-dir", type=Path, required=True)
    options.add_argument("--questions", type=Path, default=DATA / "realtimeqa-dev" / "questions.jsonl")
    options.add_argument("--questions-limit", type=int, default=100, help="ask the first N questions")
    options.add_argument("--clients", type=int, default=50)
    options.add_argument("--seconds", type=float, default=60.0)
    args = options.parse_args()

    lines = args.questions.read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line) for line in lines if line.strip()][: args.questions_limit]
    bodies = [{"question": q["question"], "as_of": q.get("date") or None} for q in questions]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkstemp(prefix="citewire-serve-", suffix=".log")[1])
    command = [sys.executable, "-m", "ui.cli", "serve", "--no-page", "--port", str(port)]
    command += ["--data-dir", str(args.data_dir)]
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ)
        )
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start:\n{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.5)
        report = run(url, bodies, args.clients, args.seconds)
    finally:
        server.terminate()
        server.wait(30)
    print(f"CPU: {cpu_model()}; {os.cpu_count()} cores; server: citewire serve --no-page (one process)")
    for name, value in report.items():
        print(f"{name}: {value}")


def run(url: str, bodies: list[dict[str, Any]], clients: int, seconds: float) -> dict[str, Any]:
    """The sequential pass, then the concurrent one; their figures."""
    reference: list[dict[str, Any]] = []
    sequential: list[float] = []
    with httpx.Client(base_url=url, timeout=120) as client:
        client.post("/v1/ask", json=bodies[0])  # warm-up
        for body in bodies:
            started = time.perf_counter()
            response = client.post("/v1/ask", json=body)
            sequential.append(time.perf_counter() - started)
            response.raise_for_status()
            reference.append(response.json())

    latencies: list[float] = []
    errors: list[str] = []
    mismatches: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client_loop(number: int) -> None:
        at = number * 7 % len(bodies)  # each client its own order
        with httpx.Client(base_url=url, timeout=300) as client:
            while time.monotonic() < stop_at:
                body = bodies[at]
                started = time.perf_counter()
                try:
                    response = client.post("/v1/ask", json=body)
                    took = time.perf_counter() - started
                    ok = response.status_code == 200
                    same = ok and response.json() == reference[at]
                except httpx.HTTPError as exc:
                    took, ok, same, response = time.perf_counter() - started, False, False, None
                    problem = f"{type(exc).__name__}: {exc}"
                with lock:
                    latencies.append(took)
                    if not ok:
                        errors.append(problem if response is None else f"HTTP {response.status_code}")
                    elif not same:
                        mismatches.append(body["question"])
                at = (at + 1) % len(bodies)

    began = time.perf_counter()
    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    ratio = statistics.median(latencies) / statistics.median(sequential)
    return {
        "questions": len(bodies),
        "sequential answers": len(reference),
        "sequential latency p50 / p95 (ms)": f"{1000 * percentile(sequential, 0.5):.0f} / "
        f"{1000 * percentile(sequential, 0.95):.0f}",
        "sequential throughput (answers/s)": f"{len(sequential) / sum(sequential):.2f}",
        "clients": clients,
        "seconds (until the last answer)": f"{elapsed:.1f}",
        "answers under load": len(latencies),
        "errors": f"{len(errors)}" + (f" (first: {errors[0]})" if errors else ""),
        "answers unlike the sequential ones": f"{len(mismatches)}"
        + (f" (first: {mismatches[0]!r})" if mismatches else ""),
        "latency under load p50 / p95 (ms)": f"{1000 * percentile(latencies, 0.5):.0f} / "
        f"{1000 * percentile(latencies, 0.95):.0f}",
        "throughput under load (answers/s)": f"{len(latencies) / elapsed:.2f}",
        "median latency ratio, load / sequential": f"{ratio:.1f}",
    }


if __name__ == "__main__":
    main()
