"""What an article's text says of itself: dates, web addresses, sources, titles and Markdown
front matter, each checked with a message naming the file and field."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

import yaml

from ingest.problem import shown
from rag.errors import InputError
from rag.records import is_web_address

_CHROME = {"share", "advertisement", "advert", "related", "menu", "skip to content", "print", "email"}
_DATELINE = re.compile(r"^[^.!?]{0,80}\s[—–-]+$")


def parse_date(value: Any, location: str, field: str = "published") -> date | None:
    """An ISO date (or datetime) string to a date; None for null or empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(location, f"field {field!r} must be a date like 2015-12-16, got {shown(value)}")
    text = value.strip()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        raise InputError(
            location, f"field {field!r} must be a date like 2015-12-16, got {shown(value)}"
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
            f"field 'url' must be a web address like https://example.org/news/story, got {shown(value)}; "
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


def front_matter(text: str, location: str) -> tuple[dict[str, str | list[str]], str]:
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
        raise InputError(location, "front matter must be 'key: value' lines; see docs/cli.md")
    fields: dict[str, str | list[str]] = {}
    for key, value in parsed.items():
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            fields[str(key).strip().lower()] = [v.strip() for v in value if v.strip()]
        elif isinstance(value, str):
            fields[str(key).strip().lower()] = value.strip()
        elif str(key).strip().lower() in _FRONT_MATTER_FIELDS:
            raise InputError(location, f"front matter field {shown(key)} must be text or a list of texts")
    return fields, body


_FRONT_MATTER_FIELDS = ("title", "published", "date", "url", "source", "authors", "author")
_YAML_TEXT = getattr(yaml, "CBaseLoader", yaml.BaseLoader)  # every scalar stays a string


def _front_matter_lines(block: str, location: str) -> dict[str, str | list[str]]:
    """``key: value`` lines; ``- item`` lines under a key with no value on its line are its list
    (``authors:`` then ``- A. Writer``), as in YAML."""
    fields: dict[str, str | list[str]] = {}
    key = ""
    for line in block.split("\n"):
        if not line.strip():
            continue
        item, held = line.strip(), fields.get(key)
        if item.startswith("-") and key and (held == "" or isinstance(held, list)):
            listed = held if isinstance(held, list) else []
            fields[key] = [*listed, entry] if (entry := _unquoted(item[1:])) else listed
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise InputError(location, f"front matter line {shown(line)} is not 'key: value'")
        key = name.strip().lower()
        fields[key] = _unquoted(value)
    return fields


def _unquoted(value: str) -> str:
    return value.strip().strip('"').strip("'")


def authors_in(named: str | list[str]) -> tuple[str, ...]:
    """The authors a field names: a list's items, or one text's parts between semicolons
    ("A. Writer; B. Reporter"); blanks left out."""
    return tuple(a.strip() for a in (named if isinstance(named, list) else named.split(";")) if a.strip())


def one_field(meta: dict[str, str | list[str]], location: str, *keys: str) -> str:
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
