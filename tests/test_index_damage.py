"""Damaged files and indexes of other versions are reported, with the way out; a rebuild recovers.

Damage is real: files are truncated or overwritten on disk, and a store that crashes chromadb
crashes a real child process.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assistant.cli.app import Exit
from assistant.config import load_settings
from assistant.index.catalog import CatalogError
from assistant.index.core import IndexDamagedError, IndexVersionError
from tests.test_integrity import (
    assert_consistent,
    cli,
    files_under,
    invoke,
    services,
    small_chunks,
    write_reports,
)

pytestmark = pytest.mark.slow


@pytest.mark.sqlite_only  # the SQLite file / file lock; server mode: tests/test_postgres_*.py
@pytest.mark.parametrize("damage", ["truncated", "overwritten"])
def test_damaged_catalog_is_reported_and_rebuild_recovers(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    small_chunks(monkeypatch)
    corpus = tmp_path / "corpus"
    write_reports(corpus, 3, 2)
    assert cli("ingest", "-q", str(corpus)).returncode == 0  # its exit checkpoints the catalog into one file
    catalog = clean_env / "index" / "catalog.sqlite"
    size = catalog.stat().st_size
    with catalog.open("r+b") as handle:
        if damage == "truncated":
            handle.truncate(size // 2)
        else:
            handle.seek(size // 3)
            handle.write(os.urandom(8192))

    with pytest.raises(CatalogError, match=r"catalog .* is damaged .*assistant ingest --rebuild"):
        _ = services().index
    code, stderr = invoke("search", "inspector Quill2")
    assert code == Exit.INDEX and "assistant ingest --rebuild" in stderr

    assert invoke("ingest", "--rebuild", "-q", str(corpus))[0] == 0
    svc = services()
    assert svc.index.counts()[0] == 3 and "Quill2 " in svc.search("inspector Quill2", k=1, mode="bm25").hits[0].text
    assert_consistent(svc)


PAD_STORE = textwrap.dedent(
    """
    import sys
    import chromadb
    import numpy as np
    from chromadb.config import Settings

    client = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
    collection = client.get_collection(sys.argv[2])
    vectors = np.random.default_rng(0).normal(size=(1200, 384))
    ids, metadatas = [f"pad{i}" for i in range(1200)], [{"doc_id": "pad"}] * 1200
    collection.add(ids=ids, embeddings=vectors.tolist(), metadatas=metadatas)
    """
)


@pytest.mark.embedded_only
def test_a_store_that_crashes_chroma_is_reported_not_inherited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random bytes in Chroma's HNSW file make chromadb segfault: only the checking child process dies."""
    small_chunks(monkeypatch)
    corpus = tmp_path / "corpus"
    write_reports(corpus, 3, 1)
    assert cli("ingest", "-q", str(corpus)).returncode == 0
    settings = load_settings()
    # more than 1000 vectors: Chroma then keeps (and reads) an HNSW file on disk
    subprocess.run([sys.executable, "-c", PAD_STORE, str(settings.chroma_path), "documents"], check=True, timeout=120)
    (hnsw,) = settings.chroma_path.glob("*/data_level0.bin")
    hnsw.write_bytes(random.Random(0).randbytes(hnsw.stat().st_size))

    crashed = r"vector store .* is damaged: opening it crashed the checking process \(SIG\w+\); run `assistant"
    with pytest.raises(IndexDamagedError, match=crashed):
        _ = services().index
    code, stderr = invoke("search", "inspector Quill1")  # remembered: not probed again while the files are unchanged
    assert code == Exit.INDEX and "crashed" in stderr and "assistant ingest --rebuild" in stderr

    assert invoke("ingest", "--rebuild", "-q", str(corpus))[0] == 0
    svc = services()
    assert "Quill1 " in svc.search("inspector Quill1", k=1, mode="bm25").hits[0].text
    assert_consistent(svc)


@pytest.mark.embedded_only
def test_a_store_that_lost_its_data_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A truncated chroma.sqlite3 opens as an empty store: the catalog's chunks show that it lost them."""
    corpus = tmp_path / "corpus"
    write_reports(corpus, 2, 1)
    assert cli("ingest", "-q", str(corpus)).returncode == 0
    (load_settings().chroma_path / "chroma.sqlite3").write_bytes(b"")
    with pytest.raises(IndexDamagedError, match=r"holds no vectors but the catalog lists \d+ chunks.*--rebuild"):
        _ = services().index


@pytest.mark.embedded_only
@pytest.mark.parametrize(("key", "value"), [("schema_version", "0"), ("chromadb_series", "0.4")])
def test_index_of_another_version_is_refused_untouched(tmp_path: Path, key: str, value: str) -> None:
    corpus = tmp_path / "corpus"
    write_reports(corpus, 2, 1)
    assert cli("ingest", "-q", str(corpus)).returncode == 0
    settings = load_settings()
    with sqlite3.connect(settings.index_dir / "catalog.sqlite") as db:
        db.execute("UPDATE manifest SET value = ? WHERE key = ?", (value, key))
    db.close()
    before = files_under(settings.chroma_path)

    with pytest.raises(IndexVersionError, match=rf"written with {key}={value} .*assistant ingest --rebuild"):
        _ = services().index
    code, stderr = invoke("ask", "--backend", "embedded", "What did inspector Quill1 count?")
    assert code == Exit.INDEX and f"{key}={value}" in stderr
    assert files_under(settings.chroma_path) == before, "the refused store was not opened (nor migrated)"

    assert invoke("ingest", "--rebuild", "-q", str(corpus))[0] == 0
    assert services().index.catalog.manifest()[key] != value
