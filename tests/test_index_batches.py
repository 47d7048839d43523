"""Chroma refuses more than ``get_max_batch_size()`` records per call: the index slices every write, delete and read.

Real Chroma (embedded, and a ``chroma run`` server), real vectors: 8-dimensional ones, which the
index accepts from any embedding model (the collection records the dimension it was built with).
"""

from __future__ import annotations

import numpy as np
import pytest

from assistant.config import load_settings
from assistant.index.core import Index
from assistant.models import Chunk, DocumentInfo

DIM = 8
MODEL = "test/random-8d"


def document(doc_id: str, count: int, seed: int) -> tuple[DocumentInfo, list[Chunk], np.ndarray]:
    """A document of ``count`` one-word chunks with random unit vectors."""
    words = [f"w{seed}x{i}" for i in range(count)]
    chunks = [
        Chunk(
            chunk_id=f"{doc_id}#{i}",
            doc_id=doc_id,
            index=i,
            text=w,
            start=6 * i,
            end=6 * i + len(w),
            language="en",
            title=doc_id,
        )
        for i, w in enumerate(words)
    ]
    vectors = np.random.default_rng(seed).normal(size=(count, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    info = DocumentInfo(
        doc_id=doc_id,
        path=f"/nowhere/{doc_id}",
        title=doc_id,
        language="en",
        sha256=str(seed),
        encoding="utf-8",
        format="txt",
        n_chars=6 * count,
    )
    return info, chunks, vectors


@pytest.mark.slow
def test_more_records_than_chroma_takes_in_one_call(chroma_mode: str) -> None:
    index = Index(load_settings(), MODEL, DIM)
    limit = index.vectors.connection.client().get_max_batch_size()
    count = limit + 321
    info, chunks, vectors = document("big.txt", count, seed=1)

    # what Chroma itself does with that many records in one call
    collection = index.vectors.connection.client().get_or_create_collection("refusal-check", embedding_function=None)
    with pytest.raises(Exception, match="batch size"):
        collection.add(ids=[c.chunk_id for c in chunks], embeddings=vectors.tolist())

    index.replace([(info, chunks, vectors)], known=set())
    assert index.vectors.count() == count
    assert index.vectors.chunk_ids() == index.catalog.all_chunk_ids() == {c.chunk_id for c in chunks}
    assert len(index.vector_owners()) == count and set(index.vector_owners().values()) == {"big.txt"}
    target = limit + 7  # a vector of the second slice
    assert index.vectors.query(vectors[target], 1)[0].chunk_id == chunks[target].chunk_id
    assert index.check_consistency() == []

    # a new version: the old vectors are all deleted (more than a slice of them), the new ones all added
    info2, chunks2, vectors2 = document("big.txt", count, seed=2)
    chunks2 = [c.model_copy(update={"chunk_id": c.chunk_id + "v2"}) for c in chunks2]
    index.replace([(info2, chunks2, vectors2)], known={"big.txt"})
    assert index.vectors.chunk_ids() == {c.chunk_id for c in chunks2}

    # deleting by id, more ids than a slice in one call
    doomed = [c.chunk_id for c in chunks2[: limit + 10]]
    index.delete_vectors(doomed)
    assert index.vectors.count() == count - len(doomed)
    index.remove("big.txt")
    assert index.vectors.count() == 0 and index.counts() == (0, 0)
