"""An exact-search copy of the embedded store's vectors, so that a search needs no chromadb.

Chroma stays the store of record and the only path for writes (and for a Chroma server). The copy
is one ``.npz`` file beside the catalog: every vector of the collection as read from Chroma
(L2-normalised float32) with its chunk id and its document id, and the :class:`CopyKey` it was read
under: the catalog revision (with no update pending), the token of the last vector write, the
embedding model, the dimension and the collection. Every write through
:class:`~assistant.index.vectors.VectorIndex` writes a new token (and deletes the copy) before it
touches Chroma, so a copy is used only while neither the catalog nor the vectors changed since it
was read, even by a repair that changes vectors without a new catalog revision; a copy whose
reading overlapped a write is not saved. A missing, stale or unreadable copy is read from Chroma
again by the next search that needs it.

An exact cosine search over 10k x 384 floats takes a few milliseconds, less than importing
chromadb and loading its HNSW index (about a second in a new process).
"""

from __future__ import annotations

import contextlib
import os
import uuid
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

COPY_FILE = "vectors.npz"
"""The copy, in the index directory beside the catalog and the saved BM25 index."""
WRITES_FILE = "vectors.writes"
"""The token of the last write of the vectors, beside the copy."""


@dataclass(frozen=True)
class CopyKey:
    """What a copy must have been read under to be used now."""

    stamp: str
    """The catalog's revision (see :meth:`Catalog.revision`), read with no update pending."""
    writes: str
    """The token of the last vector write (see :func:`vector_writes`)."""
    model: str
    dim: int
    collection: str


class VectorCopy:
    """The vectors of one collection in memory, searched exactly by cosine similarity."""

    def __init__(self, key: CopyKey, ids: list[str], doc_ids: np.ndarray, vectors: np.ndarray) -> None:
        if vectors.shape != (len(ids), key.dim) or len(doc_ids) != len(ids):
            raise ValueError(f"{len(ids)} ids, {len(doc_ids)} document ids and vectors of shape {vectors.shape}")
        self.key = key
        self.ids = ids
        self.doc_ids = doc_ids
        self.vectors = vectors

    @classmethod
    def from_store(cls, key: CopyKey, ids: list[str], doc_ids: list[str], vectors: np.ndarray) -> VectorCopy:
        """A copy of vectors as Chroma returned them (normalised here; a zero vector stays zero)."""
        raw = np.asarray(vectors, dtype=np.float32).reshape(len(ids), key.dim)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        matrix = np.ascontiguousarray(raw / np.where(norms == 0, 1, norms), dtype=np.float32)
        return cls(key, list(ids), np.asarray(doc_ids, dtype=np.str_), matrix)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, vector: np.ndarray, k: int, doc_ids: Collection[str] | None = None) -> list[tuple[str, float]]:
        """The ``k`` chunks most similar to ``vector`` (cosine), best first, ties by position.

        ``doc_ids``: only chunks of these documents are candidates (None: every chunk).
        """
        if k <= 0 or not self.ids:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(query))
        # einsum, not a BLAS matrix product: OpenBLAS's threads made it 20x slower on a busy machine
        scores = np.einsum("ij,j->i", self.vectors, query / norm if norm else query)
        rows = np.arange(len(self.ids))
        if doc_ids is not None:
            rows = np.flatnonzero(np.isin(self.doc_ids, np.asarray(list(doc_ids), dtype=np.str_)))
            scores = scores[rows]
        finite = np.isfinite(scores)
        rows, scores = rows[finite], scores[finite]
        if rows.size > k:  # only the k best need sorting
            best = np.argpartition(-scores, k - 1)[:k]
            rows, scores = rows[best], scores[best]
        order = np.lexsort((rows, -scores))
        return [(self.ids[i], float(s)) for i, s in zip(rows[order], scores[order], strict=True)]

    def save(self, path: Path) -> None:
        """Write the copy to ``path`` atomically (a reader sees the old file or the new one, never a part)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")  # two processes may save at once
        try:
            with partial.open("wb") as handle:
                np.savez(
                    handle,
                    key=np.asarray(_key_fields(self.key)),
                    ids=np.asarray(self.ids, dtype=np.str_),
                    doc_ids=self.doc_ids,
                    vectors=self.vectors,
                )
            partial.replace(path)
        except BaseException:
            partial.unlink(missing_ok=True)  # a full disk must not keep a half-written copy
            raise

    @classmethod
    def load(cls, path: Path, key: CopyKey) -> VectorCopy | None:
        """The copy saved at ``path`` if it was read under ``key``; None when missing, stale or unreadable."""
        try:
            with np.load(path, allow_pickle=False) as data:
                saved = [str(x) for x in data["key"].tolist()]
                if saved != _key_fields(key):
                    return None  # read under another revision, model or collection: only the key is read
                ids = [str(x) for x in data["ids"].tolist()]
                doc_ids = data["doc_ids"]
                vectors = data["vectors"]
            if vectors.dtype != np.float32 or not np.isfinite(vectors).all() or len(set(ids)) != len(ids):
                return None
            return cls(key, ids, doc_ids, vectors)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None  # missing, or damaged (each member's CRC is checked as it is read): read from Chroma again


def read_collection(collection: Any, page: int, with_owners: bool) -> tuple[list[str], list[str], list[np.ndarray]]:
    """Every id and vector of a Chroma collection, ``page`` records a call, and (``with_owners``) each document id.

    The document ids come from each vector's metadata (``doc_id``, or llama-index's ``document_id``).
    """
    include = ["embeddings", "metadatas"] if with_owners else ["embeddings"]
    ids: list[str] = []
    owners: list[str] = []
    vectors: list[np.ndarray] = []
    offset = 0
    while True:
        batch = collection.get(limit=page, offset=offset, include=include)
        ids.extend(batch["ids"])
        for meta in batch.get("metadatas") or []:
            owners.append(str((meta or {}).get("doc_id") or (meta or {}).get("document_id") or ""))
        if len(batch["ids"]):
            vectors.append(np.asarray(batch["embeddings"], dtype=np.float32))
        if len(batch["ids"]) < page:
            return ids, owners, vectors
        offset += page


def _key_fields(key: CopyKey) -> list[str]:
    return [key.stamp, key.writes, key.model, str(key.dim), key.collection]


def vector_writes(path: Path) -> str:
    """The token of the last vector write recorded at ``path`` ("" before the first)."""
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def record_vector_write(path: Path) -> None:
    """Record at ``path`` that the vectors are about to change: a new token, so that every copy is stale."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(uuid.uuid4().hex, encoding="ascii")
        partial.replace(path)
    except OSError:  # a full disk: the copy itself is deleted too (see :func:`discard`)
        partial.unlink(missing_ok=True)


def discard(path: Path) -> None:
    """Delete the copy at ``path`` (before the vectors change); a copy that cannot be deleted is left stale."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
