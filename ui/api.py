"""Citewire's HTTP API: one ASGI app for integrators, served by ``citewire serve``.

    POST /v1/ask        the answer record ``citewire ask --json`` prints (plus ``turn``, to send
                        back in ``conversation`` for a follow-up)
    POST /v1/search     the passages found, with their scores
    POST /v1/choose     the option the passages support
    GET/POST /v1/articles, DELETE /v1/articles/{id}
    GET /v1/models, POST /v1/chat/completions   OpenAI-compatible (see ``ui.openai_chat``)
    GET /healthz, GET /docs (OpenAPI, served from the package: no CDN), and the chat page at /

Every ``/v1`` route wants ``Authorization: Bearer KEY`` when the server has a key (always, off
loopback). Errors come as ``{"error": {"message", "type", "param", "code"}}``, the shape OpenAI
clients read: 401 without the key, 413 over a size limit, 422 for a malformed request (naming the
field), 503 when the store cannot be reached, 502 when the language model fails.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException

from ingest import IngestReport, Problem, ingest_items, read_upload
from rag.conversation import Turn
from rag.errors import ConfigError, StoreError
from rag.library import Library
from rag.query import MAX_QUESTION_CHARS, Query, bounds_said, day
from rag.records import Article, Hit
from ui.api_errors import answer_errors, answer_unknown_paths
from ui.limits import BodyLimit

MAX_BODY_BYTES = 1_000_000  # a JSON request: a question with a long conversation fits many times


@dataclass(frozen=True)
class ApiOptions:
    """How the API is served: its key (None: open), upload limit, CORS origins, and whether the
    chat page is mounted at ``/`` (with its own login)."""

    api_key: str | None = None
    max_upload_bytes: int = 10_000_000
    cors_origins: tuple[str, ...] = ()
    page: bool = True
    page_auth: list[tuple[str, str]] | None = None


def _a_day(value: Any) -> Any:
    """A day written as the command line takes it (2015-12-16, 20151216); a number is refused,
    since JSON's would be read as seconds since 1970."""
    if isinstance(value, str):
        try:
            return day(value, "the date")
        except ConfigError:
            raise ValueError(f"{value!r} is not a day like 2015-12-16") from None
    if value is None or isinstance(value, date):
        return value
    raise ValueError(f"{value!r} is not a day like 2015-12-16 (a string)")


def _today_or_a_day(value: Any) -> Any:
    return date.today() if isinstance(value, str) and value.strip().lower() == "today" else _a_day(value)


Day = Annotated[date | None, BeforeValidator(_a_day)]
Today = Annotated[date | None, BeforeValidator(_today_or_a_day)]


class QueryFields(BaseModel):
    """What a question is asked with (see ``rag.Query``)."""

    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="the question")
    # Strict: JSON's true would pass for 1.
    top_k: int | None = Field(None, ge=1, le=100, strict=True, description="passages to retrieve (default 5)")
    since: Day = Field(None, description="only articles published on or after this day")
    until: Day = Field(None, description="only articles published on or before this day")
    as_of: Today = Field(
        None,
        description="the reader's today ('today' for the server's): later articles are left out, "
        "the days before it rank higher",
    )
    sources: list[str] | None = Field(None, description="only articles from these sources")

    def query(self) -> Query:
        """The library's query (its own checks raise ``ConfigError`` naming the field)."""
        sources = tuple(self.sources) if self.sources else None
        return Query(self.question, self.top_k, self.since, self.until, sources, self.as_of)


class TurnFields(BaseModel):
    """An earlier turn of the conversation, as ``/v1/ask`` returned it in ``turn``."""

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    query: str | None = Field(None, max_length=3 * (MAX_QUESTION_CHARS + 1))  # three questions at most
    cited: list[tuple[str, int]] = []
    answer: str = ""


class AskRequest(QueryFields):
    conversation: list[TurnFields] = Field(
        [], max_length=50, description="earlier turns (each answer's `turn`), oldest first"
    )


