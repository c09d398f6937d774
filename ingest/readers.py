"""Reading article files: ``.txt``, ``.md``, ``.html``/``.htm`` and ``.jsonl``.

``read_paths`` walks files and folders and yields ``Article``s and ``Problem``s in a stable
order. A problem names the file (and line) and says what to do; a file with a problem never
stops the others. Text that is not UTF-8 but decodes as Windows-1252 is read with a warning.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from ingest.decoding import decode, decode_lines
from ingest.metadata import (
    authors_in,
    front_matter,
    guess_title,
    host_of,
    one_field,
    parse_date,
    web_address,
    written_date,
)
from ingest.problem import Problem, shown
from rag.errors import InputError
from rag.records import Article, StoredArticle, article_id_for, text_hash_of
from rag.text import SURROGATES

SUFFIXES = (".txt", ".md", ".html", ".htm", ".jsonl")
# Page furniture that scrapers leave in the text; never a headline.
# A corpus folder's own documentation is not news: left out of folder walks, with a note.
_NOT_ARTICLES = {"readme", "license", "licence", "copying", "changelog", "notice", "authors"}
# A dateline opening a wire story ("Washington CNN —", "LONDON (Reuters) -"): not a headline.
_DATE_LINE = re.compile(r"^(?:published|date|updated)\s*:\s*(\S.*)$", re.IGNORECASE)


Paths = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
"""Files and folders to read: one path, or several."""


def iter_files(paths: Paths) -> Iterator[tuple[Path, Path] | Problem]:
    """Yield (file, the argument it was found under) for every article file, or a Problem; a
    file that several arguments name (itself and its folder, or twice) once, as the first does,
    and a problem once."""
    seen: set[Path | tuple[str, str]] = set()
    for entry in _entries(paths):
        key = entry[0].resolve() if isinstance(entry, tuple) else (entry.location, entry.reason)
        if key not in seen:
            seen.add(key)
            yield entry


def _entries(paths: Paths) -> Iterator[tuple[Path, Path] | Problem]:
    if isinstance(paths, (str, os.PathLike)):  # one path, not its letters
        paths = [paths]
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
            if not found and not any(p.skipped for p in unreadable):
                yield Problem(str(root), f"no {', '.join(SUFFIXES)} files in this folder", True)
            for path in found:
                if SURROGATES.search(str(path)):
                    yield _not_utf8(path)
                elif path.stem.lower() in _NOT_ARTICLES:
                    yield Problem(
                        str(path),
                        "the folder's documentation, not an article: left out (name the file to ingest it)",
                        False,
                    )
                else:
                    yield path, root
        elif root.is_file():
            if SURROGATES.search(str(root)):
                yield _not_utf8(root)
            elif root.suffix.lower() in SUFFIXES:
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


def _not_utf8(path: Path) -> Problem:
    """The problem of a file whose name is not UTF-8 (Python holds such bytes as lone
    surrogates, which no article id or store takes; ``Problem`` shows them escaped)."""
    return Problem(str(path), "the file name is not valid UTF-8; rename the file to read it", True)


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
            if path.suffix.lower() == ".json":  # likely articles meant to be read: say why they are not
                reason = "a .json file is left out: articles come as .jsonl, one JSON object a line"
                unreadable.append(Problem(str(path), reason, False))
            if path.suffix.lower() not in SUFFIXES:
                continue
            if path.is_file():
                found.append(path)
            elif path.is_symlink():
                unreadable.append(Problem(str(path), broken_link(path), True))
    return sorted(found)


def read_paths(paths: Paths) -> Iterator[Article | Problem]:
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


UPLOADED = "upload:"
"""How an uploaded file's ``source_path`` begins (``upload:NAME``)."""


def reuploaded(article: Article, stored: StoredArticle) -> bool:
    """Whether ``article``, uploaded, is ``stored`` (uploaded under another file name, or read
    from a file) with nothing but ``source_path`` changed: then it is not stored again. The other
    way round, a file read after its upload is stored from the file, once, so that the file read
    again later forgets what it no longer holds."""
    upload = (article.source_path or "").startswith(UPLOADED)
    return upload and replace(article, source_path=stored.source_path).content_hash == stored.content_hash


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
    yield from read_bytes(data, suffix, name, locator, f"{UPLOADED}{name}", "upload")


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


