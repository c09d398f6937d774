"""Fuzzing the readers and the ingest: no input raises, and one bad file or line costs only itself.

Property-based (Hypothesis): arbitrary bytes, arbitrary JSON values, deep nesting, huge lines and
mixed encodings, as .txt, .md, .html and .jsonl. Every run draws the same examples (derandomized,
no example database), so a failure in CI fails the same way on a laptop.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from conftest import run
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest import ingest
from ingest.readers import Problem, read_bytes, read_file, read_upload, source_path_of
from rag import Library
from rag.records import Article

SUFFIXES = (".txt", ".md", ".html", ".jsonl")
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252", "latin-1")

READING = settings(max_examples=200, deadline=None, derandomize=True, database=None)
INGESTING = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- what a reader promises ------------------------------------------------------------------


def check_reading(items: list[Article | Problem], location: str, source_path: str) -> None:
    """What every read promises: articles with text, and problems that are one line each,
    naming the file (and line) and saying what is wrong."""
    where = re.compile(re.escape(location) + r"(:[0-9]+)?")
    for item in items:
        assert isinstance(item, Article | Problem), item
        if isinstance(item, Problem):
            message = str(item)
            assert len(message.splitlines()) == 1 and "\n" not in message, message
            assert where.fullmatch(item.location), item
            assert location in message and len(item.reason.split()) >= 2, item
            continue
        assert item.text.strip(), item
        assert re.fullmatch(r"a[0-9a-f]{16}", item.id), item
        assert item.location is not None and where.fullmatch(item.location), item
        assert item.source_path == source_path and isinstance(item.title, str), item
        assert item.content_hash  # every field is text that can be stored (no lone surrogate)


def articles_in(items: Iterable[Article | Problem]) -> list[Article]:
    return [i for i in items if isinstance(i, Article)]


def problems_in(items: Iterable[Article | Problem]) -> list[Problem]:
    return [i for i in items if isinstance(i, Problem)]


# -- inputs ----------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)

# Pieces of real-looking news files: page furniture, datelines, date lines, front matter, markup.
FRAGMENTS = (
    "Share",
    "Advertisement",
    "Washington CNN —",
    "Published: 12 March 2024",
    "Date: sometime in spring",
    "# Ferry fares frozen",
    "---",
    "title: Analysis: fares",
    "url: n/a",
    "url: http://[::1",
    "<p>",
    "</p>",
    "&amp;",
    "Zoë Ødegaard paid £15.8m",
    "“quoted”",
    "\u2028",
    "\ufeff",
    "\x00",
    '{"text": ',
    "The island council froze ferry fares for the winter.",
)
prose = st.tuples(
    st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=40), max_size=12),
    st.sampled_from(["\n", " ", "\n\n", "\r\n", "\r"]),
).map(lambda parts: parts[1].join(parts[0]))
texts = st.text() | prose


def encoded(strings: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """``strings`` in one of ``ENCODINGS`` (characters it cannot hold become ``?``)."""
    return st.tuples(strings, st.sampled_from(ENCODINGS)).map(lambda t: t[0].encode(t[1], "replace"))


# UTF-8 with Latin-1 or UTF-16 pieces (and stray bytes) in between, as files pasted together are.
mixed_encodings = st.lists(
    encoded(st.text(max_size=30) | st.sampled_from(FRAGMENTS)) | st.binary(max_size=4), min_size=1, max_size=8
).map(b"".join)


def deep_line(depth: int, shape: str) -> str:
    """A JSON line nested ``depth`` deep: a list, an object, or a field of an otherwise good record."""
    if shape == "list":
        return "[" * depth + "]" * depth
    if shape == "object":
        return '{"a": ' * depth + "0" + "}" * depth
    return '{"text": "A story with a deep field.", "extra": ' + "[" * depth + "]" * depth + "}"


deep_lines = st.builds(deep_line, st.integers(2_000, 100_000), st.sampled_from(["list", "object", "record"]))
# JSON has no limit on a number's digits; Python refuses to convert more than 4300 to an int.
long_numbers = st.integers(4_000, 6_000).map(lambda digits: "9" * digits)

record_bodies = st.fixed_dictionaries(
    {"text": st.text(min_size=1).filter(str.strip)},
    optional={
        "title": st.none() | st.text(max_size=60),
        "published": st.none() | st.dates().map(date.isoformat),
        "authors": st.lists(st.text(max_size=20), max_size=3),
        "tags": json_values,
    },
)
web_addresses = st.integers(0, 10**6).map(lambda n: f"https://example.org/fuzz/{n}")


def _is_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:  # JSONDecodeError, or a number too long to convert
        return False
    except RecursionError:
        return False


# Lines that are never an article, each for its own reason.
not_json = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\ufeff"), min_size=1
).filter(lambda line: bool(line.strip()) and not _is_object(line))
not_objects = json_values.filter(lambda value: not isinstance(value, dict)).map(json.dumps)
without_text = st.dictionaries(st.text(max_size=10).filter(lambda k: k != "text"), json_values, max_size=4)
empty_text = st.sampled_from([None, "", " \t ", 0, ["text"], {"text": "nested"}, False])
bad_web_addresses = st.sampled_from(
    [
        "n/a",
        "ftp://example.org/a",
        "http://[::1",
        "javascript:alert(1)",
        "www.example.org",
        7,
        ["https://example.org/a"],
        {"href": "x"},
        True,
    ]
)
# (A date string that gives no date, "yesterday", is stored undated with a warning, and one
# string of authors is read as "A; B": neither costs its record.)
bad_dates = st.sampled_from([20151216, ["2015-12-16"], {"y": 2015}, True])
bad_authors = st.sampled_from([5, {"name": "Ann Reed"}, ["Ann Reed", 5], [None], True])
bad_titles = st.sampled_from([5, ["A title"], {"t": 1}, True, 1.5])
bad_records = st.one_of(
    without_text,
    st.builds(lambda text, rest: {**rest, "text": text}, empty_text, without_text),
    st.builds(lambda r, url: {**r, "url": url}, record_bodies, bad_web_addresses),
    st.builds(lambda r, day: {**r, "published": day}, record_bodies, bad_dates),
    st.builds(lambda r, authors: {**r, "authors": authors}, record_bodies, bad_authors),
    st.builds(lambda r, title: {**r, "title": title}, record_bodies, bad_titles),
)
lone_surrogates = st.sampled_from(
    [
        '{"text": "A story with a \\ud800 in it."}',
        '{"text": "A story.", "title": "Broken \\udc80 title"}',
        '{"text": "A story.", "url": "https://example.org/\\udfff"}',
        '{"text": "A story.", "authors": ["Ann \\ud83d Reed"]}',
    ]
)
bad_lines = st.one_of(
    not_json,
    not_objects,
    bad_records.map(json.dumps),
    lone_surrogates,
    deep_lines,
    long_numbers,
)
any_lines = st.one_of(
    bad_lines,
    st.builds(lambda r, url: json.dumps({**r, "url": url}), record_bodies, st.none() | web_addresses),
    st.just('{"text": "A story with a long number.", "count": ' + "9" * 5_000 + "}"),
    st.just(""),
)
jsonl_documents = encoded(
    st.tuples(st.lists(any_lines, max_size=8), st.sampled_from(["\n", "\r\n"])).map(
        lambda parts: parts[1].join(parts[0])
    )
)

# Front matter values that YAML reads in other ways than as text: lists, maps, anchors, tags.
FRONT_MATTER_VALUES = (
    "[Ann Reed, Bo Lin]", "[]", "{}", "2015-12-16", "2024-02-03T10:00:00Z", "yesterday",
    "https://example.org/a", "n/a", '"quoted: colon"', "'", "|", ">", "~", "[One, Two]", "{a: 1}",
    "[" * 5_000 + "]" * 5_000, "&a [*a, *a]", "!!python/object/apply:os.system [ls]",
)  # fmt: skip
FRONT_MATTER_KEYS = ("title", "published", "date", "url", "source", "authors", "author", "tags")
front_matter_lines = st.one_of(
    st.builds(
        "{}: {}".format,
        st.sampled_from(FRONT_MATTER_KEYS) | st.text(max_size=8),
        st.text(max_size=30) | st.sampled_from(FRONT_MATTER_VALUES),
    ),
    st.sampled_from(["- Ann Reed", "  - Bo Lin", "[", "? [a, b]", ": c", "key", "---", "...", "%YAML 1.1"]),
)
markdown_documents = encoded(
    st.builds(
        lambda lines, closed, body: "---\n" + "\n".join(lines) + ("\n---\n" if closed else "\n") + body,
        st.lists(front_matter_lines, max_size=6),
        st.booleans(),
        texts,
    )
)

# What a page may declare: real codecs, codecs that are not text encodings, and none at all.
CHARSETS = ("utf-8", "koi8-r", "cp1252", "utf-16", "utf-7", "shift_jis", "unicode_escape", "idna",
            "rot13", "base64", "zlib", "undefined", "no-such-codec", "")  # fmt: skip


def html_page(charset: str, title: str, body: bytes) -> bytes:
    head = f'<html><head><meta charset="{charset}"><title>{title}</title></head>'
    head += f"<body><article><h1>{title}</h1><p>"
    return head.encode("utf-8", "replace") + body + b"</p></article></body></html>"


html_documents = st.builds(
    html_page, st.sampled_from(CHARSETS), st.text(max_size=40), encoded(texts) | mixed_encodings
)
documents = st.one_of(
    st.binary(max_size=2_000),
    encoded(texts),
    mixed_encodings,
    jsonl_documents,
    markdown_documents,
    html_documents,
)

# -- 1. every reader, every input --------------------------------------------------------------


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@READING
@given(data=documents, suffix=st.sampled_from(SUFFIXES))
def test_any_bytes_read_as_articles_and_one_line_problems(scratch: Path, data: bytes, suffix: str) -> None:
    path = scratch / f"story{suffix}"
    path.write_bytes(data)
    first = list(read_file(path, scratch))
    check_reading(first, str(path), source_path_of(path))
    again = list(read_file(path, scratch))
    assert again == first  # the same bytes give the same articles, ids included
    uploaded = list(read_upload(data, f"story{suffix}"))
    check_reading(uploaded, f"story{suffix}", f"upload:story{suffix}")
    assert list(read_upload(data, f"story{suffix}")) == uploaded


def five_megabytes(unit: str) -> str:
    return unit * (5_000_000 // len(unit))


NASTY = {
    "deep list": deep_line(100_000, "list"),
    "deep object": deep_line(100_000, "object"),
    "deep field of a record": deep_line(100_000, "record"),
    "a 5 MB record": '{"text": "' + five_megabytes("The ferry ran late again. ") + '"}',
    "a 5 MB line cut short": '{"text": "' + five_megabytes("The ferry ran late again. "),
    "a 5 MB line of words": five_megabytes("ferry "),
    "a number of 5000 digits": "9" * 5_000,
    "a record with a number of 5000 digits": '{"text": "A story.", "count": ' + "9" * 5_000 + "}",
    "a lone surrogate": '{"text": "A story with a \\ud800 in it."}',
    "deep front matter": "---\ntitle: " + "[" * 100_000 + "]" * 100_000 + "\n---\nThe ferry ran late.\n",
}
NASTY_BYTES = {
    **{name: text.encode() for name, text in NASTY.items()},
    "UTF-16 without a byte-order mark": '{"text": "The ferry ran late again."}\n'.encode("utf-16-le"),
    "UTF-16 with a broken byte-order mark": b"\xff\xfe" + "Ferry".encode("utf-16-le") + b"\x00\xd8",
    "Latin-1 in UTF-8": '{"text": "Zoë said the ferry ran late."}\n'.encode() + b'{"text": "Caf\xe9"}\n',
    "a byte neither UTF-8 nor Windows-1252": b'{"text": "The ferry ran late \x81 again."}\n',
    "NUL bytes": b"The ferry\x00 ran late.\x00\n" * 10,
    "a page declaring a codec that is no text encoding": html_page("rot13", "Ferries", b"caf\xe9 au lait"),
    "a page declaring the undefined codec": html_page("undefined", "Ferries", b"caf\xe9 au lait"),
}


@pytest.mark.parametrize("suffix", SUFFIXES)
@pytest.mark.parametrize("name", NASTY_BYTES)
def test_nasty_files_read_as_articles_and_one_line_problems(scratch: Path, name: str, suffix: str) -> None:
    data = NASTY_BYTES[name]
    path = scratch / f"nasty{suffix}"
    path.write_bytes(data)
    items = list(read_file(path, scratch))
    check_reading(items, str(path), source_path_of(path))
    assert items, "a file gives an article or says why not"


# -- 2. JSONL: a bad line costs only itself ----------------------------------------------------

feed_lines = st.lists(
    st.one_of(record_bodies.map(lambda r: ("record", r)), bad_lines.map(lambda line: ("bad", line))),
    min_size=1,
    max_size=10,
)


def feed(lines: list[tuple[str, dict[str, object] | str]], ascii_only: bool) -> tuple[list[str], list[str]]:
    """The file's lines (each record given its own url) and the urls of the records, in order."""
    text: list[str] = []
    urls: list[str] = []
    for kind, line in lines:
        if kind == "record" and isinstance(line, dict):
            urls.append(f"https://example.org/feed/{len(urls)}")
            text.append(json.dumps({**line, "url": urls[-1]}, ensure_ascii=ascii_only))
        else:
            text.append(str(line))
    return text, urls


