"""The index as one object: the Chroma vectors, the SQLite catalog and the BM25 index in memory.

Opening it checks, before Chroma touches its files: the catalog's integrity, the manifest (schema,
chromadb version, embedding model; an index written by an incompatible version is refused instead
of misread or migrated) and, in embedded mode, that the Chroma store opens and answers a query.
That last check runs in a child process, because chromadb's native code can abort the process on
a damaged file; a crash there is reported as a damaged index, not inherited.

:meth:`Index.audit` compares the catalog, its BM25 tokens and the vectors; ingestion repairs what
it finds.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from assistant.config import Settings
from assistant.errors import IndexDamagedError, IndexVersionError, IngestBusyError
from assistant.index.bm25 import BM25Index, tokenize
from assistant.index.catalog import SCHEMA_VERSION, Catalog
from assistant.index.vectors import IndexMismatchError, VectorIndex, open_chroma, reset_collection
from assistant.models import Chunk, DocumentInfo

REBUILD_HINT = "run `assistant ingest --rebuild`"
PROBE_TIMEOUT = 60.0
BM25_FILE = "bm25.npz"
"""The saved BM25 index, in the index directory beside the catalog."""
"""Seconds the child process may take to open the Chroma store and answer a query."""





def ingest_lock(settings: Settings):  # type: ignore[no-untyped-def]
    """The OS-level lock that serialises writers of one data directory (a crash releases it)."""
    from filelock import FileLock

    settings.index_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(settings.index_dir / "ingest.lock"))


_HELD = threading.local()  # data directories whose lock this thread holds, with a nesting count


@contextmanager
def exclusive_write(settings: Settings) -> Iterator[None]:
    """Hold the ingest lock, waiting at most ``ingest.lock_timeout`` seconds for it.

    Re-entrant within a thread, so a caller can take the lock before opening the index (a process
    that has to wait then touches no file of the index) and call :func:`assistant.ingest.sync.sync`.
    """
    from filelock import Timeout

    held: dict[str, int] = _HELD.__dict__.setdefault("counts", {})
    key = str(settings.index_dir.resolve())
    if held.get(key):
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    lock = ingest_lock(settings)
    try:
        lock.acquire(timeout=settings.ingest.lock_timeout)
    except Timeout as exc:
        raise IngestBusyError(
            f"another ingest is running on {settings.data_dir} (waited {settings.ingest.lock_timeout:.0f} s); "
            "try again when it has finished"
        ) from exc
    held[key] = 1
    try:
        yield
    finally:
        held[key] = 0
        lock.release()


def _chromadb_series() -> str:
    return ".".join(version("chromadb").split(".")[:2])


def expected_manifest(embedding_model: str, dim: int) -> dict[str, str]:
    """What this version of the assistant writes into a new index's manifest."""
    return {
        "schema_version": str(SCHEMA_VERSION),
        "assistant_version": version("local-doc-assistant"),
        "chromadb_series": _chromadb_series(),
        "embedding_model": embedding_model,
        "embedding_dim": str(dim),
    }


# -- the Chroma store probe ----------------------------------------------------------------------

_PROBE = """
import json, os, sys
os.environ["ANONYMIZED_TELEMETRY"] = "False"
import chromadb
from chromadb.config import Settings
client = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
if sys.argv[2] not in [c.name for c in client.list_collections()]:
    print(json.dumps({"count": None}))
    sys.exit(0)
collection = client.get_collection(sys.argv[2])
count = collection.count()
if count:
    # a query first, as the assistant's first use does: it loads the HNSW files (where damage crashes)
    dim = (collection.metadata or {}).get("embedding_dim")
    if not isinstance(dim, int):
        dim = len(collection.get(limit=1, include=["embeddings"])["embeddings"][0])
    found = collection.query(query_embeddings=[[1.0] * dim], n_results=1, include=["distances"])
    if not found["ids"] or not found["ids"][0]:
        sys.exit("the vector index returns nothing although it holds vectors")
    collection.get(limit=1, include=["embeddings", "metadatas", "documents"])
print(json.dumps({"count": count}))
"""

# Stores this process has probed or opened: chromadb keeps one client per path and process, so
# probing again would test nothing new. Stores found damaged are remembered with their files'
# fingerprint, so that they are probed again only once something rewrote them.
_HEALTHY_STORES: set[str] = set()
_DAMAGED_STORES: dict[str, tuple[object, str]] = {}
_STORES_LOCK = threading.Lock()