def article_from_text(
    text: str, location: str, locator: str, source_path: str, folder_source: str | None, markdown: bool
) -> Iterator[Article | Problem]:
    """An article from plain text or Markdown (with optional front matter), after a warning when
    a date line near its top gives no date this reads (the article is then undated)."""
    meta: dict[str, str | list[str]] = {}
    if markdown:
        meta, text = front_matter(text, location)
    if not text.strip():
        raise InputError(location, "the article has no text; nothing to ingest")
    title = one_field(meta, location, "title")
    if not title and markdown:
        heading = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
        title = heading.group(1).strip() if heading else ""
    url = web_address(one_field(meta, location, "url") or None, location)
    title = title or guess_title(text, url)
    said, where = _date_said(one_field(meta, location, "published", "date"), text)
    published = written_date(said) if said else None
    if said and published is None:
        yield Problem(location, f"{where} gives no date like 2015-12-16; stored undated", False)
    authors = authors_in(meta.get("authors", meta.get("author", "")))
    yield Article(
        id=article_id_for(url or locator),
        text=text,
        title=title,
        url=url,
        source_path=source_path,
        published=published,
        source=one_field(meta, location, "source") or host_of(url) or folder_source,
        authors=authors,
        location=location,
    )


def _date_said(given: str, text: str) -> tuple[str, str]:
    """The date an article states, ISO or written out, and where: its front matter's (``given``),
    else a date line near the top of ``text``; ("", "") when it states none."""
    if given:
        return given, f"the front matter's date {shown(given)}"
    for line in text.split("\n")[:8]:
        match = _DATE_LINE.match(line.strip())
        if match:
            return match.group(1), f"the line {shown(line.strip())}"
    return "", ""


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
        authors=authors_in(author),
        location=location,
    )


def read_jsonl(text: str, location: str, locator: str, source_path: str) -> Iterator[Article | Problem]:
    """Articles from JSON lines: ``url``, ``title``, ``published``, ``authors``, ``text`` (required)."""
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{location}:{number}"
        try:
            yield from article_from_record(json.loads(line), where, locator, source_path)
        except json.JSONDecodeError as exc:
            yield Problem(where, f"not valid JSON ({exc.msg}); each line must be one JSON object", True)
        except RecursionError:
            yield Problem(where, "not an article: JSON nested too deeply to read", True)
        except ValueError:  # Python's limit on converting a long number (4,300 digits)
            yield Problem(where, "not an article: a number too long to read (over 4,300 digits)", True)
        except InputError as exc:
            yield Problem(exc.location, exc.reason, True)


def article_from_record(
    record: Any, where: str, locator: str, source_path: str
) -> Iterator[Article | Problem]:
    """An article from one JSONL record, after a warning if its date cannot be read (it is then
    stored undated, as a text file's would be); ``InputError`` for a record that is no article.
    Its url gives its id; without one, the file's ``locator`` and the record's title and text
    do, so that lines moving (one deleted above, the file sorted) leave it the same article and
    the same record twice in a file is one."""
    if not isinstance(record, dict):
        raise InputError(where, "not an article: expected a JSON object with at least a 'text' field")
    text = record.get("text")
    if text is not None and not isinstance(text, str):
        raise InputError(where, f"field 'text' must be a string, got {shown(text)}")
    if not text or not text.strip():
        raise InputError(where, "not an article: field 'text' is missing or empty")
    for name in ("url", "title"):
        if record.get(name) is not None and not isinstance(record[name], str):
            raise InputError(where, f"field {name!r} must be a string, got {shown(record[name])}")
    authors = record.get("authors") or []
    if isinstance(authors, str):  # "A. Writer" or "A. Writer; B. Reporter", as front matter takes it
        authors = list(authors_in(authors))
    if not isinstance(authors, list) or not all(isinstance(a, str) for a in authors):
        raise InputError(where, "field 'authors' must be a list of strings, or one string")
    for name in ("text", "title", "url", "published", "authors"):
        value = " ".join(authors) if name == "authors" else record.get(name)
        if isinstance(value, str) and SURROGATES.search(value):
            raise InputError(
                where,
                f"field {name!r} holds a lone surrogate escape such as \\ud800, which is not a "
                "character; write the record as UTF-8 text or drop the escape",
            )
    text = text.replace("\r\n", "\n")
    url = web_address(record.get("url"), where)
    content = text_hash_of(record.get("title") or "", text)[:16]
    said = record.get("published")
    said = (said.strip() or None) if isinstance(said, str) else said
    published = written_date(said) if isinstance(said, str) else parse_date(said, where)
    if published is None and isinstance(said, str):
        yield Problem(
            where,
            f"field 'published' gives no date like 2015-12-16 (got {shown(said)}); stored undated",
            False,
        )
    yield Article(
        id=article_id_for(url or f"{locator}#{content}"),
        text=text,
        title=(record.get("title") or "").strip() or guess_title(text, url),
        url=url,
        source_path=source_path,
        published=published,
        source=host_of(url),
        authors=tuple(authors),
        location=where,
    )
