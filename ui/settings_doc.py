"""``docs/settings.md`` written from the code: every ``Settings`` field with its docstring,
environment variable, default and flag, then every command's flags with their help.

    python -m ui.settings_doc            # prints the page
    python -m ui.settings_doc --write    # writes docs/settings.md (make docs)

``tests/test_settings_doc.py`` fails when the page is not what this writes, so a setting or a
flag cannot be added without being documented.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import itertools
import sys
from dataclasses import MISSING, fields
from pathlib import Path

from rag.settings import Settings
from ui.cli import build_parser

PAGE = Path(__file__).resolve().parents[1] / "docs" / "settings.md"
# Variables read outside ``Settings`` (entry points and the libraries Citewire sets up).
OTHER_VARIABLES = {
    "CITEWIRE_AUTH": "`user:password` for the chat page's login (`chat`, `serve`; or `--auth FILE`).",
    "CITEWIRE_API_KEY": "The token each `/v1` request to `citewire serve` needs (or `--api-key-file`).",
    "OPENAI_API_KEY": "The language-model server's key when `CITEWIRE_LLM_API_KEY` is unset.",
    "XDG_DATA_HOME": "Where the default data directory goes (`$XDG_DATA_HOME/citewire`).",
    "TIKTOKEN_CACHE_DIR": "tiktoken's encodings; set to the copy inside llama-index-core when unset.",
    "NLTK_DATA": "NLTK's Punkt and stop words; set to the copy inside llama-index-core when unset.",
}


def field_docs() -> dict[str, str]:
    """Each ``Settings`` field's docstring (the string literal under it), as one line."""
    tree = ast.parse(inspect.getsource(Settings))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, following in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def _flags_by_setting() -> dict[str, set[str]]:
    """Settings a command-line flag sets (its destination is the field's name), with the flag."""
    names = {f.name for f in fields(Settings)}
    found: dict[str, set[str]] = {}
    for _command, sub in _commands():
        for action in sub._actions:
            if action.dest in names and action.option_strings:
                found.setdefault(action.dest, set()).add(f"`{action.option_strings[-1]}`")
    return found


def _commands() -> list[tuple[str, argparse.ArgumentParser]]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(subparsers.choices.items())


def _default(f: object) -> str:
    if f.name == "data_dir":  # type: ignore[attr-defined]
        return "`$XDG_DATA_HOME/citewire`, else `~/.local/share/citewire`"
    value = f.default  # type: ignore[attr-defined]
    if value is MISSING or value is None:
        return "unset"
    return f"`{value}`"


def page() -> str:
    """The whole page, as ``docs/settings.md`` holds it."""
    docs = field_docs()
    flags = _flags_by_setting()
    lines = [
        "# Settings",
        "",
        "<!-- Written by `make docs` (python -m ui.settings_doc --write) from rag/settings.py and",
        "ui/cli.py; edit those, not this page. -->",
        "",
        "Every setting has a default; a `CITEWIRE_` environment variable (the setting's name in",
        "capitals) overrides it, and a command-line flag overrides both. From Python:",
        "`rag.open(settings=rag.Settings(top_k=3))` or `rag.Settings.from_env(top_k=3)`.",
        "",
        "| Setting | Environment variable | Flag | Default | What it does |",
        "|---|---|---|---|---|",
    ]
    for f in fields(Settings):
        flag = ", ".join(sorted(flags.get(f.name, ()))) or ""
        doc = docs.get(f.name, "").replace("|", "\\|")
        lines.append(f"| `{f.name}` | `CITEWIRE_{f.name.upper()}` | {flag} | {_default(f)} | {doc} |")
    lines += ["", "## Other environment variables", ""]
    lines += [f"- `{name}`: {text}" for name, text in OTHER_VARIABLES.items()]
    lines += ["", "## Each command's flags", ""]
    for command, sub in _commands():
        lines += [f"### `citewire {command}`", ""]
        for action in sub._actions:
            if not action.option_strings or action.dest == "help":
                continue
            help_text = " ".join((action.help or "").split()).replace("|", "\\|")
            lines.append(f"- `{', '.join(action.option_strings)}`: {help_text}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--write", action="store_true", help=f"write {PAGE} instead of printing it")
    args = options.parse_args(argv)
    if args.write:
        PAGE.write_text(page(), encoding="utf-8")
        print(f"wrote {PAGE}")
    else:
        sys.stdout.write(page())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