def _fingerprint(path: Path) -> object:
    files = []
    for item in sorted(path.rglob("*")):
        try:
            stat = item.stat()
        except OSError:
            continue
        files.append((str(item.relative_to(path)), stat.st_size, stat.st_mtime_ns))
    return tuple(files)


def probe_store(path: Path, collection: str, timeout: float = PROBE_TIMEOUT) -> tuple[str | None, int | None]:
    """Open the embedded store at ``path`` in a child process: (what is wrong or None, vector count).

    The count is None when the store has no such collection.
    """
    import json

    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, str(path), collection],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"opening it took longer than {timeout:.0f} s", None
    except OSError as exc:
        return f"cannot start the check: {exc}", None
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        return f"opening it crashed the checking process ({name})", None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        return (lines[-1][:300] if lines else f"the check exited with status {done.returncode}"), None
    try:
        return None, json.loads(done.stdout.strip().splitlines()[-1])["count"]
    except (ValueError, IndexError, KeyError):
        return f"the check printed {done.stdout[-200:]!r}", None


def check_store(settings: Settings, expected_chunks: int) -> None:
    """Raise :class:`IndexDamagedError` if the embedded Chroma store cannot be opened safely.

    ``expected_chunks`` is the catalog's chunk count: a store that lost its collection while the
    catalog still lists chunks is damaged too (a truncated ``chroma.sqlite3`` opens as a new one).
    """
    path = settings.chroma_path
    if settings.chroma.mode != "embedded" or not (path / "chroma.sqlite3").exists():
        return
    key = str(path.resolve())
    with _STORES_LOCK:
        if key in _HEALTHY_STORES:
            return
        fingerprint = _fingerprint(path)
        known = _DAMAGED_STORES.get(key)
        if known is not None and known[0] == fingerprint:
            raise IndexDamagedError(known[1])
        problem, count = probe_store(path, settings.chroma.collection)
        if problem is None and not count and expected_chunks:
            problem = f"it holds no vectors but the catalog lists {expected_chunks} chunks"
        if problem is None:
            _HEALTHY_STORES.add(key)
            _DAMAGED_STORES.pop(key, None)
            return
        message = f"the vector store {path} is damaged: {problem}; {REBUILD_HINT}"
        _DAMAGED_STORES[key] = (_fingerprint(path), message)
        raise IndexDamagedError(message)


def _drop_store(settings: Settings) -> None:
    """Empty the vector store for a rebuild: a damaged embedded store is deleted, never opened."""
    path = settings.chroma_path
    if settings.chroma.mode == "embedded" and (path / "chroma.sqlite3").exists():
        key = str(path.resolve())
        try:
            check_store(settings, expected_chunks=0)
        except IndexDamagedError:
            os.environ["ANONYMIZED_TELEMETRY"] = "False"
            from chromadb.api.shared_system_client import SharedSystemClient

            SharedSystemClient.clear_system_cache()  # a client of the deleted files must not be reused
            shutil.rmtree(path)
            with _STORES_LOCK:
                _DAMAGED_STORES.pop(key, None)
                _HEALTHY_STORES.discard(key)
            return
    reset_collection(open_chroma(settings), settings.chroma.collection)


# -- consistency ---------------------------------------------------------------------------------


@dataclass
class IndexAudit:
    """Where the catalog, the BM25 tokens and the vectors disagree (all empty: consistent)."""

    pending: list[str] = field(default_factory=list)
    orphan_vectors: dict[str, list[str]] = field(default_factory=dict)
    """Vectors whose chunk the catalog does not have, by the document their metadata names."""
    missing_vectors: dict[str, list[str]] = field(default_factory=dict)
    """Catalog chunks without a vector, by document."""
    misfiled_vectors: list[str] = field(default_factory=list)
    """Vectors filed under another document than their catalog chunk."""
    miscounted: list[str] = field(default_factory=list)
    """Documents whose chunk count differs from their chunk rows."""
    stray_chunks: list[str] = field(default_factory=list)
    """Chunk rows whose document is not in the catalog."""
    stale_tokens: list[str] = field(default_factory=list)
    """Chunks whose BM25 tokens do not match their text (deep audit only)."""
    bm25_disagrees: bool = False

    def problems(self) -> list[str]:
        """One line per problem, for people."""
        lines = [f"{doc}: an update was interrupted" for doc in self.pending]
        lines += [f"{doc}: {len(ids)} orphan vector(s)" for doc, ids in sorted(self.orphan_vectors.items())]
        lines += [f"{doc}: {len(ids)} chunk(s) without a vector" for doc, ids in sorted(self.missing_vectors.items())]
        if self.misfiled_vectors:
            lines.append(f"{len(self.misfiled_vectors)} vector(s) filed under the wrong document")
        lines += [f"{doc}: chunk count differs from its chunks" for doc in self.miscounted]
        if self.stray_chunks:
            lines.append(f"{len(self.stray_chunks)} chunk(s) of no document")
        if self.stale_tokens:
            lines.append(f"{len(self.stale_tokens)} chunk(s) whose BM25 tokens do not match their text")
        if self.bm25_disagrees:
            lines.append("the BM25 index does not hold the catalog's chunks")
        return lines


