"""Is the embedded Chroma store safe to open? Checked in a child process, once per state of its files.

chromadb's native code can crash (or hang) the process that opens a damaged store, so a store is
first opened and queried by ``python -m assistant.index.health`` in a child process; a crash
there is reported as a damaged index, not inherited. The verdict is recorded beside the catalog
with a fingerprint of the store's files (name, size and modification time of each), so the next
process that finds them unchanged trusts it without a child. Chroma rewrites its files whenever a
process opens them, so a process that has read the store (or written it) records the files as it
leaves them: they were made by a healthy client. Files changed by anything else are probed again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from assistant.errors import CannotWriteError, DiskFullError, IndexDamagedError
from assistant.index.manifest import REBUILD_HINT
from assistant.index.storage import folder_size, free_bytes, storage_error

PROBE_TIMEOUT = 60.0
"""Seconds the child process may take to open the Chroma store and answer a query."""
RECORD_FILE = "store_check.json"
"""The last verdict on the store, in the index directory beside the catalog."""

Fingerprint = list[tuple[str, int, int]]


class ProbeResult(BaseModel):
    """What the child process found (printed as one line of JSON)."""

    kind: Literal["ok", "damaged", "read_only", "disk_full"] = "ok"
    problem: str | None = None
    raised: bool = False
    """Chroma raised an error (rather than crashing or returning nothing)."""
    count: int | None = None
    """Vectors in the collection; None when the store has no such collection."""


class StoreVerdict(BaseModel):
    """The verdict on the store's files, valid while they keep this fingerprint."""

    fingerprint: Fingerprint
    problem: str | None = None
    """What is wrong (None: the store opens and answers)."""
    count: int | None = None


def fingerprint(path: Path) -> Fingerprint:
    """Name, size and modification time (ns) of every file of the store at ``path`` (a few ``stat`` calls)."""
    found: Fingerprint = []
    for folder, _, names in os.walk(path):
        for name in names:
            full = Path(folder, name)
            with contextlib.suppress(OSError):  # removed meanwhile: not part of the store any more
                stat = full.stat()
                found.append((str(full.relative_to(path)), stat.st_size, stat.st_mtime_ns))
    return sorted(found)


def probe(path: Path, collection: str, timeout: float = PROBE_TIMEOUT) -> ProbeResult:
    """Open the store at ``path`` and query ``collection`` in a child process, and say what it found.

    A crash, a hang or an error of Chroma's is a damaged store (``kind="damaged"``); a store that
    cannot be opened for lack of space or permission is ``disk_full`` or ``read_only``. A failure of
    the check itself (a bug) raises ``RuntimeError``.
    """
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    command = [sys.executable, "-m", "assistant.index.health", str(path), collection]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return ProbeResult(kind="damaged", problem=f"opening it took longer than {timeout:.0f} s")
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        return ProbeResult(kind="damaged", problem=f"opening it crashed the checking process ({name})")
    lines = done.stdout.strip().splitlines()
    try:
        if done.returncode == 0 and lines:
            return ProbeResult.model_validate_json(lines[-1])
    except ValidationError:
        pass
    detail = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    raise RuntimeError(
        f"the check of the vector store {path} failed (exit status {done.returncode}): "
        f"{detail[-1] if detail else done.stdout[-300:]!r}"
    )


_VERDICTS: dict[str, StoreVerdict] = {}
_VERDICTS_LOCK = threading.Lock()


