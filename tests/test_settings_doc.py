"""docs/settings.md is written from the code, every variable the docs name exists, and the README
stays a map of docs/."""

from __future__ import annotations

import re
from dataclasses import fields

from rag.settings import Settings
from ui.cli import build_parser
from ui.settings_doc import OTHER_VARIABLES, PAGE, field_docs, page

ROOT = PAGE.parents[1]


def test_every_setting_has_a_docstring() -> None:
    missing = [f.name for f in fields(Settings) if not field_docs().get(f.name)]
    assert not missing, f"Settings fields without a docstring under them: {missing}"


def test_the_settings_page_is_what_make_docs_writes() -> None:
    assert PAGE.read_text(encoding="utf-8") == page(), "docs/settings.md is stale: run `make docs`"


def test_the_page_names_every_setting_variable_and_flag() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for f in fields(Settings):
        assert f"`CITEWIRE_{f.name.upper()}`" in text
    parser = build_parser()
    for sub in parser._subparsers._group_actions[0].choices.values():  # type: ignore[union-attr]
        for action in sub._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert flag in text, flag
                    assert (action.help or "").strip(), f"{sub.prog} {flag} has no help text"


def test_the_docs_name_no_variable_that_does_not_exist() -> None:
    known = {f"CITEWIRE_{f.name.upper()}" for f in fields(Settings)} | set(OTHER_VARIABLES)
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        named = set(re.findall(r"\bCITEWIRE_[A-Z_]+\b", path.read_text(encoding="utf-8")))
        unknown = sorted(named - known)
        assert not unknown, f"{path.name} names variables Citewire does not read: {unknown}"


def test_the_readme_is_short_and_maps_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150, "README.md is over 150 lines: move the detail to docs/"
    unlinked = [p.name for p in sorted((ROOT / "docs").glob("*.md")) if f"(docs/{p.name})" not in readme]
    assert not unlinked, f"docs pages the README does not link: {unlinked}"
    first = "\n".join(readme.splitlines()[:80])  # install, a question, Python and the page's API
    for heading in ("## Two commands", "## From the command line", "## From Python", "API"):
        assert heading in first, heading
