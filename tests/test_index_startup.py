"""Opening the index is cheap: the store's check runs once per state of its files, heavy parts load on use.

Each "process" here is a real new Python process, since what is cheap is what a new command pays.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SUITE_CHROMA_MODE
from tests.test_index_batches import DIM, MODEL, document

pytestmark = pytest.mark.slow

OPEN_AND_SEARCH = f"""
import json, sys
import assistant.index.health as health
from assistant.index.bm25 import BM25Index
probes, loads = [], []
real_probe, real_load = health.probe, BM25Index.load
health.probe = lambda *a, **k: (probes.append(1), real_probe(*a, **k))[1]
BM25Index.load = classmethod(lambda cls, path: (loads.append(1), real_load(path))[1])
from assistant.config import load_settings
from assistant.errors import AssistantError
from assistant.index.core import Index
import numpy as np
try:
    index = Index(load_settings(), {MODEL!r}, {DIM})
except AssistantError as exc:
    print(json.dumps({{"error": str(exc), "probes": len(probes)}}))
    sys.exit(0)
report = {{"probes_at_open": len(probes), "chromadb_at_open": "chromadb" in sys.modules, "bm25_at_open": len(loads)}}
mode = sys.argv[1]
if mode in ("dense", "both"):
    vector = np.ones({DIM}, dtype=np.float32) / np.sqrt({DIM})
    report["dense"] = [m.chunk_id for m in index.vectors.query(vector, 1)]
if mode in ("bm25", "both"):
    report["bm25"] = [cid for cid, _ in index.bm25().search(["w1x3"], 1)]
report.update(probes=len(probes), bm25_loads=len(loads), chromadb="chromadb" in sys.modules,
              llama_index="llama_index.core" in sys.modules)
print(json.dumps(report))
"""


def run(mode: str, env: dict[str, str] | None = None) -> dict[str, object]:
    """Open the index in a new process and search it (``dense``, ``bm25``, ``both`` or ``none``)."""
    done = subprocess.run(
        [sys.executable, "-c", OPEN_AND_SEARCH, mode],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def write_index() -> None:
    from assistant.config import load_settings
    from assistant.index.core import Index

    index = Index(load_settings(), MODEL, DIM)
    index.replace([document("a.txt", 40, seed=1)], known=set())
    index.bm25()  # saved, as an ingest does


@pytest.mark.embedded_only
def test_the_store_is_checked_once_per_state_of_its_files(clean_env: Path) -> None:
    write_index()  # in this process: it trusts the files it wrote
    first = run("both")
    assert first["probes"] == 0, "the files are as the writer left them"
    assert first["bm25"] == ["a.txt#3"] and len(first["dense"]) == 1  # type: ignore[arg-type]
    assert run("dense")["probes"] == 0, "the files are as the last reader left them"

    # something else changes a file of the store: the next process checks it, once
    store = clean_env / "chroma" / "chroma.sqlite3"
    os.utime(store, ns=(store.stat().st_atime_ns, store.stat().st_mtime_ns + 10**9))
    assert run("dense")["probes"] == 1
    assert run("dense")["probes"] == 0

    # a damaged store's verdict is remembered across processes too, until its files change again
    store.write_bytes(b"")  # it opens as an empty store while the catalog lists chunks
    verdicts = [run("none"), run("none")]
    for found in verdicts:
        assert "holds no vectors but the catalog lists 40 chunks" in str(found["error"])
    assert [found["probes"] for found in verdicts] == [1, 0]


def test_opening_loads_nothing_heavy_and_each_search_only_what_it_needs() -> None:
    write_index()
    opened = run("none")
    assert opened["chromadb_at_open"] is False and opened["bm25_at_open"] == 0
    assert opened["chromadb"] is False and opened["llama_index"] is False
    bm25 = run("bm25")
    assert bm25["bm25"] == ["a.txt#3"] and bm25["bm25_loads"] == 1 and bm25["chromadb"] is False
    dense = run("dense")
    assert dense["bm25_loads"] == 0 and dense["chromadb"] is True
    assert dense["llama_index"] is False, "searching reads the collection directly; llama-index writes"
    again = run("dense")
    assert again["dense"] == dense["dense"]
    if SUITE_CHROMA_MODE == "embedded":
        assert again["chromadb"] is False, "the first search saved the vectors' exact-search copy; this one reads it"
