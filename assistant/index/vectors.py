"""The vector index: chunks in a Chroma collection, written through llama-index, searched directly.

Embedded or server mode is chosen in :func:`assistant.index.chroma.open_chroma` only, and chromadb
is imported only when a vector operation first needs it (llama-index only when chunks are
written). The collection records which embedding model and dimension built it; opening it with
another model raises :class:`IndexMismatchError`. Chroma's own embedding function is never used:
every vector is computed by :mod:`assistant.index.embedding`.

Chroma refuses more than ``client.get_max_batch_size()`` records per call, so every write, delete
and read by ids is sliced to that size.

In embedded mode a search is answered from an exact-search copy of the vectors when the catalog is
still at the revision the copy was read at (:mod:`assistant.index.vector_copy`): a new process then
never imports chromadb to search. Every write deletes the copy first; the next search that finds
none asks Chroma and reads the copy again.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import IndexMismatchError, StoreUnavailableError
from assistant.index.chroma import ChromaConnection, open_chroma, reset_collection
from assistant.index.manifest import mismatch_message
from assistant.index.storage import check_space, writing
from assistant.index.vector_copy import (
    WRITES_FILE,
    CopyKey,
    VectorCopy,
    discard,
    read_collection,
    record_vector_write,
    vector_writes,
)
from assistant.models import Chunk

__all__ = [
    "DenseMatch",
    "IndexMismatchError",
    "StoreUnavailableError",
    "VectorIndex",
    "open_chroma",
    "reset_collection",
]


@dataclass(frozen=True)
class DenseMatch:
    """A chunk found by vector similarity."""

    chunk_id: str
    similarity: float


def _slices(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), max(size, 1)):
        yield items[start : start + size]


class VectorIndex:
    """Chunks and their vectors in one Chroma collection (written via llama-index's ChromaVectorStore).

    The collection is opened on first use. ``create=False`` never creates it: a missing collection
    reads as empty. ``on_change(count)`` is called after the collection is first read and after each
    write, with its vector count.

    ``copy_path`` is where the exact-search copy is kept (embedded mode; every write invalidates
    it there) and ``stamp`` enables its use: ``stamp()`` is the catalog's revision, or None while an
    update is pending (then Chroma is asked). ``save_copy``: the copy may be written (False in a
    directory that cannot be). ``owners()`` gives each chunk id's document id (the catalog's): the
    copy's document ids, for scoped searches (reading them from Chroma's metadata took 3x longer
    than the vectors themselves); without it they are read from the metadata.
    """

    def __init__(
        self,
        connection: ChromaConnection,
        collection: str,
        embedding_model: str,
        dim: int,
        create: bool = True,
        on_change: Callable[[int], None] | None = None,
        copy_path: Path | None = None,
        stamp: Callable[[], str | None] | None = None,
        save_copy: bool = True,
        owners: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self.connection = connection
        self.name = collection
        self.embedding_model = embedding_model
        self.dim = dim
        self.create = create
        self._on_change = on_change
        self._collection: Any = None
        self._generation = -1
        self._copy_path = copy_path
        self._writes_path = copy_path.with_name(WRITES_FILE) if copy_path is not None else None
        self._stamp = stamp
        self._save_copy = save_copy
        self._owners = owners
        self._copy: VectorCopy | None = None
        self._copy_lock = threading.Lock()
        self._copy_failed: CopyKey | None = None
        """The key under which saving the copy failed (a full disk): not tried again on every search."""

    def _current(self) -> Any:
        """The collection (None when it does not exist and may not be created), got again after a reopen."""
        from chromadb.errors import NotFoundError

        with self.connection.lock:
            if self._collection is not None and self._generation == self.connection.generation:
                return self._collection
            if not self.create and not self.connection.present():
                return None  # nothing ingested yet: opening it would create the store
            client = self.connection.client()
            if self.create:
                collection = client.get_or_create_collection(
                    name=self.name,
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"embedding_model": self.embedding_model, "embedding_dim": self.dim},
                )
            else:
                try:
                    collection = client.get_collection(self.name, embedding_function=None)
                except NotFoundError:
                    return None
            meta = collection.metadata or {}
            built_with, built_dim = meta.get("embedding_model"), meta.get("embedding_dim")
            if built_with != self.embedding_model or built_dim != self.dim:
                raise IndexMismatchError(mismatch_message(built_with, built_dim, self.embedding_model, self.dim))
            try:
                count = int(collection.count())  # loads the vector index: its files are as this process leaves them
            except Exception as exc:
                full = self.connection.low_space_error(exc)
                if full is None:
                    raise
                raise full from exc
            self._collection, self._generation = collection, self.connection.generation
        if self._on_change is not None:
            self._on_change(count)
        return collection

    def _call(self, action: Callable[[Any], Any], empty: Any) -> Any:
        """Run ``action`` on the collection; once more if it was deleted and made again meanwhile (a rebuild)."""
        from chromadb.errors import NotFoundError

        from assistant.index.servers import chroma_reachable

        for attempt in range(2):
            with self.connection.in_use(), chroma_reachable(self.connection.location):
                collection = self._current()
                if collection is None:
                    return empty
                try:
                    return action(collection)
                except NotFoundError:
                    if attempt:
                        raise
                    with self.connection.lock:
                        self._collection = None
        return empty  # pragma: no cover (the loop returns or raises)

    def refresh(self) -> None:
        """Get the collection again on next use (another process may have rebuilt it)."""
        with self.connection.lock:
            self._collection = None

    def _writable(self) -> None:
        """Raise the connection's refusal when it reads a copy (the store's own disk is full)."""
        self.connection.client()
        if self.connection.refusal is not None:
            self.connection.reopen()  # is there space again?
            self.connection.client()
            self.refresh()
        if self.connection.refusal is not None:
            raise self.connection.refusal

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self.count())

    def count(self) -> int:
        """Number of chunks in the collection (from the exact-search copy when it is current)."""
        copy = self._current_copy()
        if copy is not None:
            return len(copy)
        return int(self._call(lambda c: c.count(), 0))

    # -- the exact-search copy ---------------------------------------------------------------
    def _copy_key(self) -> CopyKey | None:
        """What a copy must have been read under to be used now (None: no copy may be used)."""
        if self._copy_path is None or self._writes_path is None or self._stamp is None:
            return None
        stamp = self._stamp()
        if stamp is None:
            return None
        return CopyKey(stamp, vector_writes(self._writes_path), self.embedding_model, self.dim, self.name)

    def _current_copy(self, key: CopyKey | None = None) -> VectorCopy | None:
        """The copy read under ``key`` (default: the current one), from memory or its file; None if there is none."""
        key = key or self._copy_key()
        if key is None or self._copy_path is None:
            return None
        with self._copy_lock:
            if self._copy is None or self._copy.key != key:
                self._copy = VectorCopy.load(self._copy_path, key)
            return self._copy

    def _discard_copy(self) -> None:
        """Before the vectors change: a new write token, so that every process's copy is stale, and no copy file."""
        if self._copy_path is not None and self._writes_path is not None:
            with self._copy_lock:
                self._copy = None
                if self._save_copy:
                    record_vector_write(self._writes_path)
                    discard(self._copy_path)

    def write_copy(self) -> bool:
        """Read every vector from Chroma into the exact-search copy and save it, unless the saved one is current.

        True when a current copy is saved. Nothing is saved when the copy is disabled, cannot be
        written, or the catalog moved (or an update began) while the vectors were read.
        """
        key = self._copy_key()
        if key is None or self._copy_path is None or not self._save_copy:
            return False
        if self._current_copy(key) is not None:
            return True
        if key == self._copy_failed:
            return False

        def read(collection: Any) -> tuple[list[str], list[str], list[np.ndarray]]:
            # the batch size is known once the client is open, as it is here
            return read_collection(collection, self.connection.max_batch, self._owners is None)

        ids, owners, parts = self._call(read, ([], [], []))
        if self._owners is not None:
            catalog = self._owners()  # read under the same key as the vectors (checked below)
            owners = [catalog.get(chunk_id, "") for chunk_id in ids]  # a vector the catalog lacks is in no scope
        if self._copy_key() != key:
            return False  # a write began or landed while reading: its own reader reads the copy again
        try:
            matrix = np.concatenate(parts) if parts else np.zeros((0, self.dim), dtype=np.float32)
            copy = VectorCopy.from_store(key, ids, owners, matrix)
        except ValueError:
            return False  # vectors of another dimension: Chroma's own checks report it
        try:
            copy.save(self._copy_path)
        except OSError:
            self._copy_failed = key
            return False  # a full disk: searches ask Chroma
        with self._copy_lock:
            self._copy = copy
        return True

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Add chunks with their vectors (their document's old chunks must be deleted first)."""
        if not len(chunks):
            return
        from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode
        from llama_index.vector_stores.chroma import ChromaVectorStore

        nodes: list[BaseNode] = []
        for chunk, vector in zip(chunks, vectors, strict=True):
            node = TextNode(
                id_=chunk.chunk_id,
                text=chunk.text,
                embedding=[float(x) for x in vector],
                start_char_idx=chunk.start,
                end_char_idx=chunk.end,
                metadata={
                    "doc_id": chunk.doc_id,
                    "chunk_index": chunk.index,
                    "language": chunk.language,
                    "title": chunk.title,
                    "boilerplate": chunk.boilerplate,
                },
            )
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=chunk.doc_id)
            nodes.append(node)

        def write(collection: Any) -> None:
            store = ChromaVectorStore(chroma_collection=collection)
            for part in _slices(nodes, self.connection.max_batch):
                store.add(list(part))

        self._discard_copy()
        self._writable()
        if self.connection.local_path is not None:
            # what Chroma writes for them (its log, metadata, full-text index, HNSW and journal), roughly
            needed = sum(3 * 4 * self.dim + 6 * len(chunk.text.encode()) + 2048 for chunk in chunks)
            check_space(self.connection.local_path, needed, f"the vector store {self.connection.location}")
        with writing(f"the vector store {self.connection.location}"):
            self._call(write, None)
        self._changed()

    def delete_document(self, doc_id: str) -> None:
        """Remove every chunk of a document."""
        self.delete_documents([doc_id])

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        """Remove every chunk of several documents, a few hundred documents per call."""
        if not doc_ids:
            return

        def delete(collection: Any) -> None:
            for part in _slices(list(doc_ids), 500):
                # the key llama-index's ChromaVectorStore.delete matches on, for many documents at once
                collection.delete(where={"document_id": part[0]} if len(part) == 1 else {"document_id": {"$in": part}})

        self._discard_copy()
        self._writable()
        with writing(f"the vector store {self.connection.location}"):
            self._call(delete, None)
        self._changed()

    def delete_ids(self, chunk_ids: Sequence[str]) -> None:
        """Remove vectors by chunk id."""
        if not chunk_ids:
            return

        def delete(collection: Any) -> None:
            for part in _slices(list(chunk_ids), self.connection.max_batch):
                collection.delete(ids=list(part))

        self._discard_copy()
        self._writable()
        with writing(f"the vector store {self.connection.location}"):
            self._call(delete, None)
        self._changed()

    def owners(self) -> dict[str, str]:
        """Every vector's chunk id with the document id its metadata names (read a page at a time)."""

        def read(collection: Any) -> dict[str, str]:
            owners: dict[str, str] = {}
            page = self.connection.max_batch
            offset = 0
            while True:
                batch = collection.get(limit=page, offset=offset, include=["metadatas"])
                for chunk_id, meta in zip(batch["ids"], batch["metadatas"] or [], strict=False):
                    owners[chunk_id] = str((meta or {}).get("doc_id") or (meta or {}).get("document_id") or "")
                if len(batch["ids"]) < page:
                    return owners
                offset += page

        return dict(self._call(read, {}))

    def chunk_ids(self) -> set[str]:
        """All chunk ids in the collection (for consistency checks)."""
        return set(self.owners())

    def query(self, vector: np.ndarray, k: int, doc_ids: Sequence[str] | None = None) -> list[DenseMatch]:
        """The ``k`` chunks most similar to ``vector`` (cosine similarity).

        ``doc_ids`` restricts the search to those documents' chunks inside Chroma (a ``where`` filter
        on the metadata's ``doc_id``), so that ``k`` of them come back when they have that many.
        """
        if k <= 0 or (doc_ids is not None and not doc_ids):  # an empty collection answers with no ids: no count
            return []
        key = self._copy_key()
        copy = self._current_copy(key) if key is not None else None
        if copy is not None:
            return [DenseMatch(i, s) for i, s in copy.search(vector, k, doc_ids)]
        matches = self._chroma_query(vector, k, doc_ids)
        if key is not None:
            self.write_copy()  # for the next searches of this process and of new ones
        return matches

    def _chroma_query(self, vector: np.ndarray, k: int, doc_ids: Sequence[str] | None) -> list[DenseMatch]:
        embedding = [float(x) for x in vector]
        where = None if doc_ids is None else {"doc_id": {"$in": list(doc_ids)}}
        found = self._call(
            lambda c: c.query(query_embeddings=[embedding], n_results=k, where=where, include=["distances"]),
            {"ids": [[]], "distances": [[]]},
        )
        ids = (found.get("ids") or [[]])[0]
        distances = (found.get("distances") or [[]])[0] or []
        # the collection's space is cosine: distance = 1 - cosine similarity
        return [DenseMatch(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=True) if math.isfinite(d)]
