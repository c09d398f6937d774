"""What the chat page renders from article text is escaped; links are only http(s)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import free_port

from rag import ConfigError
from ui.cli import main
from ui.render import answer_markdown, escape_markdown, safe_url, source_card, sources_html
from ui.serving import LOOPBACK, read_credentials

PAYLOAD = '<img src=x onerror="alert(1)"> and <script>alert(2)</script> *bold* [link](javascript:x)'


def record(quote: str, passage: str, url: str | None) -> dict[str, object]:
    return {
        "question": "q <b>",
        "answer": f"{quote} [1]",
        "refused": False,
        "citations": [
            {
                "n": 1, "article_id": "a1", "title": "T <script>", "url": url, "source_path": None,
                "published": "2015-12-16", "source": "S & Co", "quote": quote, "passage": passage,
                "start": 0, "end": len(quote), "score": 0.5,
            }
        ],
    }  # fmt: skip


def test_markdown_escapes_html_and_markdown() -> None:
    escaped = escape_markdown(PAYLOAD)
    assert "<img" not in escaped and "<script>" not in escaped
    assert "&lt;img" in escaped and r"\*bold\*" in escaped and r"\[link\]" in escaped


def test_a_web_address_is_left_as_written_for_the_page_to_link() -> None:
    # The browser test checks how the page shows it; here, what may and may not stay unescaped.
    assert escape_markdown("(see http://a.example/x_y) *now*") == "\\(see http://a.example/x_y) \\*now\\*"
    # Without a host after the scheme nothing is linked, so nothing is left unescaped either.
    assert escape_markdown("http://[x](javascript:go)") == "http://\\[x\\]\\(javascript:go\\)"
    assert escape_markdown("http://a.example/<b>") == "http://a.example/&lt;b&gt;"


def test_answer_message_links_each_citation_to_its_card() -> None:
    text = answer_markdown(record(PAYLOAD, PAYLOAD, None), turn=2)
    assert text.endswith("[\\[1\\]](#source-2-1)")
    assert "<script>" not in text


def test_refusal_reads_as_a_refusal() -> None:
    text = answer_markdown({"refused": True, "citations": []}, turn=0)
    assert text.startswith("**Not in the articles.**")


def test_source_card_escapes_and_highlights() -> None:
    quote = "A <b>bold</b> claim."
    card = source_card(
        record(quote, f"Before. {quote} After.", "https://example.org/x?a=1&b=2")["citations"], 0
    )  # type: ignore[arg-type]
    assert 'Before. <mark class="cw-quote">A &lt;b&gt;bold&lt;/b&gt; claim.</mark>' in card  # one: unnumbered
    assert "T &lt;script&gt;" in card and "S &amp; Co" in card
    assert 'href="https://example.org/x?a=1&amp;b=2"' in card
    assert 'id="source-0-1"' in card


def test_quotes_of_one_passage_share_its_card() -> None:
    passage = "First <i>claim</i>. Second claim. Third claim."
    one = record("Second claim.", passage, None)["citations"][0]  # type: ignore[index]
    cited = [one, {**one, "n": 2, "quote": "First <i>claim</i>."}, {**one, "n": 3, "article_id": "a2"}]
    panel = sources_html([{"question": "q", "refused": False, "citations": cited}])
    assert panel.count('<details class="cw-card"') == 2  # the first two quote one passage
    card = panel[panel.index('id="source-0-1"') : panel.index('id="source-0-3"')]
    assert card.count("First &lt;i&gt;claim&lt;/i&gt;.") == 1 and "[1]</span> <span" in card
    # Each highlight of a shared card says which quote it is.
    assert '<sup class="cw-qn">[2]</sup><mark class="cw-quote" id="source-0-2">First &lt;i&gt;claim' in card
    assert '<sup class="cw-qn">[1]</sup><mark class="cw-quote">Second claim.</mark>' in card


def test_only_web_links_are_linked() -> None:
    assert safe_url("javascript:alert(1)") is None
    assert safe_url("data:text/html,x") is None
    assert safe_url("https://example.org/a") == "https://example.org/a"
    card = source_card(record("q", "q", "javascript:alert(1)")["citations"], 0)  # type: ignore[arg-type]
    assert "javascript:" not in card


def test_sources_panel_keeps_every_turn() -> None:
    html = sources_html([record("one", "one", None), {"question": "two", "refused": True, "citations": []}])
    assert html.index("Q2: two") < html.index("Q1: q &lt;b&gt;")
    assert "No sources" in html


def test_credentials_from_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "auth"
    path.write_text("ann:secret\n\nbob:pw:with:colons\n")
    assert read_credentials(str(path), {}) == [("ann", "secret"), ("bob", "pw:with:colons")]
    assert read_credentials(None, {"CITEWIRE_AUTH": "x:y"}) == [("x", "y")]
    assert read_credentials(None, {}) is None
    path.write_text("no-colon\n")
    with pytest.raises(ConfigError, match="user:password"):
        read_credentials(str(path), {})
    path.write_bytes(b"ann:caf\xe9\n")  # Latin-1, not UTF-8
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        read_credentials(str(path), {})


def test_chat_refuses_a_public_address_without_auth(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert "127.0.0.1" in LOOPBACK
    # A free port, so the test does not depend on whether something serves on the default one.
    status = main(["chat", "--host", "0.0.0.0", "--port", str(free_port()), "--data-dir", str(tmp_path)])
    assert status == 1
    err = capsys.readouterr().err
    assert "--auth FILE" in err and "--no-auth" in err


def test_a_refusal_under_filters_names_them_and_how_to_lift_them() -> None:
    from datetime import date

    from ui.render import filter_note

    assert filter_note(None, None, None) == "" and filter_note(None, None, []) == ""
    both = filter_note(date(2015, 1, 1), date(2015, 12, 31), ["BBC"])
    assert both == (
        'Only articles published from 2015-01-01 to 2015-12-31 from the source "BBC" were searched; '
        "clear the filters to search all."
    )
    assert 'from the sources "cnn.com", "BBC"' in filter_note(None, None, ["cnn.com", "BBC"])


def test_an_upload_names_its_first_files_and_counts_the_rest() -> None:
    from rag.text import first_of

    assert first_of(["a.txt"], 3) == "a.txt"
    assert first_of(["a.txt", "b.md", "c.html"], 3) == "a.txt, b.md, c.html"
    assert first_of(["a.txt", "b.md", "c.html", "d.jsonl", "e.txt"], 3) == "a.txt, b.md, c.html and 2 more"


def test_two_quotes_of_the_same_words_mark_both_places() -> None:
    """Two sentences of one passage that read alike: each quote marks its own place (sorting the
    two compared their anchors, None and a string, and raised)."""
    passage = "Cheers. The crowd sang. Later, again: Cheers. The end."
    one = record("Cheers.", passage, None)["citations"][0]  # type: ignore[index]
    card = source_card([one, {**one, "n": 2}], 0)
    assert card.count('<mark class="cw-quote"') == 2 and 'id="source-0-2">Cheers.</mark> The end.' in card