class ChooseRequest(QueryFields):
    options: list[Annotated[str, Field(min_length=1)]] = Field(min_length=2, max_length=26)

    @field_validator("options")
    @classmethod
    def _distinct(cls, options: list[str]) -> list[str]:
        """Each option once, case and spaces aside: which of two copies is chosen means nothing.
        (The library takes repeats, as a quiz may have them: one 2023 question does.)"""
        seen: dict[str, str] = {}
        for option in options:
            key = " ".join(option.split()).casefold()
            if key in seen:
                raise ValueError(f"each option once: {option!r} repeats {seen[key]!r}")
            seen[key] = option
        return options


class Server:
    """The library behind the routes, and the turns of its latest answers. (A language model run
    in process writes one reply at a time on its own: ``rag.llm.InProcessModel``.)"""

    def __init__(self, library: Library, options: ApiOptions) -> None:
        self.library = library
        self.options = options
        self.turns = TurnMemory()


class TurnMemory:
    """The turns of the answers this server gave lately, by the text it gave: a chat client sends
    back only the text, and the turn holds what a follow-up needs (the sentences quoted)."""

    def __init__(self, size: int = 2000) -> None:
        self._turns: dict[str, Turn] = {}
        self._size = size
        self._lock = threading.Lock()

    def remember(self, text: str, turn: Turn) -> None:
        with self._lock:
            self._turns.pop(text, None)
            self._turns[text] = turn
            while len(self._turns) > self._size:
                del self._turns[next(iter(self._turns))]

    def recall(self, text: str) -> Turn | None:
        with self._lock:
            return self._turns.get(text)


def hit_record(hit: Hit) -> dict[str, Any]:
    """A search hit as JSON: its chunk, with where it sits in its article, and its score."""
    c = hit.chunk
    return {
        "score": round(hit.score, 6),
        "chunk_id": c.id,
        "article_id": c.article_id,
        "chunk_index": c.chunk_index,
        "title": c.title,
        "url": c.url,
        "source_path": c.source_path,
        "published": c.published.isoformat() if c.published else None,
        "source": c.source,
        "start": c.start,
        "end": c.end,
        "text": c.text,
    }


def _check_sources(library: Library, sources: Sequence[str] | None) -> None:
    """Raise ``ConfigError`` when ``sources`` name none of the stored ones (mistyped, or in other
    case): an empty search, or a choice on no evidence, would not say why. ``/v1/ask`` says it in
    its refusal."""
    note = library.unknown_sources_note(sources)
    if note:
        raise ConfigError(f"No stored article is {bounds_said(None, None, sources)}.{note}", "sources")


