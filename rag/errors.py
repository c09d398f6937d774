"""Citewire's exceptions.

Every error the CLI and UI show a user derives from ``CitewireError``; anything else is a bug.

    CitewireError
    ├── ConfigError          a setting or argument has a value we cannot use
    ├── InputError           an article file or record cannot be read (names the file and line)
    ├── NotFoundError        nothing is stored under the id asked for
    ├── StoreError           the Chroma store is unreachable, held by another process, or holds
    │                        something unexpected
    └── ModelError           the embedding model cannot be loaded, or a language model cannot be
                             loaded or reached
"""


class CitewireError(Exception):
    """Base class: the message says what was wrong and how to fix it."""


class ConfigError(CitewireError):
    """A setting, flag or argument has a value Citewire cannot use; ``field`` names it, where
    one field is at fault (the HTTP API's ``error.param``)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InputError(CitewireError):
    """An input file or record cannot be turned into an article.

    ``location`` names the file (and line, for JSONL) so a reader can find it.
    """

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}")
        self.location = location
        self.reason = reason


class NotFoundError(CitewireError):
    """Nothing is stored under the id asked for."""


class StoreError(CitewireError):
    """The Chroma store could not be opened, read or written."""


class ModelError(CitewireError):
    """The embedding model could not be loaded, or a language model could not be loaded or
    reached (its message never holds an API key)."""


def setting_said(name: str, *, flag: bool = True) -> str:
    """A setting as the Python caller and the command-line user each give it, for messages raised
    in the library that both read: "the llm setting (--llm or CITEWIRE_LLM)"; ``flag`` False for
    a setting no command-line flag sets ("the llm_timeout setting (CITEWIRE_LLM_TIMEOUT)")."""
    given = f"--{name.replace('_', '-')} or " if flag else ""
    return f"the {name} setting ({given}CITEWIRE_{name.upper()})"


def error_type(exc: CitewireError) -> str:
    """The kind of error as the HTTP API and ``--json`` name it (OpenAI's ``error.type``)."""
    if isinstance(exc, ConfigError | InputError):
        return "invalid_request_error"
    if isinstance(exc, NotFoundError):
        return "not_found_error"
    if isinstance(exc, StoreError):
        return "store_unavailable"
    if isinstance(exc, ModelError):
        return "model_error"
    return "server_error"
