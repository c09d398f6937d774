"""Ingest into a real embedded Chroma: idempotence, updates, forgetting and bad input."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES

from ingest import ingest, ingest_items, read_file, read_upload
from rag import Article, Library, Query


def stored_chunk_ids(library: Library) -> list[str]:
    ids: list[str] = []
    for article in library.sources():
        ids.extend(f"{article.id}:{i}" for i in range(article.chunks))
    return sorted(ids)


@pytest.fixture
def news_folder(tmp_path: Path) -> Path:
    """A copy of the example articles, for a test to change."""
    folder = tmp_path / "news"
    shutil.copytree(EXAMPLES, folder)
    return folder


def test_ingest_is_idempotent(make_library: Callable[..., Library]) -> None:
    library = make_library()
    first = ingest([EXAMPLES], library, progress=False)
    assert (first.added, first.updated, first.unchanged, first.skipped) == (5, 0, 0, 0)
    assert first.chunks == library.store.count_chunks() > 5
    again = ingest([EXAMPLES], library, progress=False)
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 5, 0)
    assert library.store.count_chunks() == first.chunks
    assert library.store.count_articles() == 5
    # Nothing changed, so nothing loads the model: a library without one stays without one.
    modelless = Library(library.settings, library.store)
    assert ingest([EXAMPLES], modelless, progress=False).unchanged == 5
    assert modelless._embedder is None


def test_changed_article_replaces_its_chunks(make_library: Callable[..., Library], news_folder: Path) -> None:
    folder = news_folder
    library = make_library()
    ingest([folder], library, progress=False)
    target = folder / "paris-climate-agreement-2015.md"
    before = {a.id: a for a in library.sources()}
    long_body = target.read_text() + "\n" + ("An added paragraph about the talks in Paris. " * 60) + "\n"
    target.write_text(long_body)
    report = ingest([folder], library, progress=False)
    assert (report.added, report.updated, report.unchanged) == (0, 1, 4)
    after = {a.id: a for a in library.sources()}
    assert after.keys() == before.keys()
    changed = [i for i in after if after[i].content_hash != before[i].content_hash]
    assert len(changed) == 1 and after[changed[0]].chunks > before[changed[0]].chunks
    assert library.store.count_chunks() == sum(a.chunks for a in after.values())
    # Shrink it again: chunks past the new count are deleted, none left behind.
    target.write_text(long_body[:600])
    ingest([folder], library, progress=False)
    final = {a.id: a for a in library.sources()}
    assert final[changed[0]].chunks < before[changed[0]].chunks
    assert library.store.count_chunks() == sum(a.chunks for a in final.values())


def test_forget_removes_article_and_chunks(make_library: Callable[..., Library]) -> None:
    library = make_library()
    ingest([EXAMPLES], library, progress=False)
    victim = next(a for a in library.sources() if "Pluto" in a.title)
    assert library.forget(victim.id)
    assert victim.id not in {a.id for a in library.sources()}
    assert library.store.count_chunks() == sum(a.chunks for a in library.sources())
    assert not library.forget(victim.id)
    hits = library.search(Query("New Horizons flyby of Pluto", top_k=10))
    assert all(h.chunk.article_id != victim.id for h in hits)


FEED = [
    {
        "title": "Harbour bridge reopens",
        "text": "The Portwell harbour bridge reopened on Friday after repairs.",
    },
    {
        "title": "Library opens later",
        "text": "Portwell's central library will stay open until nine on weekdays.",
    },
    {"title": "Marathon finish moves", "text": "The Portwell marathon now ends in the waterfront park."},
]


def test_a_file_read_again_is_the_truth_about_its_articles(
    make_library: Callable[..., Library], tmp_path: Path
) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_text("".join(json.dumps(r) + "\n" for r in FEED))
    library = make_library()
    ingest([feed, EXAMPLES], library, progress=False)
    # A damaged line keeps everything stored: the file cannot say what it holds.
    feed.write_text(json.dumps(FEED[0]) + "\n{oops\n" + json.dumps(FEED[2]) + "\n")
    damaged = ingest([feed], library, progress=False)
    assert (damaged.removed, damaged.skipped) == (0, 1)
    assert sorted(a.title for a in library.sources() if a.source_path == str(feed)) == sorted(
        r["title"] for r in FEED
    )
    # Deleting the middle line moves the last record up a line: it stays the same article, not
    # stored twice, and the deleted record goes.
    feed.write_text(json.dumps(FEED[0]) + "\n" + json.dumps(FEED[2]) + "\n")
    seen: list[str] = []
    report = ingest([feed], library, progress=False, on_problem=lambda p: seen.append(str(p)))
    assert (report.unchanged, report.updated, report.added, report.removed, report.skipped) == (2, 0, 0, 1, 0)
    assert any("'Library opens later'" in s and "no longer in this file" in s for s in seen)
    assert sorted(a.title for a in library.sources() if a.source_path == str(feed)) == [
        "Harbour bridge reopens",
        "Marathon finish moves",
    ]
    assert all(s.startswith("warning:") for s in seen)
    assert "removed" in report.summary()
    assert library.store.count_chunks() == len(library.lexical) == sum(a.chunks for a in library.sources())
    assert all(
        h.chunk.title != "Library opens later"
        for h in library.search(Query("library opening hours", top_k=10))
    )
    # Other files' articles are untouched.
    assert library.store.count_articles() == 5 + 2
    # An edited record without a url is a new article that takes the old one's place.
    edited = {**FEED[2], "text": FEED[2]["text"] + " Entries open in May."}
    feed.write_text(json.dumps(FEED[0]) + "\n" + json.dumps(edited) + "\n")
    report = ingest([feed], library, progress=False)
    assert (report.unchanged, report.added, report.removed) == (1, 1, 1)
    (marathon,) = [a for a in library.sources() if a.title == "Marathon finish moves"]
    assert "Entries open in May." in (library.article_text(marathon.id) or "")
    assert library.store.count_articles() == 5 + 2


def test_bad_input_is_reported_and_nothing_stored_is_lost(
    make_library: Callable[..., Library], tmp_path: Path
) -> None:
    library = make_library()
    ingest([EXAMPLES], library, progress=False)
    before = {a.id: a.content_hash for a in library.sources()}
    chunks_before = library.store.count_chunks()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.md").write_text("")
    (bad / "blob.txt").write_bytes(bytes(range(256)) * 4)
    (bad / "lines.jsonl").write_text(
        '{"url": "https://example.org/x", "text": "A short new article about a river festival."}\n'
        "oops\n"
        '{"url": "https://example.org/x", "text": "Same url again."}\n'
    )
    seen: list[str] = []
    report = ingest([bad, EXAMPLES], library, progress=False, on_problem=lambda p: seen.append(str(p)))
    assert report.added == 1 and report.unchanged == 5 and report.skipped == 4
    assert any("empty.md" in s for s in seen) and any("blob.txt" in s for s in seen)
    assert any("lines.jsonl:2" in s for s in seen)
    assert any(
        "lines.jsonl:3: the same url (https://example.org/x) as " in s
        and "lines.jsonl:1; kept the first" in s
        for s in seen
    )
    after = {a.id: a.content_hash for a in library.sources()}
    assert {k: after[k] for k in before} == before
    assert library.store.count_chunks() == chunks_before + 1


def test_a_passage_repeated_within_an_article_is_indexed_once(
    make_library: Callable[..., Library], tmp_path: Path
) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    line = "The harbour ferry timetable changes on Monday, the port authority said in a notice. "
    text = "# Harbour ferries\n\n" + "\n\n".join([line * 6] * 300) + "\n\nFares stay the same this winter.\n"
    (folder / "ferries.md").write_text(text)
    library = make_library()
    seen: list[str] = []
    report = ingest([folder, EXAMPLES], library, progress=False, on_problem=lambda p: seen.append(str(p)))
    assert (report.added, report.skipped) == (6, 0)
    assert any(s.startswith("warning:") and "ferries.md" in s and "repeat an earlier one" in s for s in seen)
    (article,) = [a for a in library.sources() if a.title == "Harbour ferries"]
    chunks = library.store._chunks.get(where={"article_id": article.id}, include=["documents"])
    assert len(chunks["documents"]) == len(set(chunks["documents"])) == article.chunks < 10
    assert sorted(chunks["ids"]) == sorted(f"{article.id}:{i}" for i in range(article.chunks))
    assert report.chunks == library.store.count_chunks() == len(stored_chunk_ids(library))
    stored = library.article_text(article.id)
    assert stored is not None and len(stored) > 100_000  # the article itself is kept whole
    # Its copies do not crowd out the rest: one passage of it among the nearest, then others.
    hits = library.search(Query("When does the harbour ferry timetable change?", top_k=5))
    assert sum(h.chunk.article_id == article.id for h in hits) <= 2
    assert any(h.chunk.text in stored[h.chunk.start : h.chunk.end] for h in hits)


def test_prefetch_keeps_order_raises_producer_errors_and_stops_early() -> None:
    from ingest.plumbing import prefetch

    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))

    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("bad line 2")

    got: list[int] = []
    with pytest.raises(ValueError, match="bad line 2"):
        for item in prefetch(failing(), depth=2):
            got.append(item)
    assert got == [1]

    produced: list[int] = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    for item in prefetch(endless(), depth=2):
        if item == 5:
            break
    assert len(produced) <= 5 + 2 + 2  # the producer stopped within a queue's length


def test_copies_reuse_vectors_and_small_groups_all_land(
    make_library: Callable[..., Library], news_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from ingest import pipeline

    folder = news_folder
    original = folder / "nepal-earthquake-2015.txt"
    (story,) = [a for a in read_file(original, folder) if isinstance(a, Article)]
    # The same story syndicated at two addresses: two articles, with the same passages.
    record = {"title": story.title, "text": story.text, "published": str(story.published)}
    feed = [{**record, "url": f"https://example.org/{site}/quake"} for site in ("one", "two")]
    (folder / "wire.jsonl").write_text("".join(json.dumps(r) + "\n" for r in feed))
    original.unlink()
    monkeypatch.setattr(pipeline, "GROUP_CHUNKS", 3)  # many groups: writes overlap embedding
    library = make_library()
    embedded: list[int] = []
    real = library.embedder.embed_tokens

    def counting(tokens, batch_size=8):  # type: ignore[no-untyped-def]
        embedded.append(len(tokens))
        return real(tokens, batch_size=batch_size)

    monkeypatch.setattr(library.embedder, "embed_tokens", counting)
    report = ingest([folder], library, progress=False)
    assert (report.added, report.skipped) == (6, 0)
    assert report.chunks == library.store.count_chunks() == len(stored_chunk_ids(library))
    copies = [a for a in library.sources() if (a.source_path or "").endswith("wire.jsonl")]
    assert len(copies) == 2 and copies[0].chunks == copies[1].chunks
    assert sum(embedded) == report.chunks - copies[0].chunks  # the copy's passages were not embedded
    got = library.store._chunks.get(ids=[f"{a.id}:0" for a in copies], include=["embeddings"])
    first, second = np.asarray(got["embeddings"])
    assert np.array_equal(first, second)
    assert library.search(Query("earthquake in Nepal", top_k=1))[0].chunk.article_id in {a.id for a in copies}


def test_a_story_stored_already_from_elsewhere_is_named_not_stored_again(
    make_library: Callable[..., Library], news_folder: Path
) -> None:
    folder = news_folder
    original = folder / "nepal-earthquake-2015.txt"
    (folder / "copy").mkdir()
    shutil.copy(original, folder / "copy" / original.name)  # the same story filed twice
    library = make_library()
    seen: list[Any] = []
    report = ingest([folder], library, progress=False, on_problem=seen.append)
    assert (report.added, report.duplicates, report.skipped, report.articles) == (5, 1, 0, 6)
    assert library.store.count_articles() == 5
    (kept,) = [a for a in library.sources() if a.title.startswith("Powerful earthquake")]
    (note,) = seen
    assert not note.skipped and kept.id in note.reason and "not stored again" in note.reason
    again = ingest([folder], library, progress=False)
    assert (again.unchanged, again.duplicates, again.chunks) == (5, 1, 0)
    assert "1 duplicate," in again.summary()
    # The file uploaded after the command line stored it: one article, the upload's id mapped to it.
    upload = ingest_items(read_upload(original.read_bytes(), original.name), library)
    assert (upload.added, upload.duplicates, upload.same_as) == (0, 1, {next(iter(upload.same_as)): kept.id})
    assert library.store.count_articles() == 5
    hits = library.search(Query("earthquake in Nepal", top_k=3))
    assert len({h.chunk.text for h in hits}) == len(hits) == 3  # no passage found twice


def test_a_copy_is_stored_once_what_it_copied_changes_or_goes(
    make_library: Callable[..., Library], tmp_path: Path
) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    harbour, library_hours, marathon = (json.dumps(r) + "\n" for r in FEED)
    one.write_text(harbour + library_hours)
    two.write_text(library_hours + marathon)
    library = make_library()
    first = ingest([one, two], library, progress=False)
    assert (first.added, first.duplicates) == (3, 1)

    def titles(path: Path) -> list[str]:
        return sorted(a.title for a in library.sources() if a.source_path == str(path))

    # The record leaves the file it was stored from: the copy in the other file takes its place,
    # in the same run, whichever file is read first.
    one.write_text(harbour)
    moved = ingest([two, one], library, progress=False)
    assert (moved.added, moved.removed, moved.duplicates, moved.skipped) == (1, 1, 0, 0)
    assert titles(one) == ["Harbour bridge reopens"]
    assert titles(two) == ["Library opens later", "Marathon finish moves"]
    # The kept copy is edited: the other copy, which says what it used to, is stored after all,
    # though it is read before the edit.
    one.write_text(harbour + library_hours)
    assert ingest([one, two], library, progress=False).duplicates == 1
    changed = {**FEED[1], "text": FEED[1]["text"] + " Not on Sundays."}
    two.write_text(json.dumps(changed) + "\n" + marathon)
    edited = ingest([one, two], library, progress=False)
    assert (edited.added, edited.removed, edited.duplicates, edited.unchanged) == (2, 1, 0, 2)
    assert titles(one) == ["Harbour bridge reopens", "Library opens later"]
    assert library.store.count_articles() == 4
    # The same record twice in one file is a duplicate, not a skip.
    one.write_text(harbour + harbour)
    twice = ingest([one], library, progress=False)
    assert (twice.unchanged, twice.duplicates, twice.skipped) == (1, 1, 0)
    assert "stored once" in str(twice.problems[0])


def test_a_file_edited_into_a_copy_is_stored_once_and_a_renamed_upload_is_unchanged(
    make_library: Callable[..., Library], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # paths as a user types them: relative
    comet = "Comet lands\n\nThe probe landed on the comet on Wednesday after a ten-year trip.\n"
    (tmp_path / "a.txt").write_text(comet)
    (tmp_path / "b.txt").write_text("Ferry returns\n\nThe island ferry sailed again on Monday.\n")
    (tmp_path / "c.txt").write_text(comet)
    library = make_library()
    first = ingest([Path("a.txt"), Path("b.txt"), Path("c.txt")], library, progress=False)
    assert (first.added, first.duplicates) == (2, 1)
    # The stored article is named by its absolute path whether it was stored in this run or before.
    assert f"(from {tmp_path / 'a.txt'})" in str(first.problems[0])
    shutil.copy(tmp_path / "a.txt", tmp_path / "b.txt")
    edited = ingest([Path("a.txt"), Path("b.txt"), Path("c.txt")], library, progress=False)
    assert (edited.unchanged, edited.duplicates, edited.removed, edited.chunks) == (1, 2, 1, 0)
    assert [a.title for a in library.sources()] == ["Comet lands"]  # the ferry text is in no file now
    assert all(f"(from {tmp_path / 'a.txt'})" in str(p) for p in edited.problems)
    assert "forgotten" in str(edited.problems[0])
    assert ingest([Path(".")], library, progress=False).removed == 0
    # A file named twice, and within its folder, is read once: no duplicate of itself.
    again = ingest([Path("a.txt"), Path("./a.txt"), tmp_path], library, progress=False)
    assert (again.duplicates, again.unchanged) == (2, 1)  # b.txt and c.txt copy a.txt
    # Two files that swap their stories (each edited into a copy of what the other held) are
    # both updated: neither copy is judged against what the other no longer says.
    ferry = "Ferry returns\n\nThe island ferry sailed again on Monday.\n"
    (tmp_path / "b.txt").write_text(ferry)
    assert ingest([Path(".")], library, progress=False).added == 1
    (tmp_path / "a.txt").write_text(ferry)
    (tmp_path / "b.txt").write_text(comet)
    swapped = ingest([Path(".")], library, progress=False)
    assert (swapped.updated, swapped.duplicates, swapped.removed) == (2, 1, 0)  # c.txt still copies
    held = {Path(a.source_path or "").name: a.title for a in library.sources()}
    assert held == {"a.txt": "Ferry returns", "b.txt": "Comet lands"}
    # A file whose text is the other's and a new file with what it said before: the new one is
    # stored, not judged a copy of what is forgotten.
    (tmp_path / "a.txt").write_text(comet)
    (tmp_path / "d.txt").write_text(ferry)
    chained = ingest([Path(".")], library, progress=False)
    assert sorted(a.title for a in library.sources()) == ["Comet lands", "Ferry returns"]
    assert chained.added == 1 and chained.removed == 1

    # The same bytes uploaded under another name are the same article: not stored again.
    data = b"Harbour bridge reopens\n\nThe harbour bridge reopened to traffic on Friday.\n"
    assert ingest_items(read_upload(data, "bridge.txt"), library).added == 1
    renamed = ingest_items(read_upload(data, "bridge-final.txt"), library)
    assert (renamed.unchanged, renamed.updated, renamed.chunks) == (1, 0, 0)
    # ... and so is a file with a url, uploaded after the command line stored it, and read from
    # its folder again after that (each used to update the other's copy).
    page = EXAMPLES / "philae-comet-landing-2014.html"
    assert ingest([page], library, progress=False).added == 1
    assert ingest_items(read_upload(page.read_bytes(), page.name), library).unchanged == 1
    assert ingest([page], library, progress=False).unchanged == 1
    # Uploaded first, the file read after it is stored from the file, once (so that the file read
    # again later forgets what it no longer holds); an upload after that changes nothing.
    (philae,) = [a for a in library.sources() if a.url and "philae" in a.url]
    assert library.forget(philae.id)
    assert ingest_items(read_upload(page.read_bytes(), page.name), library).added == 1
    assert ingest([page], library, progress=False).updated == 1
    assert ingest_items(read_upload(page.read_bytes(), "renamed.html"), library).unchanged == 1
    assert ingest([page], library, progress=False).unchanged == 1
    assert [a.source_path for a in library.sources() if a.id == philae.id] == [str(page)]
    # ... but a JSONL record without a url (its id from its title and text) that now gives a
    # date is updated, whatever the file is called.
    line = {"title": "Pier repairs", "text": "Repairs to the old pier began on Tuesday."}
    assert ingest_items(read_upload(json.dumps(line).encode(), "pier.jsonl"), library).added == 1
    dated = json.dumps({**line, "published": "2023-05-02"}).encode()
    assert ingest_items(read_upload(dated, "pier-dated.jsonl"), library).updated == 1


def test_a_date_fixed_in_a_file_whose_text_another_holds_is_an_update(
    make_library: Callable[..., Library], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two files with one text, both stored (by a version of Citewire that did not judge
    copies, simulated here): fixing one's date is an update, not a copy to forget."""
    from ingest.copies import TextHolders

    story = "# Comet lands\n\nThe probe landed on the comet on Wednesday after a ten-year trip.\n"
    (tmp_path / "a.md").write_text("---\npublished: 2024-01-01\n---\n" + story)
    (tmp_path / "b.md").write_text(story)
    library = make_library()
    with monkeypatch.context() as unjudged:
        unjudged.setattr(TextHolders, "holder", lambda *args, **kwargs: None)
        assert ingest([tmp_path], library, progress=False).added == 2
    (tmp_path / "a.md").write_text("---\npublished: 2024-02-02\n---\n" + story)
    fixed = ingest([tmp_path], library, progress=False)
    assert (fixed.updated, fixed.unchanged, fixed.duplicates, fixed.removed) == (1, 1, 0, 0)
    assert {str(a.published) for a in library.sources()} == {"2024-02-02", "None"}


