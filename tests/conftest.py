"""Shared fixtures: every data folder in a temp dir, a real Chroma server, a clean environment."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus"
CLOSED_PORT_URL = "http://127.0.0.1:9"  # nothing listens there: Ollama "not running"
SUITE_CHROMA_MODE = os.environ.get("TEST_CHROMA_MODE", "embedded")
"""`http` runs every test against a `chroma run` server (CI runs the suite in both modes)."""
if SUITE_CHROMA_MODE not in ("embedded", "http"):
    raise RuntimeError(f"TEST_CHROMA_MODE must be embedded or http, not {SUITE_CHROMA_MODE!r}")
SUITE_CATALOG = os.environ.get("TEST_CATALOG", "sqlite")
"""`postgres` (with `TEST_CHROMA_MODE=http`: the server mode) puts every catalog in a test PostgreSQL server."""
if SUITE_CATALOG not in ("sqlite", "postgres"):
    raise RuntimeError(f"TEST_CATALOG must be sqlite or postgres, not {SUITE_CATALOG!r}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In the server runs, skip the tests of the embedded store's (or SQLite catalog's) own files."""
    if SUITE_CHROMA_MODE != "http":
        return
    skip = pytest.mark.skip(reason="about the embedded store's files: run in the embedded suite")
    skip_sqlite = pytest.mark.skip(reason="about the SQLite catalog's file: run in the embedded suite")
    for item in items:
        if item.get_closest_marker("embedded_only") is not None:
            item.add_marker(skip)
        elif SUITE_CATALOG == "postgres" and item.get_closest_marker("sqlite_only") is not None:
            item.add_marker(skip_sqlite)


def chroma_server_env(server: tuple[str, int], collection: str) -> dict[str, str]:
    """The settings that point the assistant at the test Chroma server, in a collection of its own."""
    return {
        "ASSISTANT_CHROMA__MODE": "http",
        "ASSISTANT_CHROMA__HOST": server[0],
        "ASSISTANT_CHROMA__PORT": str(server[1]),
        "ASSISTANT_CHROMA__COLLECTION": collection,
    }


def use_chroma_server(monkeypatch: pytest.MonkeyPatch, server: tuple[str, int], collection: str) -> None:
    """Point the assistant at the test Chroma server, in a collection of its own."""
    for key, value in chroma_server_env(server, collection).items():
        monkeypatch.setenv(key, value)


def suite_chroma_env(request: pytest.FixtureRequest, collection: str) -> dict[str, str]:
    """The settings that put a module's or session's own index in the suite's Chroma mode."""
    if SUITE_CHROMA_MODE != "http":
        return {}
    env = chroma_server_env(request.getfixturevalue("chroma_server"), collection)
    if SUITE_CATALOG == "postgres":
        env["ASSISTANT_CATALOG__URL"] = request.getfixturevalue("postgres_server").create_database(collection.lower())
    return env


def collection_for(request: pytest.FixtureRequest) -> str:
    """A collection name of this test's own on the shared server (names are 3-512 of [a-zA-Z0-9._-])."""
    import hashlib

    return "t" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One passage-embedding cache for the whole run (vectors depend only on the text)."""
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture(autouse=True)
def clean_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embedding_cache: Path, request: pytest.FixtureRequest
) -> Path:
    """No test sees the user's settings or data: a temp data dir and an Ollama that is not running.

    In the server run (``TEST_CHROMA_MODE=http``) the vectors go to the test Chroma server.
    """
    for key in list(os.environ):
        if key.startswith("ASSISTANT_"):
            monkeypatch.delenv(key)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user-data"))  # never the real user data folder
    monkeypatch.setenv("ASSISTANT_OLLAMA__HOST", CLOSED_PORT_URL)
    monkeypatch.setenv("ASSISTANT_EMBEDDING__CACHE_DIR", str(embedding_cache))
    monkeypatch.setenv("ASSISTANT_EMBEDDED__MODEL_PATH", str(shared_gguf()))
    monkeypatch.chdir(tmp_path)
    if SUITE_CHROMA_MODE == "http" and request.node.get_closest_marker("embedded_only") is None:
        use_chroma_server(monkeypatch, request.getfixturevalue("chroma_server"), collection_for(request))
        if SUITE_CATALOG == "postgres" and request.node.get_closest_marker("sqlite_only") is None:
            server = request.getfixturevalue("postgres_server")
            monkeypatch.setenv("ASSISTANT_CATALOG__URL", server.create_database(collection_for(request)))
    return data_dir


def shared_gguf() -> Path:
    """The bundled GGUF: the machine's one copy in the user cache (assembled there on first use)."""
    from assistant.answer.generate import default_gguf_path

    return default_gguf_path()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A writable copy of the shipped corpus (articles only)."""
    target = tmp_path / "corpus"
    target.mkdir()
    for path in sorted(CORPUS.glob("*.txt")):
        shutil.copy(path, target / path.name)
    return target


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real `chroma run` server on a free loopback port, stopped after the session."""
    exe = Path(sys.executable).parent / "chroma"
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = (path / "server.log").open("w")
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"chroma run exited: {(path / 'server.log').read_text()}") from None
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("chroma run did not start within 60 s")
    yield ("127.0.0.1", port)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """A real PostgreSQL server (initdb in a temp dir, pg_ctl on a free loopback port), removed after the session."""
    from pg_server import remove_postgres, start_postgres

    server = start_postgres(free_port())
    yield server
    remove_postgres(server)


@pytest.fixture(params=["embedded", "http"])
def chroma_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test against an embedded Chroma and against a real Chroma server."""
    mode = str(request.param)
    if mode == "http":
        use_chroma_server(monkeypatch, request.getfixturevalue("chroma_server"), collection_for(request))
    else:
        for key in ("MODE", "HOST", "PORT", "COLLECTION"):
            monkeypatch.delenv(f"ASSISTANT_CHROMA__{key}", raising=False)
    return mode


@pytest.fixture(scope="session")
def corpus_services(
    tmp_path_factory: pytest.TempPathFactory, embedding_cache: Path, request: pytest.FixtureRequest
) -> Iterator[object]:
    """Services over an index of the shipped corpus, built once per session (in the suite's Chroma mode)."""
    from assistant.config import load_settings
    from assistant.services import build_services

    base = tmp_path_factory.mktemp("corpus-index")
    shutil.copytree(CORPUS, base / "corpus")
    saved = dict(os.environ)
    os.environ.update(
        {
            "ASSISTANT_DATA_DIR": str(base / "data"),
            "ASSISTANT_OLLAMA__HOST": CLOSED_PORT_URL,
            "ASSISTANT_EMBEDDING__CACHE_DIR": str(embedding_cache),
            "ASSISTANT_EMBEDDED__MODEL_PATH": str(shared_gguf()),
        }
    )
    os.environ.update(suite_chroma_env(request, "corpus-session"))
    try:
        settings = load_settings(corpus_paths=[base / "corpus"])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    services = build_services(settings)
    report = services.ingest()
    assert len(report.added) == 5, report
    yield services