@READING
@given(
    lines=feed_lines,
    ascii_only=st.booleans(),
    blank=st.sampled_from(["", "  ", "\t"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]),
)
def test_jsonl_gives_one_article_per_record_and_one_problem_per_bad_line(
    lines: list[tuple[str, dict[str, object] | str]],
    ascii_only: bool,
    blank: str,
    newline: str,
    encoding: str,
) -> None:
    text, urls = feed(lines, ascii_only)
    # A blank line between every two: line numbers count it, and it is neither article nor problem.
    data = (newline + blank + newline).join(text).encode(encoding)
    items = list(read_bytes(data, ".jsonl", "feed.jsonl", "feed", "/news/feed.jsonl", "news"))
    check_reading(items, "feed.jsonl", "/news/feed.jsonl")
    articles, problems = articles_in(items), problems_in(items)
    assert [a.url for a in articles] == urls
    bad = [f"feed.jsonl:{2 * i + 1}" for i, (kind, _) in enumerate(lines) if kind == "bad"]
    assert [p.location for p in problems] == bad and all(p.skipped for p in problems), problems
    assert [a.location for a in articles] == [
        f"feed.jsonl:{2 * i + 1}" for i, (kind, _) in enumerate(lines) if kind == "record"
    ]
    # The records read exactly as they do in a file of their own.
    alone = [line for line, (kind, _) in zip(text, lines, strict=True) if kind == "record"]
    own = articles_in(
        read_bytes("\n".join(alone).encode(), ".jsonl", "feed.jsonl", "feed", "/news/feed.jsonl", "news")
    )
    assert [replace(a, location=None) for a in articles] == [replace(a, location=None) for a in own]