def test_bm25_index_is_updated_not_rebuilt(
    make_library: Callable[..., Library], news_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag.lexical import LexicalIndex

    folder = news_folder
    pluto = folder / "new-horizons-pluto-2015.md"
    pluto.rename(tmp_path / pluto.name)
    library = make_library()
    ingest([folder], library, progress=False)  # the first ingest builds the index (from nothing)

    def no_rebuild(chunks: object) -> LexicalIndex:
        raise AssertionError("the BM25 index was rebuilt from the store")

    monkeypatch.setattr(LexicalIndex, "build", no_rebuild)
    ingest([tmp_path / pluto.name], library, progress=False)
    assert library.search(Query("New Horizons Pluto flyby", top_k=1))[0].chunk.title.startswith(
        "New Horizons"
    )
    victim = next(a for a in library.sources() if "Nepal" in a.title or "earthquake" in a.title.lower())
    assert library.forget(victim.id)
    reopened = make_library()  # what was saved matches the store, so it is loaded as it is
    assert len(reopened.lexical) == reopened.store.count_chunks()
    assert all(
        h.chunk.article_id != victim.id for h in reopened.search(Query("earthquake Kathmandu", top_k=10))
    )


def test_bm25_index_of_an_older_format_is_rebuilt(make_library: Callable[..., Library]) -> None:
    library = make_library()
    ingest([EXAMPLES], library, progress=False)
    (library.lexical_folder / "citewire.json").write_text('{"ids": []}', encoding="utf-8")
    reopened = make_library()
    assert len(reopened.lexical) == reopened.store.count_chunks() > 0


def test_an_article_the_splitter_fails_on_costs_only_itself(
    make_library: Callable[..., Library], monkeypatch: pytest.MonkeyPatch
) -> None:
    """NLTK raises TimeoutError when a regular expression runs past its time limit: that article
    is named and skipped, the others are stored."""
    from ingest import chunking

    real = chunking.Chunker.split

    def split(self: chunking.Chunker, article: Article) -> Any:
        if "Philae" in article.text:
            raise TimeoutError("regular-expression match exceeded its 5.0s time limit;\nthe pattern")
        return real(self, article)

    monkeypatch.setattr(chunking.Chunker, "split", split)
    library = make_library()
    seen: list[str] = []
    report = ingest([EXAMPLES], library, progress=False, on_problem=lambda p: seen.append(str(p)))
    assert report.added == 4 and report.skipped == 1
    (line,) = seen
    assert "could not be split into passages (regular-expression match exceeded its 5.0s" in line
    assert "\n" not in line and line.startswith("skipped: ")
    assert library.store.count_articles() == 4
