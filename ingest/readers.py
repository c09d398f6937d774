"""Reading article files: ``.txt``, ``.md``, ``.html``/``.htm`` and ``.jsonl``.

``read_paths`` walks files and folders and yields ``Article``s and ``Problem``s in a stable
order. A problem names the file (and line) and says what to do; a file with a problem never
stops the others. Text that is not UTF-8 but decodes as Windows-1252 is read with a warning.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from rag.errors import InputError
from rag.records import Article, article_id_for, is_web_address

SUFFIXES = (".txt", ".md", ".html", ".htm", ".jsonl")
# Page furniture that scrapers leave in the text; never a headline.
_CHROME = {"share", "advertisement", "advert", "related", "menu", "skip to content", "print", "email"}
# A corpus folder's own documentation is not news: left out of folder walks, with a note.
_NOT_ARTICLES = {"readme", "license", "licence", "copying", "changelog", "notice", "authors"}
# A dateline opening a wire story ("Washington CNN —", "LONDON (Reuters) -"): not a headline.
_DATELINE = re.compile(r"^[^.!?]{0,80}\s[—–-]+$")
_SURROGATE = re.compile("[\ud800-\udfff]")  # what JSON's "\\ud800" escapes decode to, alone
_DATE_LINE = re.compile(r"^(?:published|date|updated)\s*:\s*(\S.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    """Something wrong with an input. ``skipped`` False means it was ingested with a warning."""

    location: str
    reason: str
    skipped: bool

    def __str__(self) -> str:
        kind = "skipped" if self.skipped else "warning"
        return f"{kind}: {self.location}: {self.reason}"


def _shown(value: Any) -> str:
    """A JSON value as a message shows it: its repr, cut short (a record may hold megabytes)."""
    shown = repr(value)
    return shown if len(shown) <= 80 else f"{shown[:77]}..."


def iter_files(paths: Iterable[str | Path]) -> Iterator[tuple[Path, Path] | Problem]:
    """Yield (file, the argument it was found under) for every article file, or a Problem."""
    for raw in paths:
        if not str(raw).strip():  # Path("") is the current folder: never read it by accident
            reason = "an empty path; name a file or folder (is a shell variable unset?)"
            yield Problem(repr(str(raw)), reason, True)
            continue
        root = Path(raw).expanduser()
        if root.is_dir():
            unreadable: list[Problem] = []
            found = _article_files(root, unreadable)
            yield from unreadable
            if not found and not unreadable:
                yield Problem(str(root), f"no {', '.join(SUFFIXES)} files in this folder", True)
            for path in found:
                if path.stem.lower() in _NOT_ARTICLES:
                    yield Problem(
                        str(path),
                        "the folder's documentation, not an article: left out (name the file to ingest it)",
                        False,
                    )
                else:
                    yield path, root
        elif root.is_file():
            if root.suffix.lower() in SUFFIXES:
                yield root, root.parent
            else:
                yield Problem(
                    str(root),
                    f"unsupported file type {root.suffix or '(none)'}; use one of {', '.join(SUFFIXES)}",
                    True,
                )
        elif root.is_symlink():
            yield Problem(str(root), broken_link(root), True)
        else:
            yield Problem(str(root), "no such file or folder; check the path", True)


def broken_link(path: Path) -> str:
    """Why the symbolic link ``path`` leads to no file: a loop, or a target that is missing."""
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    try:
        path.resolve(strict=True)
    except FileNotFoundError:
        return f"a symbolic link to {target}, which does not exist; fix or remove the link"
    except (OSError, RuntimeError):  # RuntimeError: Python before 3.13 on a loop
        pass
    return f"a symbolic link loop (following it to {target} never reaches a file); fix or remove the link"


def _article_files(root: Path, unreadable: list[Problem]) -> list[Path]:
    """The files under ``root`` with an article suffix, sorted; a folder that cannot be listed,
    or a link with an article suffix that leads nowhere, adds a problem to ``unreadable`` (its
    articles would otherwise be missed without a word). Links to folders are not followed;
    links to files are read."""
    found: list[Path] = []

    def refused(error: OSError) -> None:
        reason = (
            f"cannot list this folder ({error.strerror}); its articles were left out: check its permissions"
        )
        unreadable.append(Problem(str(error.filename or root), reason, True))

    for folder, _, names in os.walk(root, onerror=refused):
        for path in (Path(folder, name) for name in names):
            if path.suffix.lower() not in SUFFIXES:
                continue
            if path.is_file():
                found.append(path)
            elif path.is_symlink():
                unreadable.append(Problem(str(path), broken_link(path), True))
    return sorted(found)


def read_paths(paths: Iterable[str | Path]) -> Iterator[Article | Problem]:
    """Every article in ``paths`` (files or folders, recursively), with problems in between."""
    for item in iter_files(paths):
        if isinstance(item, Problem):
            yield item
        else:
            yield from read_file(*item)


def read_file(path: Path, root: Path | None = None) -> Iterator[Article | Problem]:
    """The articles in one file (one, or one per JSONL line), and any problems.

    ``root`` is the folder the file was found under; its name serves as the source when the
    file names none. Without a url, an article's id comes from the file's resolved path.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield Problem(str(path), f"cannot read the file ({exc.strerror}); check its permissions", True)
        return
    resolved = source_path_of(path)
    folder = (root or path.parent).resolve().name or None
    yield from read_bytes(data, path.suffix.lower(), str(path), resolved, resolved, folder)