def build_api(library: Library, options: ApiOptions | None = None) -> FastAPI:
    """The API app for ``library`` (see the module's notes); serve it with uvicorn."""
    options = options or ApiOptions()
    server = Server(library, options)
    app = FastAPI(
        title="Citewire",
        summary="Answers from news articles, every claim cited to its passage.",
        docs_url=None,
        redoc_url=None,
    )

    def authorised(request: Request) -> None:
        if options.api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), options.api_key.encode()
        ):
            raise HTTPException(401, "a valid API key is needed: send it as `Authorization: Bearer KEY`")

    guard = [Depends(authorised)]
    answer_errors(app, authorised)

    @app.post("/v1/ask", dependencies=guard, tags=["answers"])
    def ask(body: AskRequest) -> dict[str, Any]:
        """Answer the question from the stored articles with numbered citations, or refuse."""
        history = [
            Turn(t.question, t.query or t.question, tuple((a, int(s)) for a, s in t.cited), t.answer)
            for t in body.conversation
        ]
        answer, turn = library.reply(body.query(), history)
        return {**answer.to_dict(), "turn": turn.to_dict()}

    @app.post("/v1/search", dependencies=guard, tags=["answers"])
    def search(body: QueryFields) -> dict[str, Any]:
        """The passages most relevant to the question, best first."""
        hits = library.search(body.query())
        if not hits:
            _check_sources(library, body.sources)
        return {"question": body.question, "hits": [hit_record(h) for h in hits]}

    @app.post("/v1/choose", dependencies=guard, tags=["answers"])
    def choose(body: ChooseRequest) -> dict[str, Any]:
        """Pick the option the retrieved passages support, with its citation."""
        choice = library.choose(body.query(), body.options)
        if not choice.grounded:
            _check_sources(library, body.sources)
        return choice.to_dict()

    @app.get("/v1/articles", dependencies=guard, tags=["articles"])
    def articles() -> dict[str, Any]:
        """Every stored article, sorted by title."""
        listed = library.sources()
        return {
            "articles": [a.to_dict() for a in listed],
            "count": len(listed),
            "chunks": sum(a.chunks for a in listed),
        }

    @app.post("/v1/articles", dependencies=guard, tags=["articles"])
    def upload(
        files: Annotated[list[UploadFile], File(description=".txt .md .html .jsonl")],
    ) -> dict[str, Any]:
        """Add articles from uploaded files, in one pass; each file's problem is listed, the rest
        go in. Without a url an article's id comes from its content: the same file twice is one."""
        report, stored = IngestReport(), []

        def items() -> Iterator[Article | Problem]:
            for f in files:
                for item in read_upload(f.file.read(), f.filename or "upload"):
                    if isinstance(item, Article):
                        stored.append(item.id)
                    yield item

        ingest_items(items(), library, report=report)
        return {**report.to_dict(), "ids": list(dict.fromkeys(report.same_as.get(i, i) for i in stored))}

    @app.delete("/v1/articles/{article_id}", dependencies=guard, tags=["articles"], status_code=204)
    def forget(article_id: str) -> Response:
        """Remove an article and its passages."""
        if not library.forget(article_id):
            raise HTTPException(404, f"no article with id {article_id!r}; GET /v1/articles lists them")
        return Response(status_code=204)

    @app.get("/healthz", tags=["service"])
    def health() -> JSONResponse:
        """Whether the store answers, and what is loaded: 503 when the store cannot be reached."""
        loaded = library.loaded()
        record: dict[str, Any] = {
            "embedding_model_loaded": loaded["embedding"],
            "language_model": library.settings.llm,
            "language_model_loaded": loaded["language"],
        }
        try:
            record |= {"articles": library.count_articles(), "chunks": library.count_chunks()}
        except StoreError as exc:
            return JSONResponse({"status": "unavailable", "store": str(exc), **record}, status_code=503)
        return JSONResponse({"status": "ok", "store": "reachable", **record})

    # HEAD too, as load balancers and uptime monitors probe (one operation in the schema).
    app.add_api_route("/healthz", health, methods=["HEAD"], include_in_schema=False)

    from ui.openai_chat import add_openai_routes

    add_openai_routes(app, server, guard)
    answer_unknown_paths(app, authorised)
    _docs_page(app)
    app.add_middleware(BodyLimit, default=MAX_BODY_BYTES, larger={"/v1/articles": options.max_upload_bytes})
    if options.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(options.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    if options.page:
        import gradio as gr

        from ui.app import build_app
        from ui.render import CSS, HEAD

        page = build_app(library, max_upload_mb=max(1, options.max_upload_bytes // 1_000_000))
        page.queue(default_concurrency_limit=1)
        app = gr.mount_gradio_app(
            app,
            page,
            path="/",
            auth=options.page_auth,
            max_file_size=options.max_upload_bytes,
            footer_links=["api"],
            css=CSS,
            head=HEAD,
            theme=gr.themes.Default(),
        )
    return app


def _docs_page(app: FastAPI) -> None:
    """The OpenAPI page at ``/docs``, with Swagger UI's files from the swagger-ui-bundle package
    (FastAPI's own page loads them from a CDN, which an offline machine cannot reach)."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    app.mount("/docs-static", StaticFiles(directory=str(swagger_ui_path)), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Citewire API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="data:,",
        )