@READING
@given(
    records=st.lists(record_bodies, min_size=1, max_size=4),
    odd=st.sampled_from(["latin-1", "cp1252"]),
    odd_text=st.text(min_size=1).filter(str.strip),
    at=st.integers(0, 4),
)
def test_a_jsonl_line_in_another_encoding_costs_only_itself(
    records: list[dict[str, object]], odd: str, odd_text: str, at: int
) -> None:
    """Lines pasted together from files of different encodings: the UTF-8 records read as they
    would alone, and the odd line is read with a warning or skipped, named by its line."""
    text, urls = feed([("record", r) for r in records], ascii_only=False)
    lines = [line.encode() for line in text]
    odd_line = json.dumps({"text": odd_text, "url": "https://example.org/feed/odd"}, ensure_ascii=False)
    at = min(at, len(lines))
    lines.insert(at, odd_line.encode(odd, "replace"))
    items = list(read_bytes(b"\n".join(lines), ".jsonl", "feed.jsonl", "feed", "/news/feed.jsonl", "news"))
    check_reading(items, "feed.jsonl", "/news/feed.jsonl")
    own = articles_in(
        read_bytes("\n".join(text).encode(), ".jsonl", "feed.jsonl", "feed", "/news/feed.jsonl", "news")
    )
    good = [a for a in articles_in(items) if a.url != "https://example.org/feed/odd"]
    assert [a.url for a in good] == urls
    assert [replace(a, location=None) for a in good] == [replace(a, location=None) for a in own]
    # A warning may name the file; a record skipped names its line.
    assert all(p.location in ("feed.jsonl", f"feed.jsonl:{at + 1}") for p in problems_in(items)), items


