"""Reading article files: titles, dates, encodings and bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import BBC_DIR, EXAMPLES, SEED_DIR, needs_shared

from ingest.readers import Problem, decode, guess_title, read_file, read_paths
from rag.errors import InputError
from rag.records import Article


def articles_and_problems(paths: list[Path]) -> tuple[list[Article], list[Problem]]:
    items = list(read_paths(paths))
    return (
        [i for i in items if isinstance(i, Article)],
        [i for i in items if isinstance(i, Problem)],
    )


def test_a_folder_named_twice_is_read_once_with_each_note_once(tmp_path: Path) -> None:
    from ingest.readers import iter_files

    (tmp_path / "README.md").write_text("# About these files\n\nNotes for the desk.\n")
    (tmp_path / "feed.json").write_text("[]")
    (tmp_path / "ferry.txt").write_text("Ferry returns\n\nThe island ferry sailed again on Monday.\n")
    entries = list(iter_files([tmp_path, tmp_path, tmp_path / "ferry.txt"]))
    assert [e for e in entries if not isinstance(e, Problem)] == [(tmp_path / "ferry.txt", tmp_path)]
    notes = sorted(Path(e.location).name for e in entries if isinstance(e, Problem))
    assert notes == ["README.md", "feed.json"]  # left out with a note each, once


def test_title_of_a_plain_article_is_its_first_line() -> None:
    text = "Markets rally on rate hopes\n\nShares rose on Monday. Traders cheered.\n"
    assert guess_title(text) == "Markets rally on rate hopes"


def test_title_of_a_scraped_page_is_its_trailing_headline() -> None:
    text = (
        "Share\n\nLeaders Meet In Town, Talk Internet\n\nThe meeting opened on Wednesday.\n\n"
        "Delegates spoke for hours.\n\nLeaders call for shared internet rules"
    )
    assert guess_title(text) == "Leaders call for shared internet rules"


def test_title_skips_page_furniture_and_long_lines() -> None:
    text = "Advertisement\n" + "This opening line is a long sentence that goes on. " * 5
    assert guess_title(text).endswith("...")
    assert "Advertisement" not in guess_title(text)


def test_title_skips_datelines_and_falls_back_to_the_url_slug() -> None:
    text = "Lisbon NEWSDESK —\n\n" + "A ferry strike " + "kept commuters waiting for hours on both banks " * 3
    url = "https://news.example.org/2024/03/02/ferry-strike-leaves-commuters-stranded/index.html"
    assert guess_title(text, url) == "Ferry strike leaves commuters stranded"
    assert guess_title(text).startswith("A ferry strike")  # no url: the first sentence
    headed = "Harbour reopens after storm\nThe harbour reopened."
    assert guess_title(headed, url) == "Harbour reopens after storm"


@needs_shared
def test_seed_title_is_its_headline_not_share() -> None:
    (article,) = articles_and_problems([SEED_DIR])[0]
    assert article.title == "China's Xi calls for cooperation on Internet regulation"
    assert article.text.startswith("Share")


@needs_shared
def test_bbc_title_is_the_first_line() -> None:
    (article,) = list(read_file(BBC_DIR / "business" / "001.txt", BBC_DIR))
    assert isinstance(article, Article)
    assert article.title == "Ad sales boost Time Warner profit"
    assert article.source == "bbc"


@needs_shared
def test_legacy_encoding_is_read_with_a_warning_naming_the_file() -> None:
    items = list(read_file(BBC_DIR / "sport" / "199.txt", BBC_DIR))
    problems = [i for i in items if isinstance(i, Problem)]
    articles = [i for i in items if isinstance(i, Article)]
    assert len(articles) == 1 and "£15.8m" in articles[0].text
    assert len(problems) == 1 and not problems[0].skipped
    assert "sport/199.txt" in str(problems[0]) and "UTF-8" in problems[0].reason


def test_markdown_front_matter_gives_metadata() -> None:
    items = list(read_file(EXAMPLES / "xi-world-internet-conference-2015.md"))
    (article,) = items
    assert isinstance(article, Article)
    assert article.published is not None and article.published.isoformat() == "2015-12-16"
    assert article.url == "https://example.org/citewire/xi-world-internet-conference-2015"
    assert article.source == "Citewire examples"
    assert article.title.startswith("Xi urges a multilateral model")
    assert not article.text.startswith("---")


def test_front_matter_is_yaml_with_lists_and_quotes_and_tolerates_bare_colons(tmp_path: Path) -> None:
    body = "The island council froze ferry fares for the winter.\n"
    files = {
        "block-list.md": "---\ntitle: Ferry fares frozen\nauthors:\n  - Ann Reed\n  - Bo Lin\n---\n",
        "inline-list.md": '---\ntitle: "Analysis: fares"\nauthors: [Ann Reed, Bo Lin]\ntags: [a]\n---\n',
        "bare-colon.md": "---\ntitle: Analysis: fares\nauthors: Ann Reed; Bo Lin\n---\n",
        "bare-colon-list.md": "---\ntitle: Analysis: fares\nauthors:\n- Ann Reed\n  - 'Bo Lin'\n---\n",
        "no-guessing.md": "---\ntitle: Yes\npublished: 2024-02-03T10:00:00Z\n---\n",
        "empty.md": "---\n---\n",
    }
    for name, head in files.items():
        (tmp_path / name).write_text(head + body)
    read = {name: list(read_file(tmp_path / name)) for name in files}
    assert all(len(items) == 1 and isinstance(items[0], Article) for items in read.values()), read
    articles = {name: items[0] for name, items in read.items() if isinstance(items[0], Article)}
    assert articles["block-list.md"].authors == articles["inline-list.md"].authors == ("Ann Reed", "Bo Lin")
    assert (
        articles["bare-colon.md"].authors == articles["bare-colon-list.md"].authors == ("Ann Reed", "Bo Lin")
    )
    assert articles["bare-colon-list.md"].title == "Analysis: fares"
    assert articles["inline-list.md"].title == articles["bare-colon.md"].title == "Analysis: fares"
    assert articles["no-guessing.md"].title == "Yes"  # not YAML's boolean True
    assert str(articles["no-guessing.md"].published) == "2024-02-03"
    assert articles["empty.md"].text == body
    # A field that must be one value, given as a list, names the file and the field.
    (tmp_path / "two-titles.md").write_text("---\ntitle: [One, Two]\n---\n" + body)
    (problem,) = list(read_file(tmp_path / "two-titles.md"))
    assert isinstance(problem, Problem) and problem.skipped
    assert "two-titles.md" in str(problem) and "'title'" in problem.reason


def test_published_line_in_plain_text_gives_the_date() -> None:
    (article,) = list(read_file(EXAMPLES / "nepal-earthquake-2015.txt"))
    assert isinstance(article, Article)
    assert article.published is not None and article.published.isoformat() == "2015-04-25"
    assert article.title == "Powerful earthquake strikes Nepal, toppling buildings in Kathmandu"


def test_a_written_out_date_line_is_read_and_an_unreadable_one_leaves_the_article_undated(
    tmp_path: Path,
) -> None:
    body = "Ferry fares frozen\n\nDate: {}\n\nThe island council froze ferry fares for the winter.\n"
    for i, (line, expected) in enumerate(
        [
            ("12 March 2024", "2024-03-12"),
            ("Tuesday, March 12th, 2024", "2024-03-12"),
            ("Mar 12 2024", "2024-03-12"),
        ]
    ):
        (tmp_path / f"{i}.txt").write_text(body.format(line))
        (article,) = list(read_file(tmp_path / f"{i}.txt"))
        assert isinstance(article, Article) and article.published is not None, line
        assert article.published.isoformat() == expected
    (tmp_path / "vague.txt").write_text(body.format("sometime in spring"))
    problem, article = list(read_file(tmp_path / "vague.txt"))
    assert isinstance(problem, Problem) and not problem.skipped
    assert str(problem).startswith(f"warning: {tmp_path / 'vague.txt'}: the line 'Date: sometime in spring'")
    assert (
        isinstance(article, Article) and article.published is None and article.title == "Ferry fares frozen"
    )
    # Front matter's date too: written out, it is read; unreadable, the article is kept undated.
    matter = "---\ntitle: Ferry fares frozen\npublished: {}\n---\nThe council froze ferry fares.\n"
    (tmp_path / "written.md").write_text(matter.format("16 December 2015"))
    (article,) = list(read_file(tmp_path / "written.md"))
    assert isinstance(article, Article) and article.published is not None
    assert article.published.isoformat() == "2015-12-16"
    (tmp_path / "vague.md").write_text(matter.format("last winter"))
    problem, article = list(read_file(tmp_path / "vague.md"))
    assert str(problem) == (
        f"warning: {tmp_path / 'vague.md'}: the front matter's date 'last winter' gives no date like "
        "2015-12-16; stored undated"
    )
    assert isinstance(article, Article) and article.published is None


def test_html_page_yields_main_text_and_metadata() -> None:
    (article,) = list(read_file(EXAMPLES / "philae-comet-landing-2014.html"))
    assert isinstance(article, Article)
    assert article.title == "Philae lander touches down on a comet"
    assert article.url == "https://example.org/citewire/philae-comet-landing-2014"
    assert article.published is not None and article.published.isoformat() == "2014-11-12"
    assert "Darmstadt" in article.text
    assert "Home" not in article.text  # navigation is not article text


def test_ids_are_deterministic() -> None:
    first = list(read_paths([EXAMPLES]))
    second = list(read_paths([EXAMPLES]))
    assert [a.id for a in first] == [a.id for a in second]  # type: ignore[union-attr]
    assert len({a.id for a in first}) == len(first)  # type: ignore[union-attr]


def test_bad_files_are_named_and_skipped_while_good_ones_are_read(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Good headline here\n\nA fine article body. It has two sentences.\n")
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    # All ASCII, so no binary byte gives them away: their markup would be stored as the article.
    (tmp_path / "renamed.txt").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
    (tmp_path / "letter.md").write_bytes(b"{\\rtf1\\ansi Dear editor, a letter about the bridge.}")
    lines = [
        json.dumps({"url": "https://example.org/a", "title": "A", "text": "Alpha text here."}),
        "{not json",
        json.dumps({"title": "no text"}),
        json.dumps(["a", "list"]),
        json.dumps({"text": "Beta text.", "published": "yesterday", "authors": "Ann Reed; Bo Lin"}),
        json.dumps({"text": "Gamma text.", "published": "  ", "authors": ["X"]}),  # no date, no warning
    ]
    (tmp_path / "batch.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "feed.json").write_text("[" + lines[0] + "]")  # a warning: JSON Lines are read, not JSON
    articles, problems = articles_and_problems([tmp_path, tmp_path / "notes.pdf", tmp_path / "missing"])
    assert sorted(a.title for a in articles) == ["A", "Beta text.", "Gamma text.", "Good headline here"]
    beta = next(a for a in articles if a.title == "Beta text.")
    assert beta.published is None and beta.authors == ("Ann Reed", "Bo Lin")  # undated, not skipped
    reasons = {p.location.removeprefix(str(tmp_path) + "/"): p.reason for p in problems}
    warned = [p.location for p in problems if not p.skipped]
    assert sorted(warned) == [str(tmp_path / "batch.jsonl:5"), str(tmp_path / "feed.json")]
    assert "articles come as .jsonl" in reasons["feed.json"]
    assert "empty file" in reasons["empty.txt"]
    assert "binary" in reasons["image.txt"]
    assert reasons["renamed.txt"].startswith("a PDF file, not text; export the article as .txt")
    assert reasons["letter.md"].startswith("an RTF document, not text")
    assert "not valid JSON" in reasons["batch.jsonl:2"]
    assert "'text'" in reasons["batch.jsonl:3"]
    assert "JSON object" in reasons["batch.jsonl:4"]
    assert reasons["batch.jsonl:5"] == (
        "field 'published' gives no date like 2015-12-16 (got 'yesterday'); stored undated"
    )
    assert "unsupported file type .pdf" in reasons["notes.pdf"]
    assert "no such file" in reasons["missing"]


def test_records_that_would_break_the_run_are_skipped_by_line(tmp_path: Path) -> None:
    """A bad url, a lone surrogate or deep nesting costs its own record, never the file's others;
    and a placeholder url cannot make many articles one (each would replace the last)."""
    lines = [
        json.dumps({"url": "https://example.org/kept", "title": "Kept", "text": "A kept article."}),
        json.dumps({"url": "n/a", "text": "A first story with a placeholder url."}),
        json.dumps({"url": "n/a", "text": "A second story with the same placeholder."}),
        json.dumps({"url": "http://[::1", "text": "A malformed host."}),
        json.dumps({"url": "javascript:alert(1)", "text": "Not a web address."}),
        '{"text": "A broken \\ud800 character."}',
        "[" * 100_000 + "]" * 100_000,
        json.dumps({"url": "  ", "title": "No url", "text": "Known by its file and line."}),
    ]
    (tmp_path / "batch.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "front.md").write_text("---\nurl: http://[::1\n---\n# Broken url\n\nThe body.\n")
    articles, problems = articles_and_problems([tmp_path])
    kept = sorted((a.title, a.url) for a in articles)
    assert kept == [("Kept", "https://example.org/kept"), ("No url", None)]
    reasons = {p.location.removeprefix(str(tmp_path) + "/"): p.reason for p in problems}
    for where in ("batch.jsonl:2", "batch.jsonl:3", "batch.jsonl:4", "batch.jsonl:5", "front.md"):
        assert "field 'url' must be a web address" in reasons[where], where
    assert "lone surrogate" in reasons["batch.jsonl:6"] and "'text'" in reasons["batch.jsonl:6"]
    assert "nested too deeply" in reasons["batch.jsonl:7"]
    assert all(p.skipped for p in problems) and len(problems) == 7


def test_a_folder_that_cannot_be_listed_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # (Permissions cannot make a folder unreadable to root, which runs the tests in CI: a listing
    # that fails as it would for another user stands in for it.)
    import os

    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "memo.txt").write_text("A memo nobody may read.\n")
    (tmp_path / "open.txt").write_text("Ferry fares frozen\n\nThe council froze fares.\n")
    listing = os.scandir

    def scandir(path: str | os.PathLike[str]) -> object:
        if Path(path).name == "private":
            raise PermissionError(13, "Permission denied", str(path))
        return listing(path)

    monkeypatch.setattr(os, "scandir", scandir)
    articles, problems = articles_and_problems([tmp_path])
    assert [a.title for a in articles] == ["Ferry fares frozen"]
    (problem,) = problems
    assert str(problem).startswith(
        f"skipped: {tmp_path / 'private'}: cannot list this folder (Permission denied)"
    )


def test_an_empty_path_is_refused_not_read_as_the_current_folder() -> None:
    articles, problems = articles_and_problems([""])
    assert not articles and len(problems) == 1 and "an empty path" in problems[0].reason


def test_one_path_given_alone_is_read_as_one_path_not_as_its_letters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLES)  # a relative name: its letters, read as paths, would be refused fast
    name = "nepal-earthquake-2015.txt"
    for given in (name, Path(name)):
        articles, problems = articles_and_problems(given)  # type: ignore[arg-type]
        assert [a.source_path for a in articles] == [str(EXAMPLES.resolve() / name)] and not problems


def test_a_file_name_that_is_not_utf8_is_named_escaped_and_the_others_are_read(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Harbour reopens\n\nThe harbour reopened on Monday after repairs.\n")
    bad = tmp_path / os.fsdecode(b"caf\xe9.txt")  # a Latin-1 name, as old archives have
    bad.write_text("Cafe closes\n\nThe cafe closed on Tuesday.\n")
    articles, problems = articles_and_problems([tmp_path])
    assert [a.title for a in articles] == ["Harbour reopens"]
    (problem,) = problems
    reason = "the file name is not valid UTF-8; rename the file to read it"
    assert str(problem) == f"skipped: {tmp_path}/caf\\xe9.txt: {reason}"
    str(problem).encode("utf-8")  # printable
    # Any problem's location is shown so, whatever names it: here a link that leads nowhere.
    bad.unlink()
    (tmp_path / os.fsdecode(b"gone\xe9.md")).symlink_to(tmp_path / "missing.md")
    _, (problem,) = articles_and_problems([tmp_path])
    assert str(problem).startswith(f"skipped: {tmp_path}/gone\\xe9.md: a symbolic link")


def test_decode_rejects_text_in_no_known_encoding() -> None:
    # 0x81 is undefined in Windows-1252 and invalid as UTF-8.
    try:
        decode(b"caf\x81 au lait " * 10, "x.txt")
    except InputError as exc:
        assert exc.location == "x.txt" and "UTF-8" in exc.reason
    else:
        raise AssertionError("undecodable text was accepted")


def test_windows_line_endings_are_normalised() -> None:
    text, warning = decode(b"Title\r\n\r\nBody text.\r\n", "x.txt")
    assert text == "Title\n\nBody text.\n" and warning is None


def test_text_with_a_utf16_or_utf32_byte_order_mark_is_read(tmp_path: Path) -> None:
    story = "Ferry fares frozen\r\n\r\nThe council froze fares for the winter, said Zoë Ødegaard.\r\n"
    for codec in ("utf-16", "utf-16-be", "utf-32"):
        data = story.encode(codec)
        if codec == "utf-16-be":
            data = b"\xfe\xff" + data
        text, warning = decode(data, "x.txt")
        assert text == story.replace("\r\n", "\n") and warning is None, codec
    (tmp_path / "notes.txt").write_bytes(story.encode("utf-16"))
    (article,) = list(read_file(tmp_path / "notes.txt"))
    assert isinstance(article, Article) and article.title == "Ferry fares frozen"
    try:
        decode(b"\xff\xfe" + "Ferry".encode("utf-16-le") + b"\x00\xd8", "x.txt")
    except InputError as exc:
        assert "not valid UTF-16" in exc.reason
    else:
        raise AssertionError("broken UTF-16 was accepted")


def test_an_html_page_is_read_in_the_encoding_it_declares() -> None:
    body = "Паромы снова ходят: совет острова заморозил цены на зиму."
    for tag in (
        '<meta charset="koi8-r">',
        '<meta http-equiv="Content-Type" content="text/html; charset=koi8-r">',
    ):
        page = f"<html><head>{tag}<title>Паромы</title></head><body><p>{body}</p></body></html>"
        text, warning = decode(page.encode("koi8-r"), "x.html", html=True)
        assert body in text and warning is None, tag
    # A declaration Python does not know, or a page that is not what it declares: Windows-1252,
    # with the warning, as before.
    page = '<html><head><meta charset="no-such-codec"></head><body>caf\xe9</body></html>'.encode("latin-1")
    text, warning = decode(page, "x.html", html=True)
    assert "café" in text and warning is not None and "Windows-1252" in warning
    # Plain text is not searched for a declaration.
    text, warning = decode('<meta charset="koi8-r"> Паромы'.encode("koi8-r"), "x.txt")
    assert warning is not None


def test_a_field_of_the_wrong_type_is_named_with_its_value_cut_short(tmp_path: Path) -> None:
    lines = [
        json.dumps({"title": "A number", "text": 42}),
        json.dumps({"title": "A list", "text": ["word"] * 10_000}),
        json.dumps({"title": "Missing"}),
        json.dumps({"text": "Fine text.", "published": list(range(10_000))}),
    ]
    (tmp_path / "types.jsonl").write_text("\n".join(lines) + "\n")
    articles, problems = articles_and_problems([tmp_path / "types.jsonl"])
    assert not articles
    reasons = [p.reason for p in problems]
    assert reasons[0] == "field 'text' must be a string, got 42"
    assert (
        reasons[1].startswith("field 'text' must be a string, got ['word', 'word'") and len(reasons[1]) < 120
    )
    assert reasons[2] == "not an article: field 'text' is missing or empty"
    assert reasons[3].startswith("field 'published' must be a date like 2015-12-16, got [0, 1, 2")
    assert len(reasons[3]) < 140


def test_a_symbolic_link_loop_or_a_dangling_link_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("Harbour news\n\nThe harbour reopened on Tuesday.\n")
    (tmp_path / "one.txt").symlink_to("two.txt")
    (tmp_path / "two.txt").symlink_to("one.txt")
    (tmp_path / "gone.md").symlink_to("moved-away.md")
    articles, problems = articles_and_problems([tmp_path])
    assert [a.title for a in articles] == ["Harbour news"]
    reasons = {Path(p.location).name: p.reason for p in problems}
    assert set(reasons) == {"one.txt", "two.txt", "gone.md"}
    assert reasons["one.txt"].startswith(
        "a symbolic link loop (following it to two.txt never reaches a file)"
    )
    assert reasons["gone.md"].startswith("a symbolic link to moved-away.md, which does not exist")
    _, (named,) = articles_and_problems([tmp_path / "one.txt"])  # named on the command line
    assert "symbolic link loop" in named.reason and named.skipped
    _, (named,) = articles_and_problems([tmp_path / "gone.md"])
    assert "which does not exist" in named.reason


def test_a_page_the_html_parser_fails_on_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import trafilatura

    def fails(*_: object, **__: object) -> None:
        raise ValueError("Document is empty\nat line 1")

    monkeypatch.setattr(trafilatura, "bare_extraction", fails)
    (tmp_path / "page.html").write_text("<html><body><p>The harbour reopened.</p></body></html>")
    (tmp_path / "note.txt").write_text("Harbour news\n\nThe harbour reopened on Tuesday.\n")
    articles, (problem,) = articles_and_problems([tmp_path])
    assert [a.title for a in articles] == ["Harbour news"]
    reason = "the page could not be parsed (ValueError: Document is empty at line 1)"
    assert str(problem) == f"skipped: {tmp_path / 'page.html'}: {reason}"
