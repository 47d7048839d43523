"""Fixtures for the tests of the assistant against the fake Ollama (load with ``pytest_plugins``).

``indexed`` builds an index of the shipped corpus once per module with ``assistant ingest``;
``ollama_env`` points the assistant at a fake Ollama whose replies the bundled Gemma 3 270M writes
(``model``), over that index.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CLOSED_PORT_URL, CORPUS, SUITE_CHROMA_MODE, shared_gguf, suite_chroma_env
from typer.testing import CliRunner

from assistant.cli.app import app
from fakes.assistant_env import KEEP_ALIVE, MAX_TOKENS, OPTIONS, Indexed
from fakes.behaviour import EmbeddedGenerate
from fakes.ollama_server import FakeOllama

COLLECTION = "ollama-module"
"""The module's index in the server run (``TEST_CHROMA_MODE=http``)."""


@pytest.fixture(scope="module")
def model() -> EmbeddedGenerate:
    """The fake Ollama's writer: the bundled Gemma 3 270M, run by llama.cpp (real model text)."""
    return EmbeddedGenerate(shared_gguf(), check_budget=True)


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, embedding_cache: Path, request: pytest.FixtureRequest) -> Indexed:
    """``assistant ingest <corpus>`` once for the module (asking never writes to the index)."""
    base = tmp_path_factory.mktemp("ollama-backend")
    corpus = base / "corpus"
    corpus.mkdir()
    for path in sorted(CORPUS.glob("*.txt")):
        shutil.copy(path, corpus / path.name)
    with pytest.MonkeyPatch.context() as env:
        for key in list(os.environ):
            if key.startswith("ASSISTANT_"):
                env.delenv(key)
        env.setenv("ASSISTANT_DATA_DIR", str(base / "data"))
        env.setenv("ASSISTANT_EMBEDDING__CACHE_DIR", str(embedding_cache))
        env.setenv("ASSISTANT_OLLAMA__HOST", CLOSED_PORT_URL)
        for key, value in suite_chroma_env(request, COLLECTION).items():
            env.setenv(key, value)
        result = CliRunner().invoke(app, ["ingest", str(corpus)])
    assert result.exit_code == 0, result.output
    written = re.search(r"added 5, .*; (\d+) chunks written", result.stdout)
    assert written, result.stdout
    return Indexed(base / "data", corpus, int(written.group(1)))


@pytest.fixture
def fake(model: EmbeddedGenerate) -> Iterator[FakeOllama]:
    with FakeOllama(generate=model) as server:
        yield server


@pytest.fixture
def ollama_env(indexed: Indexed, fake: FakeOllama, monkeypatch: pytest.MonkeyPatch) -> FakeOllama:
    """The assistant set up for Ollama at the fake, over the module's index."""
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(indexed.data_dir))
    if SUITE_CHROMA_MODE == "http":
        monkeypatch.setenv("ASSISTANT_CHROMA__COLLECTION", COLLECTION)  # the module's, not the test's own
    monkeypatch.setenv("ASSISTANT_OLLAMA__HOST", fake.url)
    monkeypatch.setenv("ASSISTANT_LLM__BACKEND", "ollama")
    monkeypatch.setenv("ASSISTANT_LLM__MAX_ANSWER_TOKENS", str(MAX_TOKENS))
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__TOP_K", "3")  # a shorter prompt for the tiny model
    monkeypatch.setenv("ASSISTANT_OLLAMA__NUM_CTX", str(OPTIONS["num_ctx"]))
    monkeypatch.setenv("ASSISTANT_OLLAMA__SEED", str(OPTIONS["seed"]))
    monkeypatch.setenv("ASSISTANT_OLLAMA__TEMPERATURE", str(OPTIONS["temperature"]))
    monkeypatch.setenv("ASSISTANT_OLLAMA__KEEP_ALIVE", KEEP_ALIVE)
    return fake