# -- 3. ingest: the good files are stored whatever the bad one holds ---------------------------

GOOD_FILES = {
    "harbour.txt": "Harbour tolls rise for visiting yachts\n\nPublished: 3 May 2024\n\n"
    "The Portwell harbour board raised mooring tolls for visiting yachts by a tenth on Thursday, "
    "saying the inner basin must be dredged before the summer regatta.\n",
    "orchard.md": "---\ntitle: Orchard volunteers save the old pear trees\npublished: 2024-04-20\n"
    "url: https://example.org/fuzz-good/orchard\nauthors: [Ann Reed]\n---\n\n"
    "Forty volunteers spent the weekend pruning the community orchard on Mill Lane, where "
    "some pear trees are more than a century old.\n",
    "bulletin.jsonl": json.dumps(
        {
            "url": "https://example.org/fuzz-good/library-hours",
            "title": "Library stays open later",
            "text": "The town library will stay open until nine on weekday evenings from June.",
        }
    )
    + "\n"
    + json.dumps(
        {
            "title": "Bus route 12 returns",
            "text": "Bus route 12 runs again through the old town after the bridge repairs ended.",
        }
    )
    + "\n",
}
GOOD_TITLES = {
    "Harbour tolls rise for visiting yachts",
    "Orchard volunteers save the old pear trees",
    "Library stays open later",
    "Bus route 12 returns",
}