def _read_record(record: Path) -> StoreVerdict | None:
    try:
        return StoreVerdict.model_validate_json(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # no record yet, or an unreadable one: probed again


def _write_record(record: Path, verdict: StoreVerdict) -> None:
    partial = record.with_name(f"{record.name}.{os.getpid()}.partial")  # two processes may record at once
    try:
        partial.write_text(verdict.model_dump_json(), encoding="utf-8")
        partial.replace(record)
    except OSError:  # a full disk: the record is a cache, the next process probes again
        with contextlib.suppress(OSError):
            partial.unlink()


def remember(path: Path, record: Path | None, verdict: StoreVerdict) -> None:
    """Keep ``verdict`` for this process and, when ``record`` is given (a writable directory), on disk."""
    with _VERDICTS_LOCK:
        _VERDICTS[str(path.resolve())] = verdict
    if record is not None:
        _write_record(record, verdict)


def trust(path: Path, record: Path | None, count: int) -> None:
    """Record the store's files as they are now as healthy: this process has just read or written them."""
    remember(path, record, StoreVerdict(fingerprint=fingerprint(path), count=count))


def forget(path: Path, record: Path | None) -> None:
    """Drop what is known of the store at ``path`` (its files are being deleted)."""
    with _VERDICTS_LOCK:
        _VERDICTS.pop(str(path.resolve()), None)
    if record is not None:
        record.unlink(missing_ok=True)


def verdict(path: Path, collection: str, record: Path | None, probe_path: Path | None = None) -> StoreVerdict:
    """The verdict on the store at ``path``: the one recorded for its current files, or a new probe's.

    ``probe_path`` is a copy to open instead (a store in a read-only directory). Raises
    :class:`StorageError` when the store cannot be opened for lack of space or permission.
    """
    current = fingerprint(path)
    with _VERDICTS_LOCK:
        known = _VERDICTS.get(str(path.resolve()))
    if known is None or known.fingerprint != current:
        known = _read_record(record) if record is not None else None
    if known is not None and known.fingerprint == current:
        return known
    found = probe(probe_path or path, collection)
    if found.kind == "read_only":
        raise CannotWriteError(f"cannot write the vector store {path} (read-only)")
    if found.kind == "disk_full":
        raise DiskFullError(f"disk full: cannot write the vector store {path}")
    free = free_bytes(path)
    if found.raised and free is not None and free < folder_size(path) + (1 << 20):
        # Chroma applies its log and rewrites its files when it opens a store: an error then, with
        # less room left than the store takes, is the disk's, not the files' (they are not judged)
        room = f"{free / 1e6:.1f} MB free"
        raise DiskFullError(f"disk full: cannot open the vector store {path} ({room}): {found.problem}")
    checked = StoreVerdict(fingerprint=fingerprint(path), problem=found.problem, count=found.count)
    remember(path, record, checked)  # the probe's own opening rewrote the files: their fingerprint is taken after it
    return checked


def check_store(
    path: Path, collection: str, record: Path | None, expected_chunks: int, probe_path: Path | None = None
) -> None:
    """Raise :class:`IndexDamagedError` if the embedded store at ``path`` cannot be opened safely.

    ``expected_chunks`` is the catalog's chunk count: a store that lost its collection while the
    catalog still lists chunks is damaged too (a truncated ``chroma.sqlite3`` opens as a new one).
    """
    if not (path / "chroma.sqlite3").exists():
        if expected_chunks:
            raise IndexDamagedError(
                f"the vector store {path} is missing but the catalog lists {expected_chunks} chunks; {REBUILD_HINT}"
            )
        return
    found = verdict(path, collection, record, probe_path)
    problem = found.problem
    if problem is None and not found.count and expected_chunks:
        problem = f"it holds no vectors but the catalog lists {expected_chunks} chunks"
    if problem is not None:
        raise IndexDamagedError(f"the vector store {path} is damaged: {problem}; {REBUILD_HINT}")


def main(argv: list[str] | None = None) -> int:
    """The child's work: open the store at ``argv[0]``, query collection ``argv[1]``, print a :class:`ProbeResult`."""
    path, name = argv if argv is not None else sys.argv[1:3]
    os.environ["ANONYMIZED_TELEMETRY"] = "False"
    import sqlite3

    import chromadb
    from chromadb.config import Settings
    from chromadb.errors import ChromaError, NotFoundError

    try:
        client: Any = chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))
        try:
            collection: Any = client.get_collection(name)
        except NotFoundError:
            print(ProbeResult(count=None).model_dump_json())
            return 0
        count = collection.count()
        if count:
            # a query first, as the assistant's first use does: it loads the HNSW files (where damage crashes)
            dim = (collection.metadata or {}).get("embedding_dim")
            if not isinstance(dim, int):
                dim = len(collection.get(limit=1, include=["embeddings"])["embeddings"][0])
            found = collection.query(query_embeddings=[[1.0] * dim], n_results=1, include=["distances"])
            if not found["ids"] or not found["ids"][0]:
                empty = "the vector index returns nothing although it holds vectors"
                print(ProbeResult(kind="damaged", problem=empty).model_dump_json())
                return 0
            collection.get(limit=1, include=["embeddings", "metadatas", "documents"])
    except (ChromaError, sqlite3.DatabaseError, OSError) as exc:  # what damaged files raise; anything else is a bug
        mapped = storage_error(exc, path)
        kind: Literal["damaged", "read_only", "disk_full"] = "damaged"
        if mapped is not None:
            kind = "disk_full" if mapped.code == "disk_full" else "read_only"
        lines = str(exc).strip().splitlines()
        problem = lines[-1][:300] if lines else type(exc).__name__
        print(ProbeResult(kind=kind, problem=problem, raised=True).model_dump_json())
        return 0
    print(ProbeResult(count=count).model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