def source_path_of(path: Path) -> str:
    """What the articles of the file at ``path`` record as where they came from."""
    return str(path.resolve())


def read_upload(data: bytes, name: str) -> Iterator[Article | Problem]:
    """The articles in an uploaded file's bytes. ``name`` is only shown, never used as a path.

    Without a url, the id comes from the content, so the same file uploaded twice is one article.
    """
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        yield Problem(
            name, f"unsupported file type {suffix or '(none)'}; use one of {', '.join(SUFFIXES)}", True
        )
        return
    # A JSONL record's id holds its own content, so the same record in two uploads is one.
    locator = "upload" if suffix == ".jsonl" else f"upload:{hashlib.sha256(data).hexdigest()[:16]}"
    yield from read_bytes(data, suffix, name, locator, f"upload:{name}", "upload")


def read_bytes(
    data: bytes, suffix: str, location: str, locator: str, source_path: str, folder_source: str | None
) -> Iterator[Article | Problem]:
    """Articles from a file's bytes. ``location`` names it in messages; ``locator`` gives ids
    to articles without a url; ``source_path`` is recorded as where they came from."""
    try:
        if suffix == ".jsonl":
            text, problems = decode_lines(data, location)
        else:
            text, warning = decode(data, location, html=suffix in (".html", ".htm"))
            problems = [Problem(location, warning, False)] if warning else []
    except InputError as exc:
        yield Problem(exc.location, exc.reason, True)
        return
    yield from problems
    try:
        if suffix == ".jsonl":
            yield from read_jsonl(text, location, locator, source_path)
            return
        if suffix in (".html", ".htm"):
            yield article_from_html(text, location, locator, source_path)
        else:
            markdown = suffix == ".md"
            yield from article_from_text(text, location, locator, source_path, folder_source, markdown)
    except InputError as exc:
        yield Problem(exc.location, exc.reason, True)


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


def _refuse_binary(data: bytes, location: str) -> None:
    """Raise ``InputError`` when ``data`` (without a byte-order mark) does not look like text:
    NUL bytes or many control characters near its start."""
    head = data[:8192]
    if b"\x00" in head:
        pairs = len(head) // 2 or 1
        if max(head[0::2].count(0), head[1::2].count(0)) > 0.8 * pairs:
            raise InputError(
                location, "looks like UTF-16 text without a byte-order mark; re-save it as UTF-8"
            )
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    if b"\x00" in head or controls > len(head) * 0.05:
        raise InputError(location, "binary file, not text; export the article as .txt, .md, .html or .jsonl")


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