# A feed with a record stored, one skipped and one twice; a page in Windows-1252; two nasty files.
FEED_WITH_REPEATS = (
    '{"url": "https://example.org/fuzz/ferry", "text": "The ferry ran late on Monday."}\n'
    '{"url": "https://example.org/fuzz/ferry", "text": "The ferry ran late on Monday."}\n'
    "{oops\n"
    '{"text": "The night bus now stops at the station."}\n'
)
WINDOWS_PAGE = html_page(
    "cp1252", "Ferry fares", "The council froze ferry fares, said Zoë Ødegaard. ".encode("cp1252") * 4
)


@INGESTING
@given(data=documents, suffix=st.sampled_from(SUFFIXES))
@example(data=FEED_WITH_REPEATS.encode(), suffix=".jsonl")
@example(data=WINDOWS_PAGE, suffix=".html")
@example(data=NASTY_BYTES["deep list"], suffix=".jsonl")
@example(data=NASTY_BYTES["Latin-1 in UTF-8"], suffix=".jsonl")
def test_a_fuzzed_file_beside_good_ones_never_costs_them(
    make_library: Callable[..., Library], scratch: Path, data: bytes, suffix: str
) -> None:
    folder = Path(tempfile.mkdtemp(dir=scratch))
    for name, text in GOOD_FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    fuzzed = folder / f"fuzzed{suffix}"
    fuzzed.write_bytes(data)
    paths = [folder / "harbour.txt", fuzzed, folder / "orchard.md", folder / "bulletin.jsonl"]
    library = make_library(folder / "library")
    seen: list[Problem] = []
    report = ingest(paths, library, progress=False, on_problem=seen.append)

    stored = library.sources()
    good = {a.title for a in stored if a.source_path != source_path_of(fuzzed)}
    assert good == GOOD_TITLES
    # The fuzzed file's articles are stored, or each is named in a problem; nothing else is skipped.
    read = list(read_file(fuzzed, folder))
    expected = articles_in(read)
    from_fuzzed = {a.id for a in stored if a.source_path == source_path_of(fuzzed)}
    assert from_fuzzed <= {a.id for a in expected}
    named = {p.location for p in seen if p.skipped}
    assert all(a.id in from_fuzzed or a.location in named for a in expected)
    assert all(p.location.startswith(str(fuzzed)) for p in seen if p.skipped), seen
    assert all(len(str(p).splitlines()) == 1 for p in seen), seen
    whole = len(from_fuzzed) == len(expected) and not any(p.skipped for p in problems_in(read))
    assert (report.skipped > 0) == (not whole), (report.summary(), seen)
    assert from_fuzzed or report.skipped > 0  # a file that gave nothing is named
    # Nothing is stored twice, and ingesting the same files again stores nothing new.
    assert len(stored) == len({a.id for a in stored}) == library.store.count_articles() == report.added
    chunks = library.store.count_chunks()
    assert chunks == sum(a.chunks for a in stored) == report.chunks
    again = ingest(paths, library, progress=False)
    assert (again.added, again.updated, again.removed, again.chunks) == (0, 0, 0, 0), again.summary()
    assert again.unchanged == report.added and again.skipped == report.skipped
    assert library.store.count_articles() == len(stored) and library.store.count_chunks() == chunks


