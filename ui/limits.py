"""Size limits and the API's error bodies: a request over its limit gets 413 before the app
reads it, and every API error has the shape OpenAI clients read. (A question's length is capped
by ``rag.query.MAX_QUESTION_CHARS``, alike on the API, the page and the command line.)"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def error_body(status: int, message: str, kind: str, param: str | None = None) -> JSONResponse:
    """``{"error": {"message", "type", "param", "code"}}`` with ``status``."""
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": status}}, status_code=status
    )


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``default`` bytes (over ``larger[path]`` for
    the paths given, uploads), whether it declares its length or is sent in chunks."""

    def __init__(self, app: ASGIApp, default: int, larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default = default
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"].rstrip("/"), self.default)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > limit:
                await self._refuse(limit, scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        # Sent in chunks: read it all (up to the limit) before the app sees any of it.
        body: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            size += len(message.get("body", b""))
            if size > limit:
                await self._refuse(limit, scope, receive, send)
                return
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(body), "more_body": False}
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return whole
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        what = "upload" if limit != self.default else "request body"
        response = error_body(413, f"the {what} is over the {limit / 1e6:.3g} MB limit", "request_too_large")
        await response(scope, receive, send)
