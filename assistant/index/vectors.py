"""The vector index: chunks in a Chroma collection, written through llama-index, searched directly.

Embedded or server mode is chosen in :func:`assistant.index.chroma.open_chroma` only, and chromadb
is imported only when a vector operation first needs it (llama-index only when chunks are
written). The collection records which embedding model and dimension built it; opening it with
another model raises :class:`IndexMismatchError`. Chroma's own embedding function is never used:
every vector is computed by :mod:`assistant.index.embedding`.

Chroma refuses more than ``client.get_max_batch_size()`` records per call, so every write, delete
and read by ids is sliced to that size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.errors import IndexMismatchError, StoreUnavailableError
from assistant.index.chroma import ChromaConnection, open_chroma, reset_collection
from assistant.index.manifest import mismatch_message
from assistant.index.storage import check_space, writing
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
    """

    def __init__(
        self,
        connection: ChromaConnection,
        collection: str,
        embedding_model: str,
        dim: int,
        create: bool = True,
        on_change: Callable[[int], None] | None = None,
    ) -> None:
        self.connection = connection
        self.name = collection
        self.embedding_model = embedding_model
        self.dim = dim
        self.create = create
        self._on_change = on_change
        self._collection: Any = None
        self._generation = -1

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

        for attempt in range(2):
            with self.connection.in_use():
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
        """Number of chunks in the collection."""
        return int(self._call(lambda c: c.count(), 0))

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

    def query(self, vector: np.ndarray, k: int) -> list[DenseMatch]:
        """The ``k`` chunks most similar to ``vector`` (cosine similarity)."""
        if k <= 0:  # an empty collection answers with no ids: no count per query (it costs more than the search)
            return []
        embedding = [float(x) for x in vector]
        found = self._call(
            lambda c: c.query(query_embeddings=[embedding], n_results=k, include=["distances"]),
            {"ids": [[]], "distances": [[]]},
        )
        ids = (found.get("ids") or [[]])[0]
        distances = (found.get("distances") or [[]])[0] or []
        # the collection's space is cosine: distance = 1 - cosine similarity
        return [DenseMatch(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=True) if math.isfinite(d)]
