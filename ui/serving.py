"""``citewire chat`` and ``citewire serve``: the chat page, and the HTTP API with the page beside
it, on this machine. Both open on loopback without a login; anywhere else the page needs a login
(``--auth``) and the API a key (``--api-key-file`` or ``CITEWIRE_API_KEY``)."""

from __future__ import annotations

import argparse
import errno
import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import ConfigError
from ui.cli import _open

if TYPE_CHECKING:
    from rag import Library

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def settle(library: Library) -> None:
    """Ready ``library`` for its first question: load what every answer needs (the embedding
    model, the BM25 index, the learned reader) with one search, collect what start-up dropped,
    and set every object left aside from Python's garbage collector (``gc.freeze``). The
    packages imported (torch, transformers, Chroma, Gradio) make half a million objects, and
    each full collection scanned them all: up to a third of a second in the middle of an answer
    (docs/figures.md, query latency). A reader that cannot be loaded is reported now, not at the
    first question."""
    library.warm_up()
    gc.collect()
    gc.freeze()


def _flag_file_lines(path: str, flag: str, fix: str) -> list[str]:
    """The lines of the file a flag names; ``ConfigError`` naming it when it cannot be read or is
    not UTF-8 text (``fix`` says how to write it)."""
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read the {flag} {path}: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise ConfigError(f"the {flag} {path} is not UTF-8 text; {fix}") from None


def read_credentials(path: str | None, environ: dict[str, str]) -> list[tuple[str, str]] | None:
    """Login pairs from a file of ``user:password`` lines, else from ``CITEWIRE_AUTH``."""
    lines: list[str] = []
    where = "CITEWIRE_AUTH"
    if path:
        where = path
        lines = _flag_file_lines(path, "--auth file", "write one user:password per line")
    elif environ.get("CITEWIRE_AUTH"):
        lines = environ["CITEWIRE_AUTH"].split(",")
    pairs = []
    for line in lines:
        if not line.strip():
            continue
        user, sep, password = line.strip().partition(":")
        if not sep or not user or not password:
            raise ConfigError(f"{where}: each entry must be user:password (got an entry without one)")
        pairs.append((user, password))
    if (path or environ.get("CITEWIRE_AUTH")) and not pairs:
        raise ConfigError(f"{where} holds no user:password entries")
    return pairs or None


def cmd_chat(args: argparse.Namespace) -> int:
    """``citewire chat``: serve the page; a non-loopback address needs --auth or --no-auth."""
    credentials = read_credentials(args.auth, dict(os.environ))
    _check_serving_flags(args)
    check_port_free(args.host, args.port)  # before the model and the library load
    if args.host not in LOOPBACK and credentials is None and not args.no_auth:
        raise ConfigError(
            f"--host {args.host} would open your library to the network. {_LOGIN} to serve without login"
        )
    library = _open(args)
    if args.examples and library.count_articles() == 0:
        from ingest import ingest

        report = ingest([args.examples], library, on_problem=lambda p: print(p, file=sys.stderr))
        print(f"library was empty; ingested the examples: {report.summary()}")
    from ui.app import build_app, launch

    app = build_app(library, max_upload_mb=args.max_upload_mb)
    settle(library)
    print(f"Citewire chat on http://{args.host}:{args.port} (Ctrl+C to stop)")
    with _serving(args):
        launch(app, host=args.host, port=args.port, auth=credentials, max_upload_mb=args.max_upload_mb)
    return 0


_LOGIN = "Give --auth FILE (lines of user:password) or set CITEWIRE_AUTH=user:password, or pass --no-auth"


def _check_serving_flags(args: argparse.Namespace) -> None:
    """The port and the upload limit ``chat`` and ``serve`` share, checked before anything loads."""
    if not 1 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 1 and 65535. Currently, it is {args.port}")
    if args.max_upload_mb <= 0:
        raise ConfigError(f"--max-upload-mb must be greater than 0. Currently, it is {args.max_upload_mb}")


@contextmanager
def _serving(args: argparse.Namespace) -> Iterator[None]:
    """Serving on ``args.host:args.port``; a port taken meanwhile, or an address this machine
    does not have, is a ``ConfigError`` saying what to change."""
    try:
        yield
    except OSError as exc:
        raise ConfigError(
            f"Could not serve on {args.host}:{args.port} ({exc}); pick another --port or --host"
        ) from exc


def check_port_free(host: str, port: int) -> None:
    """Raise ``ConfigError`` when ``host:port`` cannot be listened on (in use, or not an address here)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ConfigError(f"--host {host}: not an address this machine can serve on ({exc})") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            reason = "in use (another `citewire chat`?)" if exc.errno == errno.EADDRINUSE else str(exc)
            raise ConfigError(f"Port {port} on {host} is {reason}; pick another with --port") from exc


API_KEY_VARIABLE = "CITEWIRE_API_KEY"


def read_api_key(path: str | None, environ: dict[str, str]) -> str | None:
    """The API key from ``--api-key-file`` (its first line), else ``CITEWIRE_API_KEY``; None when
    neither is given. The key itself never appears in a message."""
    if path:
        lines = _flag_file_lines(path, "--api-key-file", "write the key on one line")
        key = next((line.strip() for line in lines if line.strip()), "")
        if not key:
            raise ConfigError(f"the --api-key-file {path} is empty; write the key on its first line")
        return key
    key = environ.get(API_KEY_VARIABLE, "").strip()
    return key or None


def cmd_serve(args: argparse.Namespace) -> int:
    """``citewire serve``: the HTTP API (``/v1``), its OpenAPI page (``/docs``) and the chat page
    (``/``) on one port. Anywhere but loopback, the API needs a key and the page a login."""
    api_key = read_api_key(args.api_key_file, dict(os.environ))
    credentials = read_credentials(args.auth, dict(os.environ))
    _check_serving_flags(args)
    if args.host not in LOOPBACK:
        if api_key is None:
            raise ConfigError(
                f"--host {args.host} would open your library to the network: give --api-key-file FILE "
                f"or set {API_KEY_VARIABLE}; every /v1 request must then carry it as a bearer token"
            )
        if credentials is None and not args.no_auth and not args.no_page:
            raise ConfigError(f"--host {args.host}: the chat page needs a login too. {_LOGIN}")
    check_port_free(args.host, args.port)  # before the model and the library load
    library = _open(args)
    from ui.api import ApiOptions, build_api

    options = ApiOptions(
        api_key=api_key,
        max_upload_bytes=args.max_upload_mb * 1_000_000,
        cors_origins=tuple(args.cors_origin or ()),
        page=not args.no_page,
        page_auth=credentials,
    )
    app = build_api(library, options)
    import uvicorn

    settle(library)  # loaded before the first request, not during it

    pages = "OpenAPI page /docs" if args.no_page else "OpenAPI page /docs, chat page /"
    print(f"Citewire API on http://{args.host}:{args.port}/v1 ({pages}); Ctrl+C stops")
    with _serving(args):
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0
