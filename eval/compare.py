"""``citewire eval compare RUN_A RUN_B``: each metric's change with its interval, and flips."""

from __future__ import annotations

from pathlib import Path
from statistics import median
from typing import Any

from eval import metrics as m
from eval.runner import METRICS, read_run
from rag.errors import ConfigError

FLIP_METRICS = ("mc_accuracy", "contains_gold", "passages_hold_gold", "hit@5", "refused")


def compare_runs(a: Path, b: Path) -> dict[str, Any]:
    """Per-metric mean of A and B, mean difference (B - A) with a paired 95% interval over the
    questions both runs scored, and the questions whose binary metrics flipped."""
    results_a, summary_a = read_run(a)
    results_b, summary_b = read_run(b)
    by_id_a = {r["id"]: r for r in results_a}
    by_id_b = {r["id"]: r for r in results_b}
    shared = [qid for qid in by_id_a if qid in by_id_b]
    for folder, results in ((a, results_a), (b, results_b)):
        if not results:
            raise ConfigError(
                f"{folder / 'results.jsonl'} holds no result; run `citewire eval ... --out {folder}` again"
            )
    if not shared:
        raise ConfigError(
            f"{a} and {b} share no question id: they are runs of different suites, so there is "
            "nothing to compare question by question"
        )
    # The same id asking something else (suites numbered alike) is no pair: left out, and named.
    common = [qid for qid in shared if by_id_a[qid]["question"] == by_id_b[qid]["question"]]
    unlike = [qid for qid in shared if qid not in common]
    rows = []
    for name in (*METRICS, "latency_ms"):
        pairs = []
        for qid in common:
            va = by_id_a[qid]["latency_ms"] if name == "latency_ms" else by_id_a[qid]["metrics"].get(name)
            vb = by_id_b[qid]["latency_ms"] if name == "latency_ms" else by_id_b[qid]["metrics"].get(name)
            if va is not None and vb is not None:
                pairs.append((float(va), float(vb)))
        if not pairs:
            continue
        xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
        low, high = m.paired_bootstrap_ci(xs, ys)
        rows.append(
            {
                "metric": name,
                "a": sum(xs) / len(xs),
                "b": sum(ys) / len(ys),
                "diff": sum(ys) / len(ys) - sum(xs) / len(xs),
                "ci95": [low, high],
                "count": len(pairs),
            }
        )
    flips = []
    for qid in common:
        for name in FLIP_METRICS:
            va, vb = by_id_a[qid]["metrics"].get(name), by_id_b[qid]["metrics"].get(name)
            if va is not None and vb is not None and va != vb:
                flips.append(
                    {"id": qid, "metric": name, "a": va, "b": vb, "question": by_id_a[qid]["question"]}
                )
    latency = [[by_id[q]["latency_ms"] for q in common] for by_id in (by_id_a, by_id_b)]
    return {
        "a": str(a),
        "b": str(b),
        "latency_p50_ms": [median(ms) if ms else None for ms in latency],  # as the reports give it
        "common_questions": len(common),
        "only_a": len(by_id_a) - len(shared),
        "only_b": len(by_id_b) - len(shared),
        "other_question": unlike,
        "settings": _settings_that_differ(summary_a.get("run", {}), summary_b.get("run", {})),
        "metrics": rows,
        "flips": flips,
    }


_SETTINGS = ("articles", "questions", "as_of", "top_k", "limit", "reader")


def _settings_that_differ(run_a: dict[str, Any], run_b: dict[str, Any]) -> dict[str, list[Any]]:
    """The run settings (of each summary's ``run``) that the two runs were made with differently."""
    return {k: [run_a.get(k), run_b.get(k)] for k in _SETTINGS if run_a.get(k) != run_b.get(k)}


def format_comparison(report: dict[str, Any]) -> str:
    """The comparison as a terminal table."""
    lines = [
        f"A = {report['a']}   B = {report['b']}   questions in both: {report['common_questions']}"
        f" (only A: {report['only_a']}, only B: {report['only_b']})",
    ]
    unlike = report.get("other_question", [])
    if unlike:
        shown = ", ".join(unlike[:5]) + (f" and {len(unlike) - 5} more" if len(unlike) > 5 else "")
        lines.append(f"left out, the same id asking another question in each run: {shown}")
    for name, (in_a, in_b) in report.get("settings", {}).items():
        lines.append(f"run with other settings: {name} {in_a} in A, {in_b} in B")
    lines += [
        "",
        f"{'metric':20} {'A':>10} {'B':>10} {'B - A':>10}   95% interval of B - A",
    ]
    for row in report["metrics"]:
        low, high = row["ci95"]
        figures = f"{row['a']:10.4f} {row['b']:10.4f} {row['diff']:+10.4f}"
        name = "latency_ms (mean)" if row["metric"] == "latency_ms" else row["metric"]
        lines.append(f"{name:20} {figures}   [{low:+.4f}, {high:+.4f}]")
    p50_a, p50_b = report.get("latency_p50_ms", (None, None))
    if p50_a is not None and p50_b is not None:
        lines.append(f"{'latency_ms (p50)':20} {p50_a:10.4f} {p50_b:10.4f} {p50_b - p50_a:+10.4f}")
    changed = [r for r in report["metrics"] if r["metric"] != "latency_ms" and r["diff"] != 0]
    lines.append("")
    lines.append(f"metrics that differ (latency aside): {len(changed)}")
    lines.append(f"questions that flipped: {len({f['id'] for f in report['flips']})}")
    for flip in report["flips"]:
        lines.append(f"  {flip['id']} {flip['metric']}: {flip['a']:g} -> {flip['b']:g}  {flip['question']}")
    return "\n".join(lines)
