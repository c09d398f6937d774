"""The chat page: Gradio Blocks over a ``rag.Library``.

Layout: the conversation and question box on the left, the sources of every answer on the
right; filters, and the library (upload, list, delete) below. The conversation lives in the
browser's local storage, so it survives a reload. The API endpoint ``/ask`` serves the same
record as ``rag`` (``answer``, ``refused``, ``citations``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import gradio as gr

from ingest import SUFFIXES, IngestReport, Problem, ingest_items, read_upload
from rag.conversation import Turn
from rag.errors import CitewireError, ConfigError
from rag.library import Library
from rag.query import Query, check_length, day
from rag.records import Answer, Article
from rag.text import first_of
from ui.render import (
    CSS,
    HEAD,
    answer_markdown,
    escape_markdown,
    filter_note,
    library_html,
    sources_html,
    upload_html,
)

UPLOAD_TYPES = list(SUFFIXES)
EMPTY_CHAT: dict[str, Any] = {"messages": [], "turns": [], "answers": []}
STREAM_PAUSE_S = 0.04


def chat_as_of(until: date | None) -> date:
    """The page's "today" for a question: the Until filter, else today's date."""
    return until or date.today()


def parse_day(value: str | None, field: str) -> date | None:
    """A date from a filter box; empty means no bound."""
    if not value or not value.strip():
        return None
    return day(value, field)


def _messages(chat: dict[str, Any]) -> list[dict[str, str]]:
    return [dict(m) for m in chat["messages"]]


def _shown(message: str) -> gr.Error:
    """An error shown on the page: bad input, or a failure its message explains. It is not
    printed as a traceback in the server's output (tracebacks are for bugs)."""
    return gr.Error(message, print_exception=False)


def _short_enough(question: str) -> None:
    """Refuse a question over ``MAX_QUESTION_CHARS``, as the HTTP API does."""
    try:
        check_length(question)
    except ConfigError as exc:
        raise _shown(str(exc)) from exc