class Index:
    """Vectors, catalog and BM25 of one corpus."""

    def __init__(self, settings: Settings, embedding_model: str, dim: int, rebuild: bool = False) -> None:
        self.settings = settings
        self.embedding_model = embedding_model
        self.dim = dim
        catalog_path = settings.index_dir / "catalog.sqlite"
        if rebuild:
            with exclusive_write(settings):
                _drop_store(settings)
                for suffix in ("", "-wal", "-shm"):
                    catalog_path.with_name(catalog_path.name + suffix).unlink(missing_ok=True)
                (settings.index_dir / BM25_FILE).unlink(missing_ok=True)
        self.catalog = Catalog(catalog_path)
        self.catalog.check()
        self._check_manifest()
        # an interrupted update may have left a document without vectors: the next ingest restores them
        check_store(settings, 0 if self.catalog.pending() else self.catalog.counts()[1])
        self.client: Any = open_chroma(settings)
        self.vectors = VectorIndex(self.client, settings.chroma.collection, embedding_model, dim)
        if settings.chroma.mode == "embedded":
            with _STORES_LOCK:
                _HEALTHY_STORES.add(str(settings.chroma_path.resolve()))
        self._bm25: BM25Index | None = None
        self._lock = threading.Lock()

    def _check_manifest(self) -> None:
        found = self.catalog.manifest()
        wanted = expected_manifest(self.embedding_model, self.dim)
        if "schema_version" not in found:
            self.catalog.write_manifest(wanted)
            return
        for key in ("schema_version", "chromadb_series"):
            if found.get(key) != wanted[key]:
                raise IndexVersionError(
                    f"the index in {self.settings.data_dir} was written with {key}={found.get(key)} "
                    f"(assistant {found.get('assistant_version', '?')}) but this assistant needs {wanted[key]}; "
                    f"it is left untouched: {REBUILD_HINT} to index the documents again"
                )
        if (
            found.get("embedding_model") != wanted["embedding_model"]
            or found.get("embedding_dim") != wanted["embedding_dim"]
        ):
            raise IndexMismatchError(
                f"the index was built with {found.get('embedding_model')} ({found.get('embedding_dim')} dims) "
                f"but the assistant is set to {self.embedding_model} ({self.dim} dims); "
                "re-ingest with `assistant ingest --rebuild` or switch the embedding setting back"
            )

    def bm25(self) -> BM25Index:
        """The BM25 index of the catalog's current chunks: kept in memory, loaded or rebuilt when they change."""
        with self._lock:
            if self._bm25 is None or self._bm25.stamp != self.catalog.revision():
                self._bm25 = self._saved_or_built_bm25()
            return self._bm25

    def _saved_or_built_bm25(self) -> BM25Index:
        """The BM25 index saved for the catalog's current content, or one built from its tokens and saved."""
        path = self.settings.index_dir / BM25_FILE
        stamp = self.catalog.revision()
        try:
            saved = BM25Index.load(path)
            if saved.stamp == stamp:
                return saved
        except (OSError, ValueError, KeyError):
            pass  # missing, stale or unreadable: rebuilt below
        built = BM25Index.from_rows(self.catalog.token_rows())
        if self.catalog.revision() == stamp:  # no write landed while reading the tokens
            built.stamp = stamp
            with contextlib.suppress(OSError):  # a read-only data directory still answers, from memory
                built.save(path)
        return built

    def counts(self) -> tuple[int, int]:
        """(documents, chunks) in the catalog."""
        return self.catalog.counts()

    # -- writes: the journal protocol, in one place ----------------------------------------
    def replace(self, documents: Sequence[tuple[DocumentInfo, Sequence[Chunk], np.ndarray]], known: set[str]) -> None:
        """Write new versions of documents (their chunks and vectors) as one unit.

        The documents are marked pending first; the old vectors of the ``known`` ones are dropped and
        the new ones added; the catalog rows are replaced and the marks cleared in one transaction.
        An interruption anywhere leaves pending marks that :meth:`undo_pending` undoes.
        """
        if not documents:
            return
        self.catalog.mark_pending(*(info.doc_id for info, _, _ in documents))
        self.vectors.delete_documents([info.doc_id for info, _, _ in documents if info.doc_id in known])
        chunks = [c for _, doc_chunks, _ in documents for c in doc_chunks]
        vectors = [v for _, _, v in documents if len(v)]
        if chunks:
            self.vectors.add(chunks, np.concatenate(vectors))
        self.catalog.replace_documents(
            [
                (info, doc_chunks, [tokenize(c.text, c.language) for c in doc_chunks])
                for info, doc_chunks, _ in documents
            ]
        )

    def remove(self, doc_id: str) -> None:
        """Remove one document (its vectors, then its catalog rows), crash-safe through the journal."""
        self.catalog.mark_pending(doc_id)
        self.vectors.delete_document(doc_id)
        self.catalog.delete_document(doc_id)

    def undo_pending(self) -> list[str]:
        """Undo interrupted updates: drop the vectors of pending documents and clear their marks.

        A pending document's catalog rows are still its last complete version (they are replaced in
        the same transaction that clears the mark); the caller re-adds the missing vectors.
        """
        recovered = self.catalog.pending()
        for doc_id in recovered:
            self.vectors.delete_document(doc_id)
            self.catalog.clear_pending(doc_id)
        return recovered

    # -- consistency -----------------------------------------------------------------------
    def vector_owners(self) -> dict[str, str]:
        """Every vector's chunk id with the document id its metadata names."""
        collection = self.client.get_collection(self.settings.chroma.collection)
        owners: dict[str, str] = {}
        page = 5000
        for offset in range(0, collection.count() + page, page):
            batch = collection.get(limit=page, offset=offset, include=["metadatas"])
            for chunk_id, meta in zip(batch["ids"], batch["metadatas"] or [], strict=False):
                owners[chunk_id] = str((meta or {}).get("doc_id") or (meta or {}).get("document_id") or "")
            if len(batch["ids"]) < page:
                break
        return owners

    def delete_vectors(self, chunk_ids: list[str]) -> None:
        """Remove vectors by chunk id."""
        collection = self.client.get_collection(self.settings.chroma.collection)
        for start in range(0, len(chunk_ids), 1000):
            collection.delete(ids=chunk_ids[start : start + 1000])

    def audit(self, deep: bool = False) -> IndexAudit:
        """Compare the catalog, the BM25 index and the vectors.

        ``deep`` also re-tokenises every chunk to check its BM25 tokens against its text.
        """
        audit = IndexAudit(pending=self.catalog.pending())
        catalog = self.catalog.chunk_owners()
        vectors = self.vector_owners()
        for chunk_id, doc_id in vectors.items():
            owner = catalog.get(chunk_id)
            if owner is None:
                audit.orphan_vectors.setdefault(doc_id, []).append(chunk_id)
            elif owner != doc_id:
                audit.misfiled_vectors.append(chunk_id)
        for chunk_id, doc_id in catalog.items():
            if chunk_id not in vectors:
                audit.missing_vectors.setdefault(doc_id, []).append(chunk_id)
        counts = self.catalog.chunk_counts()
        documents = {info.doc_id: info for info in self.catalog.documents()}
        audit.miscounted = sorted(d for d, info in documents.items() if counts.get(d, 0) != info.n_chunks)
        audit.stray_chunks = sorted(c for c, d in catalog.items() if d not in documents)
        audit.bm25_disagrees = set(self.bm25().ids) != set(catalog)
        if deep:
            rows = dict(self.catalog.token_rows())
            chunks = self.catalog.chunks(list(rows))
            audit.stale_tokens = [
                cid for cid, toks in rows.items() if toks != tokenize(chunks[cid].text, chunks[cid].language)
            ]
        return audit

    def check_consistency(self, deep: bool = False) -> list[str]:
        """The problems :meth:`audit` finds, one line each; empty when the index is consistent."""
        return self.audit(deep).problems()
