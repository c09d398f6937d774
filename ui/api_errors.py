"""The API's errors: every one as ``{"error": {...}}`` with the status its kind calls for, the
shape OpenAI clients read, and never a traceback; unknown ``/v1`` paths answered alike."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from rag.errors import CitewireError, error_type
from ui.limits import error_body

log = logging.getLogger("citewire.api")

_STATUS = {"invalid_request_error": 422, "not_found_error": 404, "store_unavailable": 503, "model_error": 502}


def status_of(exc: CitewireError) -> int:
    """The HTTP status an error of the library's is answered with."""
    return _STATUS.get(error_type(exc), 500)


def error_record(exc: CitewireError) -> dict[str, object]:
    """An error of the library's as the API says it: ``{"message", "type", "param", "code"}``,
    the code its HTTP status."""
    return {
        "message": str(exc),
        "type": error_type(exc),
        "param": getattr(exc, "field", None),
        "code": status_of(exc),
    }


def answer_errors(app: FastAPI, authorised: Callable[[Request], None]) -> None:
    """Every error as ``{"error": {...}}`` with the status its kind calls for; never a traceback.

    FastAPI reads the body before it checks the key (a dependency), so a malformed body is
    answered 401 here, not 422 or 400, when the key is wrong: nothing is said about a request
    before it is known to be allowed."""

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        try:
            authorised(request)
        except HTTPException as denied:
            return http_error(request, denied)
        sent = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if sent and not sent.endswith("json") and not request.url.path.startswith("/v1/articles"):
            said = f"the body came as {sent}; send JSON with `Content-Type: application/json`"
            return error_body(415, said, "invalid_request_error")
        problems = []
        field = None
        for e in exc.errors():
            if e.get("type") == "json_invalid":  # its "loc" is a character position, not a field
                at = e.get("loc", ("body", "?"))[-1]
                return error_body(
                    422, f"the body is not valid JSON (at character {at})", "invalid_request_error"
                )
            where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
            if e.get("type") == "missing" and where in ("", "files"):
                return _no_body(request.url.path)
            field = field or where or None
            problems.append(f"{where or 'body'}: {e.get('msg', 'invalid')}")
        return error_body(422, "; ".join(problems) or "malformed request", "invalid_request_error", field)

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:  # the body could not be read
            try:
                authorised(request)
            except HTTPException as denied:
                exc = denied
            else:
                if isinstance(exc.__cause__, UnicodeDecodeError):
                    at = exc.__cause__.start
                    said = f"the body is not UTF-8 text (byte {at}); send JSON encoded as UTF-8"
                    return error_body(400, said, "invalid_request_error")
        kind = {401: "authentication_error", 404: "not_found_error", 413: "request_too_large"}
        response = error_body(
            exc.status_code, str(exc.detail), kind.get(exc.status_code, "invalid_request_error")
        )
        response.headers.update(exc.headers or {})
        if exc.status_code == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(CitewireError)
    def library_error(request: Request, exc: CitewireError) -> JSONResponse:
        return JSONResponse({"error": error_record(exc)}, status_code=status_of(exc))

    @app.exception_handler(Exception)
    def bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return error_body(
            500, f"internal error ({type(exc).__name__}); the server's log has the details", "server_error"
        )


def _no_body(path: str) -> JSONResponse:
    """A request that sent no body, or no files to the upload, told what to send."""
    if path.startswith("/v1/articles"):
        said = "send the articles as multipart/form-data, each file in a form field named `files`"
        return error_body(422, said, "invalid_request_error", "files")
    said = "the request has no body; send a JSON object (the page /docs shows each endpoint's)"
    return error_body(422, said, "invalid_request_error")


def answer_unknown_paths(app: FastAPI, authorised: Callable[[Request], None]) -> None:
    """Any other ``/v1`` path or method answered in the API's error shape (with the chat page
    mounted at ``/``, the page's own 404 would answer instead), after the key as every ``/v1``
    request is; add it after every ``/v1`` route."""
    known = [r for r in app.routes if isinstance(r, APIRoute) and r.path.startswith("/v1/")]
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    @app.api_route("/v1", methods=methods, include_in_schema=False)  # (else redirected to /v1/)
    @app.api_route("/v1/{rest:path}", methods=methods, include_in_schema=False)
    def unknown(request: Request, rest: str = "") -> None:
        authorised(request)
        path = request.url.path
        allowed = sorted({m for r in known if r.path_regex.match(path) for m in r.methods or ()})
        if allowed:
            said = f"{request.method} {path} is not served; use {' or '.join(allowed)}"
            raise HTTPException(405, said, headers={"Allow": ", ".join(allowed)})
        raise HTTPException(404, f"no endpoint {path}; the OpenAPI page /docs lists them")