class ChatPage:
    """The page's event handlers, bound to one library."""

    def __init__(self, library: Library, max_upload_bytes: int, upload_folder: Path | None = None) -> None:
        self.library = library
        self.max_upload_bytes = max_upload_bytes
        # Where Gradio keeps uploaded files (GRADIO_TEMP_DIR, else the system's temporary
        # folder): what lies there is removed once ingested; files elsewhere are never touched.
        self.upload_folder = (upload_folder or Path(gr.utils.get_upload_folder())).resolve()

    # -- chat -------------------------------------------------------------------------------

    def respond(
        self,
        question: str,
        chat: dict[str, Any] | None,
        since: str,
        until: str,
        sources: list[str] | None,
        top_k: float,
    ) -> Iterator[tuple[Any, ...]]:
        """Answer the next question, streaming the answer into the conversation."""
        chat = chat or EMPTY_CHAT
        question = (question or "").strip()
        if not question:
            gr.Warning("Type a question about the articles first.")
            yield _messages(chat), sources_html(chat["answers"]), chat, ""
            return
        try:
            check_length(question)
            bounds = parse_day(since, "Since"), parse_day(until, "Until")
        except CitewireError as exc:
            # A notice that stays until closed; the conversation stays in view and the question in
            # its box (an error raised here would cover both with error badges).
            gr.Warning(str(exc), duration=None)
            yield _messages(chat), gr.skip(), chat, question
            return
        messages = [*_messages(chat), {"role": "user", "content": escape_markdown(question)}]
        yield [*messages, {"role": "assistant", "content": "*Searching the articles…*"}], gr.skip(), chat, ""
        history = [Turn.from_dict(t) for t in chat["turns"]]
        index = len(chat["answers"])
        grown = 0  # answers as they grew: a language model's grows a checked sentence at a time
        latest: tuple[Answer, Turn] | None = None
        try:
            query = Query(
                question,
                top_k=int(top_k),
                since=bounds[0],
                until=bounds[1],  # a date range: like Since, it leaves out undated articles
                sources=tuple(sources) if sources else None,
                as_of=chat_as_of(bounds[1]),
            )
            for latest in self.library.reply_stream(query, history):
                grown += 1
                if latest[0].answerer != "extractive":  # a model's answer, grown by a checked sentence
                    growing = answer_markdown(latest[0].to_dict(), index) + " …"
                    yield [*messages, {"role": "assistant", "content": growing}], gr.skip(), chat, ""
        except CitewireError as exc:
            # Said in a notice that stays until closed; the conversation is as it was and the
            # question back in its box, to ask again once the fault is mended.
            gr.Warning(f"Could not answer: {exc}", duration=None)
            yield _messages(chat), gr.skip(), chat, question
            return
        assert latest is not None
        answer, turn = latest
        record = answer.to_dict()
        if grown == 1:  # an answer that came whole is shown a quote at a time
            for shown in range(1, len(answer.citations)):
                partial = answer_markdown(record, index, upto=shown) + " …"
                yield [*messages, {"role": "assistant", "content": partial}], gr.skip(), chat, ""
                time.sleep(STREAM_PAUSE_S)
        said = answer_markdown(record, index)
        note = filter_note(*bounds, sources) if answer.refused else ""
        messages.append({"role": "assistant", "content": f"{said} *{note}*" if note else said})
        updated = {
            "messages": messages,
            "turns": [*chat["turns"], turn.to_dict()],
            "answers": [*chat["answers"], record],
        }
        yield messages, sources_html(updated["answers"]), updated, ""

    def restore(self, chat: dict[str, Any] | None) -> tuple[Any, ...]:
        """Show the conversation kept in the browser after a reload."""
        chat = chat or EMPTY_CHAT
        return _messages(chat), sources_html(chat["answers"]), chat

    def keep(self, chat: dict[str, Any]) -> dict[str, Any]:
        """The conversation to store in the browser."""
        return chat

    def clear(self) -> tuple[Any, ...]:
        """Start a new conversation."""
        return [], sources_html([]), EMPTY_CHAT, EMPTY_CHAT

    # -- library ----------------------------------------------------------------------------

    def library_view(self) -> tuple[Any, ...]:
        """Counts and list of articles, choices for deleting and for the source filter; what
        went wrong, in the list's place, when the store cannot be read."""
        try:
            articles = self.library.sources()
        except CitewireError as exc:
            return upload_html(f"The library cannot be listed: {exc}", []), gr.skip(), gr.skip()
        choices = [(f"{a.title[:80]} ({a.id})", a.id) for a in articles]
        publishers = sorted({a.source for a in articles if a.source})
        return (
            library_html(articles),
            gr.update(choices=choices, value=None),
            gr.update(choices=publishers),
        )

    def upload(self, files: Sequence[str] | None, progress: gr.Progress | None = None) -> tuple[Any, ...]:
        """Ingest uploaded files; each file's problem is listed, the others go in."""
        progress = progress or gr.Progress()
        report = IngestReport()
        paths = [Path(f) for f in files or []]

        def items() -> Iterator[Article | Problem]:
            for i, path in enumerate(paths):
                # Gradio keeps uploads in its own temporary folder; the name is only displayed.
                name = path.name
                progress((i, len(paths)), desc=f"Adding {name}", unit="files")
                size = path.stat().st_size
                if size > self.max_upload_bytes:
                    limit = f"{self.max_upload_bytes / 1e6:.3g} MB"
                    yield Problem(
                        name, f"file is {size / 1e6:.3g} MB, over the {limit} upload limit; split it", True
                    )
                    continue
                yield from read_upload(path.read_bytes(), name)

        # One ingest for all files: stored hashes are read and the BM25 index rebuilt once.
        try:
            ingest_items(items(), self.library, report=report)
        except CitewireError as exc:  # the store or the model, not a file: nothing more goes in
            raise _shown(f"{exc} ({report.added + report.updated} articles were stored before this)") from exc
        finally:
            self.discard_uploads(paths)
        progress((len(paths), len(paths)), desc="Done", unit="files")
        # The files are named: a later upload Gradio refuses in the browser (a .pdf, too big)
        # never reaches here, and this line stays, so it must say which upload it is about.
        summary = (
            f"Uploaded {first_of([path.name for path in paths], 3)}. "
            f"Added {report.added}, updated {report.updated}, "
            f"already present {report.unchanged + report.duplicates}, "
            f"skipped {report.skipped}; {report.chunks} passage{'' if report.chunks == 1 else 's'} indexed."
        )
        return (upload_html(summary, report.problems), None, *self.library_view())

    def discard_uploads(self, paths: Sequence[Path]) -> None:
        """Remove uploaded files from Gradio's folder (and the folder Gradio made for each, once
        empty): the library holds their articles now, and a failed upload is uploaded again."""
        for path in paths:
            folder = path.resolve().parent
            if not folder.is_relative_to(self.upload_folder):
                continue
            path.unlink(missing_ok=True)
            if folder != self.upload_folder:
                with contextlib.suppress(OSError):  # another file is still there
                    folder.rmdir()

    def delete(self, article_id: str | None) -> tuple[Any, ...]:
        """Remove the chosen article."""
        if not article_id:  # said in the panel's status line, not raised over the panel
            return (upload_html("Choose an article to delete first.", []), *self.library_view())
        try:
            title = next((a.title for a in self.library.sources() if a.id == article_id), article_id)
            removed = self.library.forget(article_id)
        except CitewireError as exc:
            raise _shown(str(exc)) from exc
        note = f"Deleted {title}." if removed else f"No article {article_id} (already deleted?)."
        return (upload_html(note, []), *self.library_view())

    # -- API --------------------------------------------------------------------------------

    def ask_api(
        self, question: str, top_k: int | None = 5, since: str | None = "", until: str | None = ""
    ) -> dict[str, Any]:
        """Answer ``question``: the same record as ``rag.ask`` (answer, refused, citations), as of
        ``until`` (else today), as the chat does."""
        if not isinstance(question, str):
            raise _shown(f"question must be text. Currently, it is {question!r}")
        _short_enough(question)
        try:
            k = None if top_k is None or top_k == "" else int(top_k)
        except (TypeError, ValueError):
            raise _shown(f"top_k must be a whole number. Currently, it is {top_k!r}") from None
        try:
            last = parse_day(until, "until")
            first = parse_day(since, "since")
            query = Query(question, top_k=k, since=first, until=last, as_of=chat_as_of(last))
            answer = self.library.ask(query)
        except CitewireError as exc:
            raise _shown(str(exc)) from exc
        return answer.to_dict()