def parse_date(value: Any, location: str, field: str = "published") -> date | None:
    """An ISO date (or datetime) string to a date; None for null or empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(location, f"field {field!r} must be a date like 2015-12-16, got {_shown(value)}")
    text = value.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        raise InputError(
            location, f"field {field!r} must be a date like 2015-12-16, got {_shown(value)}"
        ) from None


def web_address(value: str | None, location: str) -> str | None:
    """``value`` as an article's url: None when it is empty, else an http(s) address with a host.

    The url is an article's identity (its id, and where its citations link), so a placeholder
    such as "n/a", given to many articles, would have each replace the last. Raises
    ``InputError`` naming ``location`` for anything else.
    """
    if value is None or not value.strip():
        return None
    url = value.strip()
    if not is_web_address(url):
        raise InputError(
            location,
            f"field 'url' must be a web address like https://example.org/news/story, got {_shown(value)}; "
            "correct it or leave it out (an article without one is known by where it was read from)",
        )
    return url


def host_of(url: str | None) -> str | None:
    """The publisher's host name from a url, without ``www.``."""
    if not url:
        return None
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.") or None


def _headline_shaped(line: str, allow_question: bool) -> bool:
    n = len(line.split())
    endings = (".", "!", ":", ";", ",", '"', "”", "’") + (() if allow_question else ("?",))
    return 2 <= n <= 20 and len(line) <= 160 and not line.endswith(endings)


def title_from_url(url: str | None) -> str | None:
    """A title from a url's slug ("/2022/06/19/saudi-toys-ban/index.html" gives "Saudi toys
    ban"), or None when the url has no slug of three or more words."""
    if not url:
        return None
    slugs = [re.sub(r"\.[a-z]{2,5}$", "", part) for part in urlsplit(url).path.split("/")]
    slugs = [part for part in slugs if part.count("-") >= 2 and not part.replace("-", "").isdigit()]
    if not slugs:
        return None
    words = max(slugs, key=len).replace("-", " ").replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else None


def guess_title(text: str, url: str | None = None) -> str:
    """A headline for text that came without one, not blindly its first line.

    Lines of page furniture ("Share", "Advertisement") and datelines ("Washington CNN —") are
    passed over. When the text opens with furniture it is a scraped page, and scrapers append
    the page's headline as the last line: a last line shaped like a headline (short, no closing
    punctuation) wins then. Otherwise the first headline-shaped line wins, else the words of the
    url's slug, else the start of the first sentence.
    """
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        return title_from_url(url) or ""
    scraped = lines[0].lower() in _CHROME
    content = [line for line in lines if line.lower() not in _CHROME and not _DATELINE.match(line)]
    if not content:
        return title_from_url(url) or lines[0][:120]
    if scraped and len(content) > 2 and _headline_shaped(content[-1], allow_question=False):
        return content[-1]
    for line in content[:3]:
        if _headline_shaped(line, allow_question=True):
            return line
    from_url = title_from_url(url)
    if from_url:
        return from_url
    first = content[0]
    return first if len(first) <= 120 else first[:117].rsplit(" ", 1)[0] + "..."


def _front_matter(text: str, location: str) -> tuple[dict[str, str | list[str]], str]:
    """Split ``---`` front matter from a Markdown body.

    The block is read as YAML with every value kept as text (no dates, numbers or booleans
    guessed), so lists (``authors: [A, B]``, or ``- A`` lines) and quoted values work. A block
    that is not valid YAML is read as ``key: value`` lines, which allows an unquoted colon in a
    value ("title: Analysis: the talks"), as many hand-written files have.
    """
    if not text.startswith("---\n"):
        return {}, text
    end = 3 if text.startswith("---\n---") else text.find("\n---", 4)  # an empty block, or the first close
    if end == -1:
        raise InputError(location, "front matter opened with '---' is never closed; add a closing '---' line")
    block = text[4:end]
    body_start = text.find("\n", end + 4)
    body = text[body_start + 1 :] if body_start != -1 else ""
    try:
        parsed = yaml.load(block, Loader=_YAML_TEXT) if block.strip() else {}
    except yaml.YAMLError:
        return _front_matter_lines(block, location), body
    if not isinstance(parsed, dict):
        raise InputError(location, "front matter must be 'key: value' lines; see the README's Ingest section")
    fields: dict[str, str | list[str]] = {}
    for key, value in parsed.items():
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            fields[str(key).strip().lower()] = [v.strip() for v in value if v.strip()]
        elif isinstance(value, str):
            fields[str(key).strip().lower()] = value.strip()
        elif str(key).strip().lower() in _FRONT_MATTER_FIELDS:
            raise InputError(location, f"front matter field {_shown(key)} must be text or a list of texts")
    return fields, body


