"""The human side of a run: PNG plots and ``report.md``."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.metrics import normalize_url
from eval.runner import METRICS

# a refusal reason's figures (one, or a list of them), left out to group the reasons
_NUMBERS = re.compile(r"-?\d+(?:[.,]\d+)*(?:, -?\d+(?:[.,]\d+)*)*")
PROXY_NOTE = (
    "Citation recall and precision follow ALCE, but with a **proxy** judge instead of an NLI "
    "model (none ships offline here): a sentence counts as supported when at least 80% of its "
    "content words, and every number in it, occur in the cited passages. Extractive answers "
    "quote their passages, so they score 1.0 by construction; the proxy matters for generative "
    "answers."
)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_plots(out: Path, results: Sequence[dict[str, Any]], summary: dict[str, Any]) -> list[str]:
    """Metrics with intervals, latency distribution, accuracy by question source; returns file names."""
    plt = _pyplot()
    names = [n for n in METRICS if summary[n]["count"]]
    means = [summary[n]["mean"] for n in names]
    lows = [summary[n]["mean"] - summary[n]["ci95"][0] for n in names]
    highs = [summary[n]["ci95"][1] - summary[n]["mean"] for n in names]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.bar(names, means, yerr=[lows, highs], capsize=4, color="#4c78a8")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("mean (95% bootstrap interval)")
    ax.set_title("Citewire metrics")
    ax.tick_params(axis="x", rotation=45)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    fig.tight_layout()
    fig.savefig(out / "metrics.png", dpi=110)
    plt.close(fig)

    latencies = [r["latency_ms"] for r in results]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(latencies, bins=30, color="#72b7b2")
    for q, style in ((50, "-"), (95, "--")):
        value = summary[f"latency_p{q}_ms"]["mean"]
        if value is not None:
            ax.axvline(value, color="black", linestyle=style, label=f"p{q} = {value:.1f} ms")
    ax.set_title("Latency: search, answer and choice, per question")
    ax.set_xlabel("latency per question (ms)")
    ax.set_ylabel("questions")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=110)
    plt.close(fig)

    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        groups[r["source"] or "unknown"].append(r)
    sources = sorted(groups)
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(sources) + 3), 4.5))
    width = 0.4
    for offset, metric, color in (
        (-width / 2, "mc_accuracy", "#4c78a8"),
        (width / 2, "contains_gold", "#f58518"),
    ):
        values = []
        for s in sources:
            scored = [r["metrics"][metric] for r in groups[s] if r["metrics"][metric] is not None]
            values.append(sum(scored) / len(scored) if scored else 0.0)
        ax.bar([i + offset for i in range(len(sources))], values, width, label=metric, color=color)
    ax.set_xticks(range(len(sources)), [f"{s}\n(n={len(groups[s])})" for s in sources], fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy by question source")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "by_source.png", dpi=110)
    plt.close(fig)
    names = ["metrics.png", "latency.png", "by_source.png"]
    curve = risk_coverage(results)
    if curve:
        names.append(write_risk_coverage(out, curve, results))
    return names


def risk_coverage(results: Sequence[dict[str, Any]]) -> list[tuple[float, float]]:
    """(share of questions answered, contains-gold among them) as the answerer would have
    answered, most confident first: answers are ordered by ``confidence`` and scored as they
    would be without refusal (``unrefused_contains_gold``). Empty when the run has neither
    (a language model's run, or one made before answers carried them)."""
    scored = [
        (r["confidence"], r["unrefused_contains_gold"] or 0.0)
        for r in results
        if r.get("confidence") is not None and "unrefused_contains_gold" in r
    ]
    if not scored or all(r.get("unrefused_contains_gold") is None for r in results):
        return []
    scored.sort(key=lambda pair: -pair[0])
    curve, right = [], 0.0
    for answered, (_, holds) in enumerate(scored, start=1):
        right += holds
        curve.append((answered / len(results), right / answered))
    return curve


def write_risk_coverage(
    out: Path, curve: list[tuple[float, float]], results: Sequence[dict[str, Any]]
) -> str:
    """The risk-coverage plot, with the run's own refusal threshold marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot([c for c, _ in curve], [a for _, a in curve], color="#4c78a8", label="most confident first")
    answered = [r for r in results if not r["refused"]]
    if answered:
        share = len(answered) / len(results)
        accuracy = sum(r["metrics"]["contains_gold"] or 0.0 for r in answered) / len(answered)
        ax.plot(
            [share],
            [accuracy],
            "o",
            color="#e45756",
            label=f"this run: {share:.0%} answered, {accuracy:.0%} right",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("share of questions answered (coverage)")
    ax.set_ylabel("answer contains gold, among those answered")
    ax.set_title("Risk-coverage: what each refusal threshold would give")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "risk_coverage.png", dpi=110)
    plt.close(fig)
    return "risk_coverage.png"


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def worst_questions(results: Sequence[dict[str, Any]], n: int = 10) -> list[dict[str, Any]]:
    """The questions that went worst: wrong choice, gold answer missing, gold article not found."""

    def badness(r: dict[str, Any]) -> tuple[float, ...]:
        metric = r["metrics"]
        return (
            -(1 - (metric["mc_accuracy"] if metric["mc_accuracy"] is not None else 1)),
            -(1 - (metric["contains_gold"] or 0)),
            -(1 - (metric["hit@10"] if metric["hit@10"] is not None else 1)),
            metric["f1"] or 0,
        )

    flawed = [r for r in results if min(badness(r)[:3]) < 0]  # a right run has none to show
    return sorted(flawed, key=badness)[:n]


def group_table(results: Sequence[dict[str, Any]]) -> list[str]:
    """The answer metrics apart for questions with gold article urls and without: the first
    group's evidence is known to be in the corpus, the second's may not be."""
    groups = {
        "with gold urls": [r for r in results if r["gold_urls"]],
        "without gold urls": [r for r in results if not r["gold_urls"]],
    }
    names = ("mc_accuracy", "contains_gold", "passages_hold_gold", "refused")
    lines = ["| questions | count | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for label, group in groups.items():
        if not group:
            continue
        means = []
        for name in names:
            values = [r["metrics"][name] for r in group if r["metrics"].get(name) is not None]
            means.append(_fmt(sum(values) / len(values)) if values else "n/a")
        lines.append(f"| {label} | {len(group)} | " + " | ".join(means) + " |")
    return [*lines, ""]


def choice_line(results: Sequence[dict[str, Any]]) -> list[str]:
    """Multiple choice apart for choices a sentence of the passages grounds and the others,
    which are guesses among the options."""
    lines = []
    for grounded, what in ((True, "grounded in a sentence of the passages"), (False, "not grounded")):
        group = [r for r in results if r["choice"] and r["choice"]["grounded"] is grounded]
        if group:
            right = sum(r["metrics"]["mc_accuracy"] or 0 for r in group) / len(group)
            lines.append(f"{len(group)} choices {what}, {right:.3f} of them right")
    return ["Multiple choice: " + "; ".join(lines) + ".", ""] if lines else []


def shared_wording(reasons: Sequence[str]) -> str:
    """The wording reasons of one form share: a number they all give (a threshold) kept, the
    others shown as "…" ("best passage score … is below 0.45")."""
    columns = list(zip(*(_NUMBERS.findall(r) for r in reasons), strict=True))
    shown = [column[0] if len(set(column)) == 1 else "…" for column in columns]
    parts = _NUMBERS.split(reasons[0])
    return "".join(part + (shown[i] if i < len(shown) else "") for i, part in enumerate(parts))


def refusal_table(results: Sequence[dict[str, Any]]) -> list[str]:
    """The refused questions by why they were refused (numbers in the reason left out), each with
    how many had a gold answer in their passages and how many answers would have held one had
    nothing been refused: whether a refusal test turns away answers or only what cannot be."""
    groups: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        if r["refused"]:
            groups[_NUMBERS.sub("N", r.get("refusal_reason") or "not given")].append(r)
    if not groups:
        return []
    lines = [
        "| refused because | questions | passages hold gold | answer would hold gold |",
        "|---|---|---|---|",
    ]
    for group in sorted(groups.values(), key=len, reverse=True):
        why = shared_wording([r.get("refusal_reason") or "not given" for r in group])
        held = sum(r["metrics"].get("passages_hold_gold") or 0 for r in group)
        bold = [r["unrefused_contains_gold"] for r in group if r.get("unrefused_contains_gold") is not None]
        would = f"{sum(bold):g}" if bold else "n/a"
        lines.append(f"| {why} | {len(group)} | {held:g} | {would} |")
    return [*lines, ""]


def _ingest_warnings(ingest: dict[str, Any]) -> str:
    """What makes the run's corpus other than its articles file: inputs skipped (named on
    stderr), articles of another corpus in the same index."""
    said = ""
    if ingest.get("skipped"):
        said += f" (**{ingest['skipped']} article inputs skipped**, named on stderr)"
    if ingest.get("other_articles"):
        said += (
            f" (**the index also holds {ingest['other_articles']} articles not in this suite**, searched too)"
        )
    return said


def write_report(
    out: Path, results: Sequence[dict[str, Any]], summary: dict[str, Any], plots: Sequence[str]
) -> None:
    """``report.md``: the summary table, the worst questions and the plots."""
    run, metrics = summary["run"], summary["metrics"]
    lines = [
        "# Citewire evaluation report",
        "",
        f"- articles: `{run['articles']}`; questions: `{run['questions']}` "
        f"({run['questions_asked']} asked, {run['questions_skipped']} skipped as invalid)",
        f"- as of: {run['as_of']}; passages per answer: {run['top_k']}",
        f"- ingest: {run['ingest']['articles']} articles, {run['ingest']['chunks_added']} chunks added "
        f"in {run['ingest']['seconds']} s{_ingest_warnings(run['ingest'])}; answering took "
        f"{run['answering_seconds']} s",
        "",
        "| metric | mean | 95% interval | questions |",
        "|---|---|---|---|",
    ]
    for name, value in metrics.items():
        if name == "refused_gold_retrieved":
            continue
        ci = value["ci95"]
        interval = f"{_fmt(ci[0])} – {_fmt(ci[1])}" if ci else "n/a"
        lines.append(f"| {name} | {_fmt(value['mean'])} | {interval} | {value['count']} |")
    refused = metrics["refused_gold_retrieved"]
    lines += [
        "",
        f"Refused questions with a gold article among the top 10 retrieved: {refused['count']} "
        f"of {refused['of']} refused questions that name gold articles.",
        "",
        "Retrieval metrics count only questions with gold urls; `exact_match` and `f1` score the "
        "chosen option for multiple-choice questions and the answer text otherwise; "
        "`contains_gold` checks the answer text.",
        "",
        *group_table(results),
        "`passages_hold_gold`: a gold answer occurs in the passages the answer was drawn from, the "
        "most `contains_gold` can be with them.",
        "",
        *choice_line(results),
        *refusal_table(results),
        PROXY_NOTE,
        "",
        "## Worst questions",
        "",
        "At most ten, worst first: a wrong choice, then no gold answer in the answer, then no gold "
        "article among the first ten retrieved.",
        "",
        *worst_table(results),
    ]
    lines += ["", "## Plots", ""]
    lines += [f"![{name}]({name})" for name in plots]
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


NONE_WORSE = "None: every choice was right, every answer held a gold answer, every gold article was found."


def worst_table(results: Sequence[dict[str, Any]]) -> list[str]:
    """The worst questions' table (see ``worst_questions``), or a line saying there are none."""
    worst = worst_questions(results)
    if not worst:  # a table of none says nothing
        return [NONE_WORSE]
    lines = [
        "| id | question | gold | chose | gold article rank | answer (start) |",
        "|---|---|---|---|---|---|",
    ]
    for r in worst:
        gold_rank = "n/a"
        if r["gold_urls"]:
            wanted = {normalize_url(u) for u in r["gold_urls"]}
            ranks = [i for i, u in enumerate(r["retrieved_urls"], start=1) if u in wanted]
            gold_rank = str(ranks[0]) if ranks else "not in top 10"
        chose = r["choice"]["choice"] if r["choice"] else ""
        text = r["answer"][:100].replace("|", "\\|").replace("\n", " ")
        question = r["question"].replace("|", "\\|")
        lines.append(
            f"| {r['id']} | {question} | {'; '.join(r['answers'])} | {chose} | {gold_rank} | {text} |"
        )
    return lines