def build_app(library: Library, max_upload_mb: int = 10) -> gr.Blocks:
    """The chat page for ``library``. Serve it with ``launch`` below."""
    page = ChatPage(library, max_upload_mb * 1_000_000)
    with gr.Blocks(title="Citewire") as app:
        # The conversation: ``chat`` for this page's events, ``saved`` in the browser's storage.
        # Streaming events do not write browser storage, so each answer is copied there after.
        saved = gr.BrowserState(EMPTY_CHAT, storage_key="citewire-conversation")
        chat_state = gr.State(EMPTY_CHAT)
        gr.Markdown(
            "## Citewire\nAsk about the news articles in your library; every claim cites its passage."
        )
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    elem_id="chat",
                    label="Conversation",
                    height=460,
                    latex_delimiters=[],
                    sanitize_html=True,
                    feedback_options=None,
                    placeholder="Ask a question about the articles.",
                )
                with gr.Row():
                    question = gr.Textbox(
                        elem_id="question",
                        show_label=False,
                        placeholder="What did Xi say about multilateral governance?",
                        scale=5,
                        submit_btn=False,
                    )
                    ask = gr.Button("Ask", elem_id="ask", variant="primary", scale=1)
                new_chat = gr.Button("New conversation", elem_id="new-chat", size="sm")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(sources_html([]), elem_id="sources", js_on_load=None)
        with gr.Accordion("Filters and settings (apply to the next question)", open=False):
            with gr.Row():
                since = gr.Textbox(label="Since (YYYY-MM-DD)", elem_id="since")
                until = gr.Textbox(label="Until (YYYY-MM-DD)", elem_id="until")
                source_filter = gr.Dropdown(
                    label="Sources", multiselect=True, choices=[], elem_id="source-filter"
                )
                top_k = gr.Slider(
                    1, 20, value=library.settings.top_k, step=1, label="Passages", elem_id="top-k"
                )
        with gr.Accordion("Library", open=False, elem_id="library-panel"):
            uploads = gr.File(
                label="Add articles (.txt, .md, .html, .jsonl)",
                file_count="multiple",
                file_types=UPLOAD_TYPES,
                elem_id="upload",
            )
            upload_status = gr.HTML(elem_id="upload-status", js_on_load=None)
            listing = gr.HTML(elem_id="library", js_on_load=None)
            with gr.Row():
                to_delete = gr.Dropdown(
                    label="Article to delete", choices=[], elem_id="delete-choice", scale=4
                )
                delete = gr.Button("Delete", elem_id="delete", variant="stop", scale=1)

        inputs = [question, chat_state, since, until, source_filter, top_k]
        outputs = [chatbot, sources, chat_state, question]
        for trigger in (ask.click, question.submit):
            trigger(page.respond, inputs, outputs, api_visibility="private").then(
                page.keep, chat_state, saved, api_visibility="private"
            )
        cleared = [chatbot, sources, chat_state, saved]
        new_chat.click(page.clear, None, cleared, api_visibility="private")
        chatbot.clear(page.clear, None, cleared, api_visibility="private")  # its own trash button
        uploads.upload(
            page.upload,
            uploads,
            [upload_status, uploads, listing, to_delete, source_filter],
            api_visibility="private",
        )
        delete.click(
            page.delete,
            to_delete,
            [upload_status, listing, to_delete, source_filter],
            api_visibility="private",
        )
        app.load(page.restore, saved, [chatbot, sources, chat_state], api_visibility="private")
        app.load(page.library_view, None, [listing, to_delete, source_filter], api_visibility="private")
        gr.api(page.ask_api, api_name="ask")
    return app


def launch(
    app: gr.Blocks,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: list[tuple[str, str]] | None = None,
    max_upload_mb: int = 10,
    block: bool = True,
) -> None:
    """Serve ``app``; ``block`` False returns at once (tests)."""
    app.queue(default_concurrency_limit=1)
    app.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        max_file_size=f"{max_upload_mb}mb",
        prevent_thread_lock=not block,
        quiet=True,
        footer_links=["api"],
        css=CSS,
        head=HEAD,
        theme=gr.themes.Default(),
    )