# -- 4. the command: bad files named on one line each, never a traceback -----------------------


def test_the_ingest_command_names_each_nasty_file_on_one_line(tmp_path: Path) -> None:
    for name, text in GOOD_FILES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    nasty = {
        "deep.jsonl": NASTY_BYTES["deep list"],
        "huge.jsonl": NASTY_BYTES["a 5 MB line cut short"],
        "undecodable.jsonl": NASTY_BYTES["a byte neither UTF-8 nor Windows-1252"],
        "utf16.jsonl": NASTY_BYTES["UTF-16 without a byte-order mark"],
        "digits.jsonl": NASTY_BYTES["a number of 5000 digits"],
    }
    for name, data in nasty.items():
        (tmp_path / name).write_bytes(data)
    # A page declaring a codec that is no text encoding is read as Windows-1252, with a warning.
    (tmp_path / "rot13.html").write_bytes(NASTY_BYTES["a page declaring a codec that is no text encoding"])
    # Any one of them that stopped the run would cost the good ones, wherever they are named.
    paths = [str(tmp_path / name) for name in [*nasty, "rot13.html", *GOOD_FILES]]
    data_dir = tmp_path / "library"
    done = run("ingest", *paths, "--quiet", "--data-dir", str(data_dir), data_dir=data_dir)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    for name in nasty:
        naming = [line for line in lines if str(tmp_path / name) in line]
        assert len(naming) == 1 and naming[0].startswith(f"skipped: {tmp_path / name}"), (name, lines)
        assert len(naming[0]) < 1_000, naming[0][:1_000]  # the 5 MB line is not quoted back
    (warned,) = [line for line in lines if "rot13.html" in line]
    assert warned.startswith(f"warning: {tmp_path / 'rot13.html'}: not valid UTF-8")
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith(
        f"5 articles (5 added, 0 updated, 0 unchanged, 0 duplicates, 0 removed, {len(nasty)} skipped)"
    )
    listed = run("sources", "--json", "--data-dir", str(data_dir), data_dir=data_dir)
    assert {row["title"] for row in json.loads(listed.stdout)} == {*GOOD_TITLES, "Ferries"}
