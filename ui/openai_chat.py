"""The OpenAI-compatible part of the API: ``GET /v1/models`` and ``POST /v1/chat/completions``,
streamed (server-sent events) or not, so that OpenAI clients and chat front ends (Open WebUI,
LibreChat) can talk to Citewire.

The assistant's message is the cited answer with its ``[n]`` markers, followed by its sources, one
line each, so that any client shows a readable answer. The answer's whole record (the citations
with their exact spans, ``refused``, ``answerer``, ...) comes in the response's ``citewire`` field,
in the last chunk when streamed. ``usage`` counts tokens with tiktoken's ``cl100k_base`` over the
messages' text and the reply's (a streamed reply ends with it when the request asks,
``stream_options: {"include_usage": true}``, as OpenAI's does). The earlier messages are the
conversation: a follow-up is answered as the next turn. The server remembers the turns of the
answers it gave lately, by their text, so a follow-up to one of them knows what it quoted; an
earlier answer it does not know is taken at its word.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, pairwise
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from rag.conversation import Turn, resolve
from rag.errors import CitewireError, ConfigError
from rag.offline import cl100k
from rag.query import MAX_QUESTION_CHARS, Query
from rag.records import Answer
from ui.api_errors import error_record

if TYPE_CHECKING:
    from ui.api import Server

MODEL = "citewire"
SOURCES_HEADING = "\n\nSources:\n"


class Part(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[Part] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(p.text or "" for p in self.content if p.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    include_usage: bool = False


class ChatRequest(BaseModel):
    """An OpenAI chat request; settings Citewire has no use for (temperature, ...) are accepted
    and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(description=f"`{MODEL}`")
    messages: list[Message] = Field(min_length=1, max_length=200)
    stream: bool = False
    stream_options: StreamOptions | None = None


def usage(messages: Sequence[Message], reply: str) -> dict[str, int]:
    """OpenAI's ``usage``, in ``cl100k_base`` tokens of the messages' text and the reply's."""
    encoding = cl100k()
    asked = sum(len(encoding.encode(m.text, disallowed_special=())) for m in messages)
    replied = len(encoding.encode(reply, disallowed_special=()))
    return {"prompt_tokens": asked, "completion_tokens": replied, "total_tokens": asked + replied}


def sources_text(answer: Answer) -> str:
    """The answer's sources as lines a person reads, one an article, its markers first:
    ``[1] [3] title (source, date) url``."""
    markers: dict[str, list[str]] = {}
    lines: dict[str, str] = {}
    for c in answer.citations:
        when = c.published.isoformat() if c.published else "undated"
        where = f" {c.url}" if c.url else ""
        markers.setdefault(c.article_id, []).append(f"[{c.n}]")
        lines[c.article_id] = f"{c.title} ({c.source or 'unknown source'}, {when}){where}"
    said = [f"{' '.join(markers[a])} {line}" for a, line in lines.items()]
    return SOURCES_HEADING + "\n".join(said) if said else ""


def content_of(answer: Answer) -> str:
    """The assistant message for ``answer``."""
    return answer.answer + sources_text(answer)


def conversation(messages: Sequence[Message], server: Server) -> tuple[str, list[Turn]]:
    """The question (the last user message) and the turns before it."""
    said = [m for m in messages if m.role in ("user", "assistant")]
    if not said or said[-1].role != "user":
        raise ConfigError("messages: the last message must be the user's question", "messages")
    question = said[-1].text.strip()
    if not question:
        raise ConfigError("messages: the question (the last user message) is empty", "messages")
    for place, message in enumerate(messages):  # as /v1/ask, the page and the command line refuse
        if message.role == "user" and len(message.text.strip()) > MAX_QUESTION_CHARS:
            raise ConfigError(
                f"messages[{place}]: a question is {len(message.text.strip()):,} characters; ask in "
                f"at most {MAX_QUESTION_CHARS:,}",
                "messages",
            )
    turns: list[Turn] = []
    for asked, replied in pairwise(said[:-1]):
        if asked.role != "user" or replied.role != "assistant":
            continue
        known = server.turns.recall(replied.text)
        if known is not None and known.question == asked.text.strip():
            turns.append(known)
            continue
        earlier = asked.text.strip()
        answer = replied.text.split(SOURCES_HEADING, 1)[0]
        turns.append(Turn(earlier, resolve(earlier, turns).query, (), answer))
    return question, turns


