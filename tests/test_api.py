"""The public surface and settings errors."""

from __future__ import annotations

from pathlib import Path

import pytest

import rag
from rag import ConfigError, Settings


def test_public_names() -> None:
    assert sorted(rag.__all__) == sorted(
        [
            "REFUSAL", "Answer", "Answerer", "Article", "ArticleWrite", "Choice", "Chunk", "Citation",
            "CitewireError", "ConfigError", "Embedder", "ExtractiveAnswerer", "Hit", "InputError",
            "Library", "ModelError", "NotFoundError", "Query", "Settings", "StoreError", "StoredArticle",
            "Turn", "Unsupported", "article_id_for", "ask", "choose", "open",
        ]
    )  # fmt: skip
    for name in rag.__all__:
        assert hasattr(rag, name)


def test_importing_rag_loads_nothing_and_changes_no_setting() -> None:
    """``import rag`` neither loads NLTK, the model's libraries or Chroma nor sets the offline
    variables: a term list built at import loaded NLTK's stop words, and that took the offline
    switch with it (1.4 s, and HF_HUB_OFFLINE set for the importing program)."""
    import os
    import subprocess
    import sys

    probe = (
        "import os, sys, rag; "
        "print(sorted(m for m in ('nltk', 'torch', 'chromadb', 'llama_index') if m in sys.modules), "
        "os.environ.get('HF_HUB_OFFLINE'))"
    )
    environment = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=environment)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] None"


def test_errors_derive_from_one_base() -> None:
    for error in (rag.ConfigError, rag.InputError, rag.NotFoundError, rag.StoreError, rag.ModelError):
        assert issubclass(error, rag.CitewireError)


def test_a_data_dir_in_code_is_expanded_like_one_on_the_command_line() -> None:
    assert Settings(data_dir="~/news").data_dir == Path.home() / "news"  # type: ignore[arg-type]
    assert Settings().with_changes(data_dir="~/news").data_dir == Path.home() / "news"
    assert Settings.from_env({"CITEWIRE_DATA_DIR": "~/news"}).data_dir == Path.home() / "news"


def test_settings_from_environment_and_overrides(tmp_path: object) -> None:
    env = {"CITEWIRE_TOP_K": "7", "CITEWIRE_COLLECTION": "news", "CITEWIRE_DATA_DIR": "/tmp/x"}
    settings = Settings.from_env(env, collection="other")
    assert settings.top_k == 7 and settings.collection == "other" and str(settings.data_dir) == "/tmp/x"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"top_k": 0}, "top_k must be greater than 0. Currently, top_k is 0"),
        ({"embed_dtype": "int8"}, "Currently, embed_dtype is 'int8'"),
        ({"chunk_tokens": 400}, "Currently, chunk_tokens is 400"),
        ({"collection": "a b"}, "Currently, collection is 'a b'"),
        ({"stale_discount": 0}, "stale_discount must be over 0 and at most 1. Currently, it is 0"),
        ({"fresh_days": -1}, "fresh_days must be between 0 and 365. Currently, it is -1"),
        ({"fade_days": 0}, "fade_days must be over 0 and at most 365. Currently, it is 0"),
        ({"min_coverage": 30}, "min_coverage must be between 0 and 1. Currently, it is 30"),
        ({"fusion_k": 0}, "fusion_k must be between 1 and 1000. Currently, it is 0"),
        ({"lexical_weight": -1.0}, "lexical_weight must be between 0 and 10. Currently, it is -1.0"),
    ],
)
def test_settings_errors_name_the_value(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings(**changes)  # type: ignore[arg-type]


def test_environment_numbers_are_checked() -> None:
    with pytest.raises(ConfigError, match="CITEWIRE_TOP_K must be a whole number"):
        Settings.from_env({"CITEWIRE_TOP_K": "five"})
    # A number out of range says where it came from, when the environment gave it.
    with pytest.raises(ConfigError, match=r"Currently, top_k is 0 \(read from CITEWIRE_TOP_K\)"):
        Settings.from_env({"CITEWIRE_TOP_K": "0"})
    with pytest.raises(ConfigError, match=r"Currently, top_k is 0$"):
        Settings.from_env({"CITEWIRE_TOP_K": "3"}, top_k=0)


def test_asking_where_there_is_no_library_is_an_error_not_an_empty_library(tmp_path: Path) -> None:
    nowhere = tmp_path / "typo"
    with pytest.raises(ConfigError, match=f"There is no library in {nowhere} yet"):
        rag.ask("What happened?", data_dir=nowhere)
    assert not nowhere.exists()


def test_a_mistyped_collection_is_named_not_created(tmp_path: Path) -> None:
    from rag.store import ChromaStore

    ChromaStore.open(Settings(data_dir=tmp_path))  # a library's store, with its collection
    with pytest.raises(ConfigError, match=r"There is no collection 'other' at .* \(there: citewire\)"):
        rag.open(settings=Settings(data_dir=tmp_path, collection="other"), create=False)
    reopened = ChromaStore.open(Settings(data_dir=tmp_path))
    assert sorted(c.name for c in reopened._client.list_collections()) == ["citewire", "citewire__articles"]
    assert not (tmp_path / "bm25" / "other").exists()


def test_the_language_model_key_comes_from_the_environment_and_is_never_shown() -> None:
    settings = Settings.from_env({"OPENAI_API_KEY": "sk-open-1", "CITEWIRE_LLM": "local"})
    assert settings.llm_api_key == "sk-open-1" and settings.llm == "local"
    assert Settings.from_env({"OPENAI_API_KEY": "a", "CITEWIRE_LLM_API_KEY": "b"}).llm_api_key == "b"
    assert "sk-open-1" not in repr(settings) and "sk-open-1" not in str(settings)


def test_a_language_model_that_is_no_url_file_or_local_is_named() -> None:
    from rag.llm import load_model

    # Named as both a Python caller and a command-line user set it.
    with pytest.raises(ConfigError, match=r"Give the llm setting \(--llm or CITEWIRE_LLM\) an OpenAI"):
        load_model("gpt-4")
    with pytest.raises(ConfigError, match=r"ask it for in the llm_model setting \(--llm-model or CITEWIRE_"):
        load_model("http://127.0.0.1:8080/v1")
    with pytest.raises(ConfigError, match="no such model file"):
        load_model("/nowhere/model.gguf")
