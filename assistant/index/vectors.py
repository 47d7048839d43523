"""The vector index: chunks in a Chroma collection, written and read through llama-index.

Embedded (``PersistentClient``) or server (``HttpClient``) mode is chosen in :func:`open_chroma`
only. The collection records which embedding model and dimension built it; opening it with
another model raises :class:`IndexMismatchError`. Chroma's own embedding function is never
used: every vector is computed by :mod:`assistant.index.embedding`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistant.config import Settings
from assistant.errors import IndexMismatchError, StoreUnavailableError
from assistant.models import Chunk


@dataclass(frozen=True)
class DenseMatch:
    """A chunk found by vector similarity."""

    chunk_id: str
    similarity: float


def open_chroma(settings: Settings) -> Any:
    """The one place that opens a Chroma client, embedded or over HTTP."""
    os.environ["ANONYMIZED_TELEMETRY"] = "False"
    import chromadb
    from chromadb.config import Settings as ChromaClientSettings

    client_settings = ChromaClientSettings(anonymized_telemetry=False)
    try:
        if settings.chroma.mode == "http":
            return chromadb.HttpClient(
                host=settings.chroma.host,
                port=settings.chroma.port,
                ssl=settings.chroma.ssl,
                settings=client_settings,
            )
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_path), settings=client_settings)
    except Exception as exc:
        where = (
            f"http://{settings.chroma.host}:{settings.chroma.port}"
            if settings.chroma.mode == "http"
            else str(settings.chroma_path)
        )
        raise StoreUnavailableError(f"cannot open the Chroma store at {where}: {exc}") from exc


class VectorIndex:
    """Chunks and their vectors in one Chroma collection, via llama-index's ChromaVectorStore."""

    def __init__(self, client: Any, collection: str, embedding_model: str, dim: int) -> None:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.embedding_model = embedding_model
        self.dim = dim
        self._collection = client.get_or_create_collection(
            name=collection,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedding_model": embedding_model, "embedding_dim": dim},
        )
        self._check_model()
        self.store = ChromaVectorStore(chroma_collection=self._collection)

    def _check_model(self) -> None:
        meta = self._collection.metadata or {}
        built_with = meta.get("embedding_model")
        built_dim = meta.get("embedding_dim")
        if built_with != self.embedding_model or built_dim != self.dim:
            raise IndexMismatchError(
                f"the index was built with {built_with} ({built_dim} dims) but the assistant is set "
                f"to {self.embedding_model} ({self.dim} dims); re-ingest with "
                "`assistant ingest --rebuild` or switch the embedding setting back"
            )

    def count(self) -> int:
        """Number of chunks in the collection."""
        return int(self._collection.count())

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Add chunks with their vectors (their document's old chunks must be deleted first)."""
        from llama_index.core.schema import BaseNode, NodeRelationship, RelatedNodeInfo, TextNode

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
        if nodes:
            self.store.add(nodes)

    def delete_document(self, doc_id: str) -> None:
        """Remove every chunk of a document."""
        self.delete_documents([doc_id])

    def delete_documents(self, doc_ids: Sequence[str]) -> None:
        """Remove every chunk of several documents, a few hundred documents per call."""
        for start in range(0, len(doc_ids), 500):
            part = list(doc_ids[start : start + 500])
            # the key llama-index's ChromaVectorStore.delete matches on, for many documents at once
            self._collection.delete(
                where={"document_id": part[0]} if len(part) == 1 else {"document_id": {"$in": part}}
            )

    def chunk_ids(self) -> set[str]:
        """All chunk ids in the collection (for consistency checks)."""
        return set(self._collection.get(include=[])["ids"])

    def query(self, vector: np.ndarray, k: int) -> list[DenseMatch]:
        """The ``k`` chunks most similar to ``vector`` (cosine similarity)."""
        from llama_index.core.vector_stores.types import VectorStoreQuery

        if k <= 0:  # an empty collection answers with no ids: no count per query (it costs more than the search)
            return []
        result = self.store.query(VectorStoreQuery(query_embedding=[float(x) for x in vector], similarity_top_k=k))
        ids = result.ids or []
        # ChromaVectorStore reports exp(-distance); with the cosine space, distance = 1 - cosine.
        sims = [1.0 + math.log(s) if s > 0 else -1.0 for s in (result.similarities or [])]
        return [DenseMatch(i, s) for i, s in zip(ids, sims, strict=True)]


def reset_collection(client: Any, collection: str) -> None:
    """Drop the collection (for ``ingest --rebuild``)."""
    try:
        client.delete_collection(collection)
    except Exception:
        return
