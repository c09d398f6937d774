"""HTML and Markdown for the chat page, built from answer records (``Answer.to_dict()``).

Everything that came from an article (titles, quotes, passages, urls) is escaped here, so an
article holding ``<script>`` or ``<img onerror=...>`` shows those characters and runs nothing.
Only http(s) urls become links.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from ingest.readers import Problem
from rag.answer import REFUSAL
from rag.query import bounds_said
from rag.records import StoredArticle, is_web_address

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~$])")
# What the page's Markdown (GitHub's) links as written: a scheme, a host, then all up to a space.
_WEB_LINK = re.compile(r"https?://[A-Za-z0-9-][^\s<]*")
REFUSAL_LEAD = "Not in the articles."


def escape_markdown(text: str) -> str:
    """Text safe to put in a Markdown message: HTML escaped, Markdown syntax backslashed, except
    in a web address: the page's Markdown makes one a link as it is written, backslashes and all
    (``http://a.example)`` showed as a link to ``http://a.example\\``), and nothing in it is
    read as Markdown syntax."""
    kept = []
    at = 0
    for link in _WEB_LINK.finditer(text):
        kept.append(_MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text[at : link.start()], quote=False)))
        kept.append(html.escape(link.group(), quote=False))
        at = link.end()
    kept.append(_MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text[at:], quote=False)))
    return "".join(kept)


def filter_note(since: date | None, until: date | None, sources: Sequence[str] | None) -> str:
    """What a refusal under the page's filters adds: which articles were searched, and how to
    search them all; "" with no filter."""
    bounds = bounds_said(since, until, sources)
    return (
        escape_markdown(f"Only articles {bounds} were searched; clear the filters to search all.")
        if bounds
        else ""
    )


def anchor(turn: int, n: int) -> str:
    """The element id of citation ``n`` of conversation turn ``turn``."""
    return f"source-{turn}-{n}"


def answer_markdown(record: dict[str, Any], turn: int, upto: int | None = None) -> str:
    """The chat message for an answer: each quote followed by a link to its source card.

    ``upto`` renders only the first citations, for streaming.
    """
    if record["refused"]:
        return f"**{REFUSAL_LEAD}** {escape_markdown(REFUSAL)}"
    if record.get("answerer", "extractive") != "extractive" and not record.get("fallback"):
        # A model's sentences, each checked: the text as written, its markers linked.
        return "".join(
            f"[\\[{part[1:-1]}\\]](#{anchor(turn, int(part[1:-1]))})"
            if _MARKER.fullmatch(part)
            else escape_markdown(part)
            for part in _MARKER_SPLIT.split(record["answer"])
        )
    parts = [
        f"{escape_markdown(c['quote'])} [\\[{c['n']}\\]](#{anchor(turn, c['n'])})"
        for c in record["citations"][:upto]
    ]
    note = (
        "*The model's answer did not pass the citation check; quoted instead:* "
        if record.get("fallback")
        else ""
    )
    return note + " ".join(parts)


_MARKER = re.compile(r"\[\d+\]")
_MARKER_SPLIT = re.compile(r"(\[\d+\])")


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an http(s) link, else None (no ``javascript:`` links from articles)."""
    return url if url and is_web_address(url) else None


def _highlighted(passage: str, quotes: Sequence[tuple[str, str | None, int | None]]) -> str:
    """``passage`` escaped, each quote of ``quotes`` (quote, anchor id or None, its number to
    show before it or None) marked."""
    found: list[tuple[int, str, str | None, int | None]] = []
    for quote, mark_id, number in quotes:
        at = passage.find(quote)
        while at != -1 and any(at == other[0] for other in found):  # the same words twice
            at = passage.find(quote, at + 1)
        if at != -1:
            found.append((at, quote, mark_id, number))
    found.sort(key=lambda place: place[0])
    parts, done = [], 0
    for at, quote, mark_id, number in found:
        if at < done:  # overlaps one marked already
            continue
        id_attr = f' id="{mark_id}"' if mark_id else ""
        parts += [
            html.escape(passage[done:at]),
            f'<sup class="cw-qn">[{number}]</sup>' if number else "",
            f'<mark class="cw-quote"{id_attr}>{html.escape(quote)}</mark>',
        ]
        done = at + len(quote)
    return "".join(parts) + html.escape(passage[done:])


def source_card(citations: Sequence[dict[str, Any]], turn: int) -> str:
    """One source card: title, publisher, date, link, and the passage with its quotes marked.

    ``citations`` all quote the same passage: one card shows it once, with every quote marked;
    the card carries the first one's anchor and each other quote its own."""
    first = citations[0]
    title = html.escape(first["title"] or "(untitled)")
    meta = [
        html.escape(first.get("source") or "unknown source"),
        html.escape(first["published"] or "undated"),
    ]
    url = safe_url(first.get("url"))
    if url:
        meta.append(
            f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer">open article</a>'
        )
    elif first.get("source_path"):
        meta.append(html.escape(first["source_path"]))
    numbers = " ".join(f'<span class="cw-n">[{c["n"]}]</span>' for c in citations)
    # A card of several quotes numbers each highlight, to tell which is quote [2].
    numbered = len(citations) > 1
    quotes = [
        (c["quote"], None if c is first else anchor(turn, c["n"]), c["n"] if numbered else None)
        for c in citations
    ]
    return (
        f'<details class="cw-card" id="{anchor(turn, first["n"])}">'
        f"<summary>{numbers} {title}</summary>"
        f'<div class="cw-meta">{" · ".join(meta)}</div>'
        f'<p class="cw-passage">{_highlighted(first["passage"], quotes)}</p>'
        "</details>"
    )


def by_passage(citations: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """``citations`` grouped by the passage they quote, in the order of each one's first."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for c in citations:
        groups.setdefault((c["article_id"], c["passage"]), []).append(c)
    return list(groups.values())


def sources_html(records: Sequence[dict[str, Any]]) -> str:
    """The sources panel: every turn's cards, newest turn first and open, older ones folded."""
    if not records:
        return '<div class="cw-sources"><p class="cw-empty">Sources of answers appear here.</p></div>'
    groups = []
    for turn in range(len(records) - 1, -1, -1):
        record = records[turn]
        question = html.escape(record["question"])
        if record["refused"]:
            body = '<p class="cw-refusal">No sources: the articles do not answer this question.</p>'
        else:
            body = "".join(source_card(group, turn) for group in by_passage(record["citations"]))
        is_open = " open" if turn == len(records) - 1 else ""
        summary = f"<summary>Q{turn + 1}: {question}</summary>"
        groups.append(f'<details class="cw-turn" data-turn="{turn}"{is_open}>{summary}{body}</details>')
    return '<div class="cw-sources">' + "".join(groups) + "</div>"


def library_html(articles: Sequence[StoredArticle]) -> str:
    """Counts and a table of the stored articles."""
    chunks = sum(a.chunks for a in articles)
    rows = "".join(
        "<tr>"
        # The id sits under the title, not in a column of its own: a narrow window would scroll
        # sideways to reach that column.
        f'<td>{html.escape(a.title)}<br><code class="cw-id">{html.escape(a.id)}</code></td>'
        f"<td>{html.escape(a.source or '')}</td>"
        f"<td>{a.published.isoformat() if a.published else ''}</td><td>{a.chunks}</td>"
        "</tr>"
        for a in articles
    )
    return (
        f'<div class="cw-library"><p class="cw-counts">{len(articles)} articles, {chunks} passages</p>'
        "<table><thead><tr><th>title and id</th><th>source</th><th>published</th><th>passages</th></tr>"
        f"</thead><tbody>{rows}</tbody></table></div>"
    )


def upload_html(summary: str, problems: Sequence[Problem]) -> str:
    """The result of an upload: one line, then each file's problem in plain words."""
    items = "".join(
        f'<li class="{"cw-skipped" if p.skipped else "cw-warning"}">{html.escape(str(p))}</li>'
        for p in problems
    )
    listing = f"<ul>{items}</ul>" if items else ""
    return f'<div class="cw-upload"><p>{html.escape(summary)}</p>{listing}</div>'


CSS = """
.cw-sources details.cw-turn { margin-bottom: .6em; }
.cw-sources summary { cursor: pointer; font-weight: 600; }
.cw-card { border: 1px solid #d0d7de; border-radius: 6px; padding: .4em .6em; margin: .4em 0; }
.cw-card.cw-focus { border-color: #0969da; box-shadow: 0 0 0 2px #0969da33; }
.cw-meta { color: #57606a; font-size: .85em; margin: .3em 0; }
.cw-passage { white-space: pre-wrap; font-size: .9em; }
.cw-quote { background: #fff3b0; padding: 0 .1em; }
.cw-qn { color: #57606a; font-size: .75em; margin-right: .1em; }
.cw-refusal { color: #8a4b00; font-style: italic; }
.cw-library table { font-size: .85em; width: 100%; }
.cw-library th, .cw-library td { padding: .25em .4em; }
.cw-library code.cw-id { color: #57606a; font-size: .85em; word-break: break-all; }
.cw-skipped { color: #b42318; }
.cw-warning { color: #8a4b00; }
"""

# Clicking [n] in an answer opens the source card of quote n (and its turn) in the sources panel.
HEAD = """
<script>
(() => {
  let pending = null;
  const openPending = () => {
    if (!pending) return;
    const target = document.getElementById(pending);  // a card, or a quote marked in one
    if (!target) return;
    for (let node = target; node; node = node.parentElement) {
      if (node.tagName === "DETAILS") node.open = true;
    }
    document.querySelectorAll(".cw-card.cw-focus").forEach((c) => c.classList.remove("cw-focus"));
    target.closest(".cw-card").classList.add("cw-focus");
    target.scrollIntoView({ block: "nearest" });
    pending = null;
  };
  document.addEventListener("click", (event) => {
    const link = event.target.closest ? event.target.closest('a[href*="#source-"]') : null;
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    pending = link.getAttribute("href").split("#").pop();
    openPending();
  }, true);
  new MutationObserver(openPending).observe(document.documentElement, { childList: true, subtree: true });
})();
</script>
"""
