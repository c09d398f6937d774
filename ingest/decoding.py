"""Turning a file's bytes into text: byte-order marks, an HTML page's declared charset, UTF-8
else Windows-1252 with a warning, binary files refused, and JSONL decoded line by line."""

from __future__ import annotations

import codecs
import re

from ingest.problem import Problem
from rag.errors import InputError

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16's, which it starts with
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def declared_charset(html: bytes) -> str | None:
    """The encoding a page declares in a ``<meta charset>`` (or ``http-equiv``) tag near its top,
    by its codec's name, or None when it declares none Python knows."""
    match = _META_CHARSET.search(html[:4096])
    if match is None:
        return None
    try:
        codec = codecs.lookup(match.group(1).decode("ascii"))
    except LookupError:
        return None
    # rot13, base64 or unicode_escape are codecs but not a page's encoding.
    if not getattr(codec, "_is_text_encoding", True) or codec.name in _NOT_PAGE_ENCODINGS:
        return None
    return codec.name


_NOT_PAGE_ENCODINGS = {"undefined", "unicode-escape", "raw-unicode-escape"}


def decode(data: bytes, location: str, html: bool = False) -> tuple[str, str | None]:
    """Bytes to text with Unix line ends; returns (text, warning or None).

    UTF-8 (with or without a byte-order mark), UTF-16 and UTF-32 with one, the encoding an HTML
    page declares, else Windows-1252 with a warning. Raises ``InputError`` for empty or binary
    files and undecodable text.
    """
    text, warning = _decoded(data, location, html)
    return _unix_lines(text, location), warning


def _unix_lines(text: str, location: str) -> str:
    if not text.strip():
        raise InputError(location, "empty file; nothing to ingest")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decoded(data: bytes, location: str, html: bool) -> tuple[str, str | None]:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), None
            except UnicodeDecodeError:
                name = codec.upper()
                raise InputError(
                    location, f"starts as {name} but is not valid {name}; re-save it as UTF-8"
                ) from None
    _refuse_binary(data, location)
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        failed = exc
    declared = declared_charset(data) if html else None
    if declared not in (None, "utf-8"):
        try:
            return data.decode(declared), None
        except UnicodeError:
            pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        raise InputError(location, _NEITHER) from None
    return text, _read_as_cp1252(data, failed)


_NEITHER = "text is neither UTF-8 nor Windows-1252; re-save it as UTF-8"


def _read_as_cp1252(data: bytes, failed: UnicodeDecodeError) -> str:
    return (
        f"not valid UTF-8 (byte 0x{data[failed.start]:02x} at offset {failed.start}); read as "
        "Windows-1252. Re-save the file as UTF-8 to silence this warning"
    )


_DOCUMENT_SIGNATURES = (
    (b"%PDF-", "a PDF file"),
    (b"{\\rtf", "an RTF document"),
    (b"PK\x03\x04", "a zip archive (a Word or OpenDocument file is one)"),
)
_EXPORT = "export the article as .txt, .md, .html or .jsonl"


def _refuse_binary(data: bytes, location: str) -> None:
    """Raise ``InputError`` when ``data`` (without a byte-order mark) does not look like text:
    a PDF, RTF or zip (Word, OpenDocument) signature, NUL bytes or many control characters near
    its start. A small PDF can be all ASCII, and RTF always is, so their signatures are checked
    first: read as text, their markup would be stored as the article."""
    for signature, kind in _DOCUMENT_SIGNATURES:
        if data[:1024].lstrip().startswith(signature):
            raise InputError(location, f"{kind}, not text; {_EXPORT}")
    head = data[:8192]
    if b"\x00" in head:
        pairs = len(head) // 2 or 1
        if max(head[0::2].count(0), head[1::2].count(0)) > 0.8 * pairs:
            raise InputError(
                location, "looks like UTF-16 text without a byte-order mark; re-save it as UTF-8"
            )
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    if b"\x00" in head or controls > len(head) * 0.05:
        raise InputError(location, f"binary file, not text; {_EXPORT}")


def decode_lines(data: bytes, location: str) -> tuple[str, list[Problem]]:
    """A file of lines each read on its own (JSONL) as text, with the problems of its lines: as
    ``decode`` reads it when it is UTF-8 or starts with a byte-order mark; otherwise line by
    line, so that a line in another encoding costs only itself: it is read as Windows-1252 with
    a warning naming it, or, when it is not that either, left out and named."""
    if data.startswith(tuple(bom for bom, _ in _BOMS)):
        return decode(data, location)[0], []
    _refuse_binary(data, location)
    try:
        return _unix_lines(data.decode("utf-8-sig"), location), []
    except UnicodeDecodeError:
        pass
    problems: list[Problem] = []
    lines: list[str] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        where = f"{location}:{number}"
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as failed:
            try:
                text = raw.decode("cp1252")
                problems.append(Problem(where, _read_as_cp1252(raw, failed), False))
            except UnicodeDecodeError:
                text = ""
                problems.append(Problem(where, _NEITHER, True))
        lines.append(text.removesuffix("\r"))
    return "\n".join(lines), problems
