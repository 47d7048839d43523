"""Starting the API: helpers the API and MCP tests share, and the start-up checks of the real commands.

The helpers build services over a fresh index of the shipped corpus (embedded model, Ollama on a
closed port) and serve an ASGI app with uvicorn on a free loopback port in a thread.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from conftest import CLOSED_PORT_URL, CORPUS, free_port, shared_gguf, suite_chroma_env
from typer.testing import CliRunner

from assistant.api.security import check_bind, is_loopback, token_accepted
from assistant.cli.serve import register
from assistant.config import APISettings, ConfigError, load_settings
from assistant.services import Services, build_services

pytestmark = pytest.mark.server

# (question, a word its answer must contain)
QUESTIONS = [
    ("Chi ha detto che Sora è stato lanciato troppo presto?", "Lightcap"),
    ("Quale noto produttore e regista sarebbe stato demoralizzato dalla presentazione di Sora?", "Perry"),
    ("Which OpenAI technology chief said Sora would be released this year?", "Murati"),
    ("Combien de temps durera l'exposition « New Roads » ?", "semaines"),
    ("Where is OpenAI holding an exhibition to give artists access to unreleased AI tools?", "Stella"),
]


def corpus_env(base: Path, embedding_cache: Path, request: pytest.FixtureRequest, name: str) -> dict[str, str]:
    """The environment of an assistant over ``base/data`` (embedded model, Ollama on a closed port)."""
    return {
        "ASSISTANT_DATA_DIR": str(base / "data"),
        "ASSISTANT_LLM__BACKEND": "embedded",
        "ASSISTANT_OLLAMA__HOST": CLOSED_PORT_URL,
        "ASSISTANT_EMBEDDING__CACHE_DIR": str(embedding_cache),
        "ASSISTANT_EMBEDDED__MODEL_PATH": str(shared_gguf()),
        **suite_chroma_env(request, name),
    }


def corpus_services(
    base: Path, embedding_cache: Path, request: pytest.FixtureRequest, name: str, **overrides: Any
) -> Services:
    """Services over a fresh index of the shipped corpus's articles in ``base``."""
    (base / "corpus").mkdir(parents=True)
    for path in sorted(CORPUS.glob("*.txt")):
        shutil.copy(path, base / "corpus" / path.name)
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("ASSISTANT_")]:
            patch.delenv(key)
        for key, value in corpus_env(base, embedding_cache, request, name).items():
            patch.setenv(key, value)
        patch.chdir(base)
        settings = load_settings(corpus_paths=[base / "corpus"], **overrides)
    services = build_services(settings)
    assert len(services.ingest().added) == 5
    return services


@contextmanager
def live(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


# -- security rules ------------------------------------------------------------------------------


def test_loopback_addresses_are_recognised() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.3.4.5", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.4", "::", "example.org", ""))


def test_a_non_loopback_address_needs_a_token() -> None:
    with pytest.raises(ConfigError, match="ASSISTANT_API__TOKEN"):
        check_bind(APISettings(), "0.0.0.0")
    check_bind(APISettings(token="s3cret"), "0.0.0.0")
    check_bind(APISettings(), "127.0.0.1")


def test_the_token_is_checked_as_a_bearer_token() -> None:
    assert token_accepted(None, None) and token_accepted("", "anything")
    assert token_accepted("s3cret", "Bearer s3cret") and token_accepted("s3cret", "bearer s3cret")
    assert not any(token_accepted("s3cret", h) for h in (None, "", "s3cret", "Bearer s3cre", "Basic s3cret"))


# -- the real commands ---------------------------------------------------------------------------


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.mark.parametrize("command", ["serve", "mcp"])
def test_a_non_loopback_start_without_a_token_is_refused(command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    args = [command, "--host", "0.0.0.0"] + (["--http"] if command == "mcp" else [])
    monkeypatch.setenv("ASSISTANT_API__MCP_ALLOW_WRITES", "true")  # mcp then needs no index: the refusal comes first
    result = CliRunner().invoke(cli(), args)
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "without a token" in result.output and "Traceback" not in result.output


def test_the_module_refuses_a_non_loopback_start_and_a_port_in_use() -> None:
    command = [sys.executable, "-m", "assistant.api.serve", "api"]
    refused = subprocess.run([*command, "--host", "0.0.0.0"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert refused.stderr.strip().startswith("error: refusing to listen on 0.0.0.0 without a token")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = subprocess.run([*command, "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert busy.returncode == 2 and busy.stderr.count("\n") == 1, busy.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in busy.stderr


def test_bad_port_is_one_line_and_exit_2() -> None:
    result = CliRunner().invoke(cli(), ["serve", "--port", "70000"])
    assert result.exit_code == 2 and "between 1 and 65535" in result.output


def test_assistant_serve_starts_and_answers(
    tmp_path: Path, embedding_cache: Path, request: pytest.FixtureRequest
) -> None:
    """The real entry point, in its own process, over an index it did not build."""
    corpus_services(tmp_path / "index", embedding_cache, request, "api-live")
    port = free_port()
    env = {**os.environ, **corpus_env(tmp_path / "index", embedding_cache, request, "api-live")}
    command = [sys.executable, "-m", "assistant.api.serve", "api", "--port", str(port)]
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) as server:
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    documents = httpx.get(f"{url}/v1/documents", timeout=30)
                    break
                except httpx.TransportError:
                    assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.2)
            assert len(documents.json()) == 5
            question, expected = QUESTIONS[0]
            response = httpx.post(f"{url}/v1/ask", json={"question": question}, timeout=120)
            assert response.status_code == 200, response.text
            answer = response.json()
            assert expected in answer["text"] and answer["sources"]
        finally:
            server.terminate()
            server.wait(timeout=20)