_FRONT_MATTER_FIELDS = ("title", "published", "date", "url", "source", "authors", "author")
_YAML_TEXT = getattr(yaml, "CBaseLoader", yaml.BaseLoader)  # every scalar stays a string


def _front_matter_lines(block: str, location: str) -> dict[str, str | list[str]]:
    fields: dict[str, str | list[str]] = {}
    for line in block.split("\n"):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise InputError(location, f"front matter line {_shown(line)} is not 'key: value'")
        fields[key.strip().lower()] = value.strip().strip('"').strip("'")
    return fields


def _one(meta: dict[str, str | list[str]], location: str, *keys: str) -> str:
    """The first of ``keys`` that front matter gives, as one text ("" when none does)."""
    for key in keys:
        value = meta.get(key)
        if isinstance(value, list):
            raise InputError(location, f"front matter field {key!r} must be one value, not a list")
        if value:
            return value
    return ""


def written_date(value: str) -> date | None:
    """A date line's value as a date: ISO (2015-12-16, or a datetime), or written out
    ("16 December 2015", "Dec 16, 2015", "Wednesday 16 December 2015"); None otherwise."""
    try:
        return parse_date(value, "")
    except InputError:
        pass
    words = re.sub(r"\s+", " ", value.replace(",", " ")).strip()
    words = re.sub(r"^(?:mon|tue|wed|thu|fri|sat|sun)[a-z]* ", "", words, flags=re.IGNORECASE)
    words = re.sub(r"(\d)(?:st|nd|rd|th)\b", r"\1", words)
    for form in ("%d %B %Y", "%B %d %Y", "%d %b %Y", "%b %d %Y"):
        try:
            return datetime.strptime(words, form).date()
        except ValueError:
            continue
    return None


def article_from_text(
    text: str, location: str, locator: str, source_path: str, folder_source: str | None, markdown: bool
) -> Iterator[Article | Problem]:
    """An article from plain text or Markdown (with optional front matter), after a warning when
    a date line near its top gives no date this reads (the article is then undated)."""
    meta: dict[str, str | list[str]] = {}
    if markdown:
        meta, text = _front_matter(text, location)
    if not text.strip():
        raise InputError(location, "the article has no text; nothing to ingest")
    title = _one(meta, location, "title")
    if not title and markdown:
        heading = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
        title = heading.group(1).strip() if heading else ""
    url = web_address(_one(meta, location, "url") or None, location)
    title = title or guess_title(text, url)
    published_raw = _one(meta, location, "published", "date")
    published = parse_date(published_raw, location)
    if not published_raw:
        for line in text.split("\n")[:8]:
            match = _DATE_LINE.match(line.strip())
            if match:
                published = written_date(match.group(1))
                if published is None:
                    reason = f"the line {_shown(line.strip())} gives no date like 2015-12-16; stored undated"
                    yield Problem(location, reason, False)
                break
    named = meta.get("authors", meta.get("author", ""))
    authors = tuple(a.strip() for a in (named if isinstance(named, list) else named.split(";")) if a.strip())
    yield Article(
        id=article_id_for(url or locator),
        text=text,
        title=title,
        url=url,
        source_path=source_path,
        published=published,
        source=_one(meta, location, "source") or host_of(url) or folder_source,
        authors=authors,
        location=location,
    )


