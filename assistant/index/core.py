"""The index as one object: the Chroma vectors, the SQLite catalog and the BM25 index.

Opening it checks, before Chroma touches its files: the data directory, the catalog's integrity,
the manifest (:mod:`assistant.index.manifest`) and, in embedded mode, that the Chroma store is
safe to open (:mod:`assistant.index.health`: a child process, only when the store's files changed
since the last verdict). Nothing heavy is loaded then: chromadb is imported by the first vector
operation and the saved BM25 index is loaded by the first BM25 search.

It follows writes by other processes: every vector or BM25 read compares the catalog's revision
(one query) and, when it moved, loads the new BM25 index and gets the collection again (a rebuilt
one too); when another process wrote an embedded store, this process's client is reopened, since
it keeps the vectors it read in memory. A data directory that cannot be written is read without
writing anything (its embedded store from a private copy, see :func:`private_copy`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.config import Settings
from assistant.errors import (
    CannotWriteError,
    DiskFullError,
    IndexDamagedError,
    IndexVersionError,
    IngestBusyError,
    NoIndexError,
)
from assistant.index.audit import IndexAudit, audit_index
from assistant.index.bm25 import BM25Index, tokenize
from assistant.index.catalog_store import CatalogStore, catalog_exists, drop_catalog, open_catalog, server_url
from assistant.index.chroma import chroma_connection, close_connection, private_copy, reset_collection
from assistant.index.health import RECORD_FILE, check_store, forget, trust
from assistant.index.lock import exclusive_write, ingest_lock
from assistant.index.manifest import REBUILD_HINT, check_manifest, expected_manifest
from assistant.index.storage import check_data_dir, is_writable, writing
from assistant.index.vector_copy import COPY_FILE
from assistant.index.vectors import VectorIndex
from assistant.models import Chunk, DocumentInfo

__all__ = [
    "BM25_FILE",
    "CATALOG_FILE",
    "REBUILD_HINT",
    "Index",
    "IndexAudit",
    "IndexDamagedError",
    "IndexVersionError",
    "IngestBusyError",
    "exclusive_write",
    "expected_manifest",
    "ingest_lock",
]

CATALOG_FILE = "catalog.sqlite"
BM25_FILE = "bm25.npz"
"""The saved BM25 index, in the index directory beside the catalog."""


def _cannot_write(path: Path) -> bool:
    return not is_writable(path.parent) or (path.exists() and not os.access(path, os.W_OK))


class Index:
    """Vectors, catalog and BM25 of one corpus.

    ``create=False`` opens an existing index only: with no catalog in the data directory it raises
    :class:`NoIndexError`, and it never creates a file or a directory. ``rebuild`` empties the index
    first (under the writer lock).
    """

    def __init__(
        self, settings: Settings, embedding_model: str, dim: int, rebuild: bool = False, create: bool = True
    ) -> None:
        self.settings = settings
        self.embedding_model = embedding_model
        self.dim = dim
        check_data_dir(settings)
        catalog_path = settings.index_dir / CATALOG_FILE
        if not create and not rebuild and not catalog_exists(settings, catalog_path):
            raise NoIndexError(f"no index at {settings.data_dir}: run `assistant ingest PATH`")
        self.read_only = server_url(settings) is None and _cannot_write(catalog_path)
        """The data directory cannot be written: nothing is ever written there."""
        if self.read_only and (rebuild or not catalog_path.is_file()):
            raise CannotWriteError(f"cannot write the index in {settings.index_dir} (read-only)")
        embedded = settings.chroma.mode == "embedded"
        store_read_only = embedded and _cannot_write(settings.chroma_path / "chroma.sqlite3")
        self._record = None if self.read_only else settings.index_dir / RECORD_FILE
        self._connection = chroma_connection(settings, read_only=store_read_only)
        if rebuild:
            with exclusive_write(settings), writing(f"the index in {settings.index_dir}"):
                self._drop_store()
                drop_catalog(settings, catalog_path)
                (settings.index_dir / BM25_FILE).unlink(missing_ok=True)
                (settings.index_dir / COPY_FILE).unlink(missing_ok=True)
        self.catalog: CatalogStore = open_catalog(settings, catalog_path, read_only=self.read_only)
        self.catalog.check()
        self._check_manifest()
        self._check_store()
        self._vectors = VectorIndex(
            self._connection,
            settings.chroma.collection,
            embedding_model,
            dim,
            create=create and not self.read_only,
            on_change=self._trust if embedded else None,
            copy_path=settings.index_dir / COPY_FILE if embedded else None,
            stamp=self._copy_stamp if embedded and settings.chroma.local_copy else None,
            save_copy=not self.read_only,
            owners=self.catalog.chunk_owners,
        )
        self._bm25: BM25Index | None = None
        self._lock = threading.RLock()
        self._revision = self.catalog.revision()
        self._catalog_generation = self.catalog.generation

    def _check_manifest(self) -> None:
        missing = check_manifest(self.catalog.manifest(), self.embedding_model, self.dim, self.settings.data_dir)
        if missing is not None and not self.read_only:
            self.catalog.write_manifest(missing)

    def _check_store(self) -> None:
        """Raise :class:`IndexDamagedError` if the embedded store cannot be opened safely (see the module doc)."""
        if self.settings.chroma.mode != "embedded" or self._connection.is_open():
            return  # a client of this process has it loaded already: opening it again reads nothing new
        # an interrupted update may have left a document without vectors: the next ingest restores them
        expected = 0 if self.catalog.pending() else self.catalog.counts()[1]
        path = self.settings.chroma_path
        present = (path / "chroma.sqlite3").exists()
        probe_path = private_copy(path) if present and _cannot_write(path / "chroma.sqlite3") else None
        try:
            check_store(path, self.settings.chroma.collection, self._record, expected, probe_path)
        except DiskFullError:
            if probe_path is not None:
                raise
            # Chroma cannot open a store on a full disk even to read it: check the copy it will be read from
            check_store(path, self.settings.chroma.collection, self._record, expected, private_copy(path))

    def _copy_stamp(self) -> str | None:
        """The catalog's revision, which stamps the vectors' exact-search copy; None while an update is pending."""
        return None if self.catalog.pending() else self.catalog.revision()

    def _trust(self, count: int) -> None:
        trust(self.settings.chroma_path, self._record, count)

    def _drop_store(self) -> None:
        """Empty the vector store for a rebuild: a damaged embedded store is deleted, never opened."""
        path = self.settings.chroma_path
        if self.settings.chroma.mode == "embedded" and (path / "chroma.sqlite3").exists():
            try:
                self._check_store_for_rebuild()
            except IndexDamagedError:
                close_connection(path)
                shutil.rmtree(path)
                forget(path, self._record)
                return
        reset_collection(self._connection.client(), self.settings.chroma.collection)

    def _check_store_for_rebuild(self) -> None:
        if not self._connection.is_open():
            check_store(self.settings.chroma_path, self.settings.chroma.collection, self._record, 0)

    # -- following other writers -----------------------------------------------------------
    def follow_writes(self) -> None:
        """Catch up with what other processes (or other Index objects) wrote since this one last looked.

        Costs one ``stat`` and one query when nothing changed. Raises if the index became unusable
        (rebuilt with another embedding model, or its store damaged).
        """
        revision = self.catalog.revision()
        if revision == self._revision and self.catalog.generation == self._catalog_generation:
            return
        with self._lock:
            if self.catalog.generation != self._catalog_generation:  # the catalog was rebuilt
                self._check_manifest()
                self._catalog_generation = self.catalog.generation
            if revision == self._revision:
                return
            if self.settings.chroma.mode == "embedded" and not self.catalog.written_here(revision):
                self._connection.reopen()  # its client holds the vectors as they were when it read them
                self._check_store()
            self._vectors.refresh()
            self._revision = revision

    @property
    def vectors(self) -> VectorIndex:
        """The Chroma collection of the chunks, current with other processes' writes (opened on first use)."""
        self.follow_writes()
        return self._vectors

    def bm25(self) -> BM25Index:
        """The BM25 index of the catalog's current chunks: kept in memory, loaded or rebuilt when they change."""
        self.follow_writes()
        with self._lock:
            if self._bm25 is None or self._bm25.stamp != self.catalog.revision():
                self._bm25 = self._saved_or_built_bm25()
            return self._bm25

    def _saved_or_built_bm25(self) -> BM25Index:
        """The BM25 index saved for the catalog's current content, or one built from its tokens (and saved)."""
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
            if not self.read_only:
                with contextlib.suppress(OSError):  # a full disk: the next process builds it again
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
        self.follow_writes()  # a client that missed another process's writes would overwrite them
        with self._lock:
            self.catalog.mark_pending(*(info.doc_id for info, _, _ in documents))
            self._vectors.delete_documents([info.doc_id for info, _, _ in documents if info.doc_id in known])
            chunks = [c for _, doc_chunks, _ in documents for c in doc_chunks]
            vectors = [v for _, _, v in documents if len(v)]
            if chunks:
                self._vectors.add(chunks, np.concatenate(vectors))
            self.catalog.replace_documents(
                [
                    (info, doc_chunks, [tokenize(c.text, c.language) for c in doc_chunks])
                    for info, doc_chunks, _ in documents
                ]
            )

    def remove(self, doc_id: str) -> None:
        """Remove one document (its vectors, then its catalog rows), crash-safe through the journal."""
        self.follow_writes()
        with self._lock:
            self.catalog.mark_pending(doc_id)
            self._vectors.delete_document(doc_id)
            self.catalog.delete_document(doc_id)

    def undo_pending(self) -> list[str]:
        """Undo interrupted updates: drop the vectors of pending documents and clear their marks.

        A pending document's catalog rows are still its last complete version (they are replaced in
        the same transaction that clears the mark); the caller re-adds the missing vectors.
        """
        self.follow_writes()
        with self._lock:
            recovered = self.catalog.pending()
            for doc_id in recovered:
                self._vectors.delete_document(doc_id)
                self.catalog.clear_pending(doc_id)
            return recovered

    # -- consistency -----------------------------------------------------------------------
    def vector_owners(self) -> dict[str, str]:
        """Every vector's chunk id with the document id its metadata names."""
        return self.vectors.owners()

    def delete_vectors(self, chunk_ids: list[str]) -> None:
        """Remove vectors by chunk id."""
        self.follow_writes()
        with self._lock:
            self._vectors.delete_ids(chunk_ids)

    def audit(self, deep: bool = False) -> IndexAudit:
        """Compare the catalog, the BM25 index and the vectors.

        ``deep`` also re-tokenises every chunk to check its BM25 tokens against its text.
        """
        return audit_index(self.catalog, self.vector_owners(), self.bm25(), deep)

    def check_consistency(self, deep: bool = False) -> list[str]:
        """The problems :meth:`audit` finds, one line each; empty when the index is consistent."""
        return self.audit(deep).problems()
