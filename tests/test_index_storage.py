""" "Damaged" only when the files are damaged: a read-only data directory is read, a full disk is said so.

The read-only directory is a real read-only bind mount and the full disk a real 4 MB tmpfs (tests
run as root, for whom ``chmod`` stops no write); where mounting is not allowed they are skipped.
"""

from __future__ import annotations

import errno
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from assistant.cli.app import Exit, app
from assistant.config import load_settings
from assistant.errors import CatalogError, DataDirError, StoreUnavailableError
from assistant.index.chroma import open_chroma, reset_collection
from assistant.index.core import Index
from assistant.services import build_services
from tests.conftest import free_port
from tests.test_index_batches import DIM, MODEL

pytestmark = pytest.mark.slow

ASSISTANT = Path(sys.executable).parent / "assistant"

REPORTS = {
    f"report_{n}.txt": f"Report {n}: inspector Quill{n} counted {100 + n} ferries in the harbour of Porto.\n"
    for n in range(3)
}


def write_corpus(folder: Path, texts: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def invoke(*args: str) -> tuple[int, str, str]:
    """The CLI in this process: (exit code, stdout, stderr); a traceback fails the test."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "damaged" not in lines[0] and "--rebuild" not in lines[0], lines[0]
    return lines[0]


def mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")


@contextmanager
def read_only_view(source: Path, target: Path) -> Iterator[Path]:
    """``source`` seen through a read-only bind mount at ``target``."""
    target.mkdir()
    mount("--bind", str(source), str(target))
    try:
        mount("-o", "remount,ro,bind", str(target))
        yield target
    finally:
        subprocess.run(["umount", "--lazy", str(target)], check=False)  # this process may still hold files open


@contextmanager
def small_disk(target: Path, size: str = "4m") -> Iterator[Path]:
    target.mkdir()
    mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target))
    try:
        yield target
    finally:
        subprocess.run(["umount", "--lazy", str(target)], check=False)  # this process may still hold files open


def contents(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Size, modification time and hash of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill ``disk`` until ``leave`` bytes are free (0: until the kernel refuses more)."""
    import shutil

    filler = disk / "filler"
    with filler.open("wb") as handle:
        try:
            while shutil.disk_usage(disk).free > leave:
                handle.write(b"\0" * min(65536, max(shutil.disk_usage(disk).free - leave, 4096)))
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


@pytest.mark.sqlite_only  # the index in the data directory; in server mode it holds only caches
def test_a_read_only_data_directory_is_searched_and_asked_and_never_written(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_EMBEDDING__CACHE_DIR", str(clean_env / "cache"))
    corpus = write_corpus(tmp_path / "corpus", REPORTS)
    ingest = subprocess.run([str(ASSISTANT), "ingest", "-q", str(corpus)], capture_output=True, text=True, timeout=300)
    assert ingest.returncode == 0, ingest.stderr  # a process that has exited: no file of it is open any more
    before = contents(clean_env)
    with read_only_view(clean_env, tmp_path / "ro") as view:
        monkeypatch.setenv("ASSISTANT_DATA_DIR", str(view))
        monkeypatch.setenv("ASSISTANT_EMBEDDING__CACHE_DIR", str(view / "cache"))
        for mode in ("hybrid", "dense", "bm25"):
            code, out, err = invoke("search", "--json", "--mode", mode, "How many ferries did Quill1 count?")
            assert code == 0, err
            assert json.loads(out)["hits"][0]["doc_id"] == "report_1.txt"
        code, out, err = invoke(
            "ask", "--json", "--backend", "embedded", "--mode", "extractive", "What did Quill2 count?"
        )
        assert code == 0, err
        assert json.loads(out)["status"] == "complete" and "102 ferries" in out
        code, out, err = invoke("doctor")
        assert "3 documents" in out and "damaged" not in out + err

        for extra in ([], ["--rebuild"]):
            code, _, err = invoke("ingest", *extra, str(corpus))
            assert code == Exit.CANNOT_WRITE == 10
            assert "cannot write" in one_line_error(err) and "(read-only)" in err
    assert contents(clean_env) == before, "nothing was written, not even a BM25 or check file"


@pytest.mark.sqlite_only  # the index in the data directory; in server mode it holds only caches
def test_a_full_disk_is_reported_as_such_and_the_index_recovers(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = write_corpus(tmp_path / "corpus", REPORTS)
    with small_disk(tmp_path / "disk") as disk:
        monkeypatch.setenv("ASSISTANT_DATA_DIR", str(disk / "data"))
        monkeypatch.setenv("ASSISTANT_EMBEDDING__CACHE_DIR", str(disk / "data" / "cache"))
        assert invoke("ingest", "-q", str(corpus))[0] == 0
        more = {
            f"extra_{n}.txt": f"Extra {n}: the engineer Vantablue{n} rebuilt bridge {n} in Tartu.\n" * 20
            for n in range(30)
        }
        write_corpus(corpus, more)

        # full, then nearly full: a write to the embedded store that would not fit is not started (Chroma's
        # native code can hang when the disk fills under it); a server's disk is the server's
        embedded = load_settings().chroma.mode == "embedded"
        for leave in (0, 200_000) if embedded else (0,):
            filler = fill(disk, leave)
            code, _, err = invoke("ingest", "-q", str(corpus))
            assert code == Exit.CANNOT_WRITE, err
            assert one_line_error(err).startswith("error: disk full")
            for mode in ("bm25", "hybrid"):  # reading still works
                code, out, err = invoke("search", "--json", "--mode", mode, "How many ferries did Quill1 count?")
                assert code == 0, err
                assert json.loads(out)["hits"][0]["doc_id"] == "report_1.txt"
            filler.unlink()

        code, _, err = invoke("ingest", "-q", str(corpus))
        assert code == 0, err
        services = build_services(load_settings())
        assert services.index.check_consistency(deep=True) == []
        assert services.index.counts()[0] == 33
        assert services.search("Vantablue7", k=1, mode="bm25").hits[0].doc_id == "extra_7.txt"


def test_a_data_directory_that_is_a_file_is_one_line(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_env.mkdir()
    (clean_env / "index").write_text("not a folder\n")  # the index's own folder is a file
    with pytest.raises(DataDirError, match=r"index is a file, not a directory"):
        Index(load_settings(), MODEL, DIM)
    code, _, err = invoke("ingest", str(tmp_path))
    assert code == Exit.USAGE and "is a file" in one_line_error(err)

    not_a_folder = tmp_path / "data.txt"
    not_a_folder.write_text("not a folder\n")
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(not_a_folder))
    for args in (["search", "ferries"], ["ingest", str(tmp_path)]):
        code, _, err = invoke(*args)
        assert code == Exit.USAGE and "data.txt" in one_line_error(err)


def test_a_read_only_open_never_creates_anything(tmp_path: Path, clean_env: Path) -> None:
    from assistant.errors import NoIndexError

    with pytest.raises(NoIndexError, match=r"no index at .*: run `assistant ingest PATH`"):
        Index(load_settings(), MODEL, DIM, create=False)
    assert not clean_env.exists()
    Index(load_settings(), MODEL, DIM)  # an empty index, made by a writer
    empty = Index(load_settings(), MODEL, DIM, create=False)
    assert empty.vectors.query(np.ones(DIM), 3) == [] and empty.bm25().search(["x"], 3) == []
    assert not (clean_env / "chroma").exists() or load_settings().chroma.mode == "http"


@pytest.mark.sqlite_only  # the SQLite file / file lock; server mode: tests/test_postgres_*.py
def test_a_catalog_that_cannot_be_opened_is_not_called_damaged(clean_env: Path) -> None:
    (clean_env / "index" / "catalog.sqlite").mkdir(parents=True)
    with pytest.raises(StoreUnavailableError, match="cannot open the index catalog") as raised:
        Index(load_settings(), MODEL, DIM)
    assert not isinstance(raised.value, CatalogError) and "damaged" not in str(raised.value)


def test_a_rebuild_whose_drop_fails_stops_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It used to ignore the failure and go on over the old vectors: here the Chroma server goes away."""
    import socket
    import time

    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "chroma"), "run", "--path", str(tmp_path / "db"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        for key, value in {"MODE": "http", "HOST": "127.0.0.1", "PORT": str(port)}.items():
            monkeypatch.setenv(f"ASSISTANT_CHROMA__{key}", value)
        client = open_chroma(load_settings())
        client.get_or_create_collection("documents", embedding_function=None)
        reset_collection(client, "never-made-here")  # not there: already dropped
    finally:
        server.terminate()
        server.wait(timeout=30)
    with pytest.raises(Exception, match=r"(?i)connect"):
        reset_collection(client, "documents")