def article_from_html(html: str, location: str, locator: str, source_path: str) -> Article:
    """An article from a news page: main text, title, date, author and canonical url via trafilatura."""
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False)
    except (ValueError, TypeError, LookupError, RecursionError) as exc:  # its parser's limits
        detail = " ".join(str(exc).split())[:120]
        raise InputError(location, f"the page could not be parsed ({type(exc).__name__}: {detail})") from exc
    text = getattr(doc, "text", None) if doc is not None else None
    if not text or not text.strip():
        raise InputError(location, "no article text found in this HTML page; is it a news article?")
    try:  # the page's own canonical address, when it gives a usable one
        url = web_address(getattr(doc, "url", None), location)
    except InputError:
        url = None
    title = getattr(doc, "title", None) or guess_title(text, url)
    author = getattr(doc, "author", None) or ""
    return Article(
        id=article_id_for(url or locator),
        text=text,
        title=title,
        url=url,
        source_path=source_path,
        published=parse_date(getattr(doc, "date", None), location),
        source=getattr(doc, "sitename", None) or host_of(url),
        authors=tuple(a.strip() for a in author.split(";") if a.strip()),
        location=location,
    )


def read_jsonl(text: str, location: str, locator: str, source_path: str) -> Iterator[Article | Problem]:
    """Articles from JSON lines: ``url``, ``title``, ``published``, ``authors``, ``text`` (required)."""
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{location}:{number}"
        try:
            yield article_from_record(json.loads(line), where, locator, source_path)
        except json.JSONDecodeError as exc:
            yield Problem(where, f"not valid JSON ({exc.msg}); each line must be one JSON object", True)
        except RecursionError:
            yield Problem(where, "not an article: JSON nested too deeply to read", True)
        except ValueError:  # Python's limit on converting a long number (4,300 digits)
            yield Problem(where, "not an article: a number too long to read (over 4,300 digits)", True)
        except InputError as exc:
            yield Problem(exc.location, exc.reason, True)


def article_from_record(record: Any, where: str, locator: str, source_path: str) -> Article:
    """An article from one JSONL record. Its url gives its id; without one, the file's
    ``locator`` and the record's title and text do, so that lines moving (one deleted above,
    the file sorted) leave it the same article and the same record twice in a file is one."""
    if not isinstance(record, dict):
        raise InputError(where, "not an article: expected a JSON object with at least a 'text' field")
    text = record.get("text")
    if text is not None and not isinstance(text, str):
        raise InputError(where, f"field 'text' must be a string, got {_shown(text)}")
    if not text or not text.strip():
        raise InputError(where, "not an article: field 'text' is missing or empty")
    for name in ("url", "title"):
        if record.get(name) is not None and not isinstance(record[name], str):
            raise InputError(where, f"field {name!r} must be a string, got {_shown(record[name])}")
    authors = record.get("authors") or []
    if not isinstance(authors, list) or not all(isinstance(a, str) for a in authors):
        raise InputError(where, "field 'authors' must be a list of strings")
    for name in ("text", "title", "url", "published", "authors"):
        value = " ".join(authors) if name == "authors" else record.get(name)
        if isinstance(value, str) and _SURROGATE.search(value):
            raise InputError(
                where,
                f"field {name!r} holds a lone surrogate escape such as \\ud800, which is not a "
                "character; write the record as UTF-8 text or drop the escape",
            )
    text = text.replace("\r\n", "\n")
    url = web_address(record.get("url"), where)
    content = hashlib.sha256(f"{record.get('title') or ''}\x1e{text}".encode()).hexdigest()[:16]
    return Article(
        id=article_id_for(url or f"{locator}#{content}"),
        text=text,
        title=(record.get("title") or "").strip() or guess_title(text, url),
        url=url,
        source_path=source_path,
        published=parse_date(record.get("published"), where),
        source=host_of(url),
        authors=tuple(authors),
        location=where,
    )
