"""The index survives concurrent ingests and kill -9; orphan and missing vectors are repaired.

Damaged files and other versions: tests/test_index_damage.py; bad input files: tests/test_index_bad_files.py.

Crashes are real: ingests run as ``assistant ingest`` subprocesses that are killed with SIGKILL,
and damaged files are damaged on disk. A store is never written by two processes at once here:
the test process opens an index only when no subprocess is writing it.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli.app import Exit, app
from assistant.config import load_settings
from assistant.index.core import IngestBusyError, exclusive_write
from assistant.ingest.chunking import chunk_document
from assistant.ingest.readers import FileRef, read_document
from assistant.ingest.sync import ingest_lock
from assistant.services import Services, build_services

pytestmark = pytest.mark.slow

ASSISTANT = Path(sys.executable).parent / "assistant"
CITIES = ["Trieste", "Lyon", "Porto", "Ghent", "Bergen", "Split", "Tartu", "Cork", "Graz", "Nantes"]
THINGS = ["bridges", "libraries", "bakeries", "ferries", "museums", "orchards", "theatres", "gardens"]


# -- helpers ----------------------------------------------------------------------------------------


def report_text(number: int, version: int) -> str:
    """A small generated document: one sentence, and one more for each later version."""
    rng = random.Random(number)
    city, thing = rng.choice(CITIES), rng.choice(THINGS)
    sentences = [f"Report {number}: inspector Quill{number} counted {rng.randint(10, 999)} {thing} in {city}."]
    sentences += [
        f"Revision {v} of report {number} adds {rng.randint(2, 90)} new {thing} near harbour {v}."
        for v in range(2, version + 1)
    ]
    return "\n\n".join(sentences) + "\n"


def write_reports(folder: Path, count: int, version: int) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    texts = {}
    for number in range(count):
        name = f"report_{number:03d}.txt"
        texts[name] = report_text(number, version)
        (folder / name).write_text(texts[name], encoding="utf-8")
    return texts


def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """One sentence per chunk: a new version of a document keeps its first chunk and adds more."""
    monkeypatch.setenv("ASSISTANT_CHUNKING__CHUNK_SIZE", "100")
    monkeypatch.setenv("ASSISTANT_CHUNKING__CHUNK_OVERLAP", "0")


def cli(*args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    """``assistant <args>`` in a new process (the test's environment, plus ``env``)."""
    return subprocess.run(
        [str(ASSISTANT), *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **env}
    )


def files_under(folder: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def services() -> Services:
    return build_services(load_settings())


def chunk_ids_of(folder: Path, name: str, text: str) -> list[str]:
    """The chunk ids ingestion gives ``text`` as document ``name`` (with the current settings)."""
    settings = load_settings()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    loaded = read_document(FileRef(folder, path, name), 10**8)
    return [c.chunk_id for c in chunk_document(loaded, settings.chunking.chunk_size, settings.chunking.chunk_overlap)]


def assert_consistent(svc: Services) -> None:
    """Catalog, BM25 and vectors hold the same chunks, and every chunk is a verbatim slice of its file."""
    index = svc.index
    assert index.check_consistency(deep=True) == []
    ids = index.catalog.all_chunk_ids()
    assert index.vectors.chunk_ids() == ids == set(index.bm25().ids)
    for info in index.catalog.documents():
        text = Path(info.path).read_text(encoding="utf-8")
        assert hashlib.sha256(text.encode()).hexdigest() == info.sha256
        assert [c.text for c in index.catalog.document_chunks(info.doc_id)] == [
            text[c.start : c.end] for c in index.catalog.document_chunks(info.doc_id)
        ]


def invoke(*args: str) -> tuple[int, str]:
    """The CLI in this process: (exit code, stderr)."""
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.stderr


# -- one ingest at a time ---------------------------------------------------------------------------


@pytest.mark.sqlite_only  # the SQLite file / file lock; server mode: tests/test_postgres_*.py
def test_second_ingest_waits_for_the_lock_then_exits_busy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small_chunks(monkeypatch)
    corpus = tmp_path / "corpus"
    write_reports(corpus, 2, 1)
    first = services()
    first.ingest([corpus])
    docs_before = first.index.catalog.all_chunk_ids()
    lock = ingest_lock(first.settings)
    lock.acquire()
    try:
        started = time.monotonic()
        runs = [
            subprocess.Popen(
                [str(ASSISTANT), "ingest", *extra, str(corpus)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "ASSISTANT_INGEST__LOCK_TIMEOUT": "1"},
            )
            for extra in ([], ["--rebuild"])
        ]
        outputs = [run.communicate(timeout=120) for run in runs]
        elapsed = time.monotonic() - started
    finally:
        lock.release()
    for run, (_, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == Exit.BUSY, stderr
        assert "another ingest is running" in stderr and "Traceback" not in stderr
    assert elapsed >= 1.0, "it waited for the lock before giving up"
    # --rebuild drops the index only once it holds the lock: nothing was lost
    assert services().index.catalog.all_chunk_ids() == docs_before
    assert services().ingest([corpus]).unchanged == ["report_000.txt", "report_001.txt"]


@pytest.mark.sqlite_only  # the SQLite file / file lock; server mode: tests/test_postgres_*.py
def test_a_waiting_ingest_touches_no_file_of_the_index(tmp_path: Path, clean_env: Path) -> None:
    """Chroma is not process-safe: a second ingest must wait for the lock before it opens the store."""
    corpus = tmp_path / "corpus"
    write_reports(corpus, 2, 1)
    assert cli("ingest", "-q", str(corpus)).returncode == 0
    before = files_under(clean_env)
    lock = ingest_lock(load_settings())
    lock.acquire()
    try:
        busy = cli("ingest", "-q", str(corpus), ASSISTANT_INGEST__LOCK_TIMEOUT="1")
    finally:
        lock.release()
    assert busy.returncode == Exit.BUSY, busy.stderr
    assert files_under(clean_env) == before


@pytest.mark.sqlite_only  # the SQLite file / file lock; server mode: tests/test_postgres_*.py
def test_a_crash_releases_the_lock(tmp_path: Path) -> None:
    settings = load_settings()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from assistant.config import load_settings\n"
            "from assistant.ingest.sync import ingest_lock\n"
            "lock = ingest_lock(load_settings())\n"
            "lock.acquire()\n"
            "print('locked', flush=True)\n"
            "time.sleep(120)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        impatient = settings.model_copy(update={"ingest": settings.ingest.model_copy(update={"lock_timeout": 0.3})})
        with pytest.raises(IngestBusyError, match="another ingest is running"), exclusive_write(impatient):
            pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        holder.kill()
    lock = ingest_lock(settings)
    lock.acquire(timeout=5)  # the kernel released the dead holder's lock
    lock.release()


# -- kill -9 in the middle of an ingest -----------------------------------------------------------


def catalog_shas(data_dir: Path) -> dict[str, str]:
    """doc_id -> sha256 read from the catalog without opening the index (safe while another process writes)."""
    path = data_dir / "index" / "catalog.sqlite"
    if not path.exists():
        return {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        try:
            rows = db.execute("SELECT doc_id, info FROM documents").fetchall()
        except sqlite3.OperationalError:
            return {}
    import json

    return {doc_id: json.loads(info)["sha256"] for doc_id, info in rows}


@pytest.mark.sqlite_only  # the SQLite file / file lock; server mode: tests/test_postgres_*.py
def test_kill_9_during_an_ingest_leaves_every_document_whole(
    tmp_path: Path, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_chunks(monkeypatch)
    monkeypatch.setenv("ASSISTANT_EMBEDDING__CACHE_DIR", str(tmp_path / "cache"))  # cold: the run takes a while
    monkeypatch.setenv("ASSISTANT_INGEST__WRITE_BATCH", "4")  # many small batches, so the kill lands between two
    corpus, scratch = tmp_path / "corpus", tmp_path / "scratch"
    old = write_reports(corpus, 60, 1)
    assert cli("ingest", "-q", str(corpus)).returncode == 0
    new = {name: report_text(number, 2) for number, name in enumerate(old)}
    old_ids = {name: chunk_ids_of(scratch, name, text) for name, text in old.items()}
    new_ids = {name: chunk_ids_of(scratch, name, text) for name, text in new.items()}
    for name, text in new.items():
        (corpus / name).write_text(text, encoding="utf-8")
    new_shas = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in new.items()}

    run = subprocess.Popen([str(ASSISTANT), "ingest", "-q", str(corpus)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and run.poll() is None:
            shas = catalog_shas(clean_env)
            if sum(shas.get(name) == sha for name, sha in new_shas.items()) >= 10:
                break
            time.sleep(0.02)
        assert run.poll() is None, "the ingest ended before it could be killed"
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=10)
    finally:
        run.kill()
    updated = sum(catalog_shas(clean_env).get(name) == sha for name, sha in new_shas.items())
    assert 10 <= updated < 60

    # queries work on the interrupted index, and every document in the catalog is one version, whole
    after_kill = services()
    index = after_kill.index
    for info in index.catalog.documents():
        ids = [c.chunk_id for c in index.catalog.document_chunks(info.doc_id)]
        assert ids in (old_ids[info.doc_id], new_ids[info.doc_id]), info.doc_id
    assert "Quill7 " in after_kill.search("inspector Quill7", k=1, mode="bm25").hits[0].text
    assert (
        after_kill.answerer.ask("What did inspector Quill7 count?", backend="embedded", mode="extractive").status
        == "complete"
    )

    # a new ingest completes the sync and leaves the index consistent
    report = after_kill.ingest([corpus])
    assert not report.failed and len(report.updated) == 60 - updated
    assert len(report.unchanged) == updated
    assert_consistent(after_kill)
    for info in index.catalog.documents():
        assert [c.chunk_id for c in index.catalog.document_chunks(info.doc_id)] == new_ids[info.doc_id]
    assert index.counts() == (60, sum(len(ids) for ids in new_ids.values()))


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from assistant.config import load_settings
    from assistant.services import build_services
    from assistant.index.vectors import VectorIndex

    corpus, target, point, new_text = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    services = build_services(load_settings())
    services.ingest([corpus])
    (corpus / target).write_text(new_text, encoding="utf-8")
    add, delete = VectorIndex.add, VectorIndex.delete_documents

    def killing_add(self, chunks, vectors):
        add(self, chunks, vectors)
        if point == "after_add" and chunks and chunks[0].doc_id == target:
            os.kill(os.getpid(), signal.SIGKILL)

    def killing_delete(self, doc_ids):
        delete(self, doc_ids)
        if point == "after_delete" and target in doc_ids:
            os.kill(os.getpid(), signal.SIGKILL)

    VectorIndex.add, VectorIndex.delete_documents = killing_add, killing_delete
    services.ingest([corpus])
    """
)


@pytest.mark.parametrize("point", ["after_delete", "after_add"])
def test_kill_between_vector_and_catalog_writes_is_undone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    """The worst moments: the old vectors deleted (or the new ones written) but the catalog not yet updated."""
    small_chunks(monkeypatch)
    corpus = tmp_path / "corpus"
    write_reports(corpus, 4, 2)
    target = "report_002.txt"
    args = [str(corpus), target, point, report_text(2, 4)]
    killed = subprocess.run([sys.executable, "-c", KILLER, *args], timeout=120, check=False)
    assert killed.returncode == -signal.SIGKILL

    svc = services()
    index = svc.index
    assert index.catalog.pending() == [target]
    assert any(target in line for line in index.check_consistency())
    old_ids = chunk_ids_of(tmp_path / "scratch", target, report_text(2, 2))
    assert [c.chunk_id for c in index.catalog.document_chunks(target)] == old_ids  # the catalog is still whole
    hit = svc.search("inspector Quill2", k=1, mode="bm25").hits[0]  # BM25 still finds the old version
    assert hit.doc_id == target and hit.text in report_text(2, 2)

    report = svc.ingest([corpus])
    assert report.recovered == [target] and report.updated == [target] and not report.repaired
    assert_consistent(svc)
    assert "Revision 4" in " ".join(c.text for c in index.catalog.document_chunks(target))


def test_orphan_and_missing_vectors_are_repaired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small_chunks(monkeypatch)
    corpus = tmp_path / "corpus"
    write_reports(corpus, 3, 2)
    svc = services()
    svc.ingest([corpus])
    index = svc.index
    ghost = [
        c.model_copy(update={"chunk_id": f"ghost{i}", "doc_id": "ghost.txt"})
        for i, c in enumerate(index.catalog.document_chunks("report_000.txt"))
    ]
    index.vectors.add(ghost, svc.embedder.embed_passages([c.text for c in ghost]))
    lost = sorted(c.chunk_id for c in index.catalog.document_chunks("report_001.txt"))[:1]
    index.delete_vectors(lost)

    problems = index.check_consistency()
    assert "ghost.txt: 2 orphan vector(s)" in problems and "report_001.txt: 1 chunk(s) without a vector" in problems
    report = svc.ingest([corpus])
    assert sorted(report.repaired) == sorted(problems)
    assert report.unchanged == ["report_000.txt", "report_001.txt", "report_002.txt"]
    assert_consistent(svc)