def add_openai_routes(app: FastAPI, server: Server, guard: list[Any]) -> None:
    """``/v1/models`` and ``/v1/chat/completions`` on ``app``."""

    described = {"id": MODEL, "object": "model", "created": 0, "owned_by": "citewire"}

    @app.get("/v1/models", dependencies=guard, tags=["openai"])
    def models() -> dict[str, Any]:
        """The one model: Citewire's cited answers."""
        return {"object": "list", "data": [described]}

    @app.get("/v1/models/{model}", dependencies=guard, tags=["openai"])
    def model(model: str) -> dict[str, Any]:
        """The model named, as ``/v1/models`` lists it."""
        if model != MODEL:
            raise _no_such_model(model)
        return described

    @app.post("/v1/chat/completions", dependencies=guard, tags=["openai"], response_model=None)
    def chat(body: ChatRequest) -> dict[str, Any] | StreamingResponse:
        """The cited answer to the last user message, the earlier messages its conversation."""
        if body.model != MODEL:
            raise _no_such_model(body.model)
        question, history = conversation(body.messages, server)
        if body.stream:
            return _streamed(server, body, Query(question), history)
        return _completion(server, body, Query(question), history)


def _no_such_model(name: str) -> HTTPException:
    return HTTPException(404, f"model {name!r} does not exist; GET /v1/models lists `{MODEL}`")


@dataclass(frozen=True)
class _Reply:
    """One reply's id and time, which it and each of its chunks carry."""

    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=lambda: int(time.time()))

    def chunk(self, delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> str:
        """An event; one with no ``delta`` has no choices (the usage, as OpenAI sends it)."""
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        record = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": MODEL,
            "choices": [] if delta is None else [choice],
            **extra,
        }
        return f"data: {json.dumps(record, ensure_ascii=False)}\n\n"


def _completion(server: Server, body: ChatRequest, query: Query, history: list[Turn]) -> dict[str, Any]:
    """The whole reply at once."""
    answer, turn = server.library.reply(query, history)
    content = content_of(answer)
    server.turns.remember(content, turn)
    reply = _Reply()
    return {
        "id": reply.id,
        "object": "chat.completion",
        "created": reply.created,
        "model": MODEL,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        "usage": usage(body.messages, content),
        "citewire": answer.to_dict(),
    }


def _streamed(server: Server, body: ChatRequest, query: Query, history: list[Turn]) -> StreamingResponse:
    """The reply as server-sent events, the answer's text as it grows, then its sources."""
    reply = _Reply()
    # The first step (the search, and the answer's start) runs before the response does, so
    # a store that is down is a 503 as without streaming, not a 200 carrying an error event.
    steps = iter(server.library.reply_stream(query, history))
    first = next(steps)

    def events() -> Iterator[str]:
        yield reply.chunk({"role": "assistant", "content": ""})
        shown, sent = "", ""  # the answer's text so far; all the content sent
        last = first
        try:
            for last in chain([first], steps):
                text = last[0].answer
                if text != shown:
                    delta = text[len(shown) :] if text.startswith(shown) else f"\n\n{text}"
                    sent += delta
                    yield reply.chunk({"content": delta})
                    shown = text
        except CitewireError as exc:  # the answer has begun: the error comes as an event
            yield f"data: {json.dumps({'error': error_record(exc)}, ensure_ascii=False)}\n\n"
            yield "data: [DONE]\n\n"
            return
        finally:  # a client gone mid-answer closes this: the answer's steps (a model's lock) too
            if isinstance(steps, Generator):
                steps.close()
        answer, turn = last
        sources = sources_text(answer)
        if sources:
            sent += sources
            yield reply.chunk({"content": sources})
        server.turns.remember(sent, turn)
        yield reply.chunk({}, "stop", citewire=answer.to_dict())
        if body.stream_options is not None and body.stream_options.include_usage:
            yield reply.chunk(None, usage=usage(body.messages, sent))
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
