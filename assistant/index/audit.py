"""Where the catalog, its BM25 tokens and the vectors disagree (ingestion repairs what is found)."""

from __future__ import annotations

from dataclasses import dataclass, field

from assistant.index.bm25 import BM25Index, tokenize
from assistant.index.catalog_store import CatalogStore


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


def audit_index(catalog: CatalogStore, vectors: dict[str, str], bm25: BM25Index, deep: bool = False) -> IndexAudit:
    """Compare the catalog with the vectors (chunk id -> document id) and the BM25 index.

    ``deep`` also re-tokenises every chunk to check its BM25 tokens against its text.
    """
    audit = IndexAudit(pending=catalog.pending())
    owners = catalog.chunk_owners()
    for chunk_id, doc_id in vectors.items():
        owner = owners.get(chunk_id)
        if owner is None:
            audit.orphan_vectors.setdefault(doc_id, []).append(chunk_id)
        elif owner != doc_id:
            audit.misfiled_vectors.append(chunk_id)
    for chunk_id, doc_id in owners.items():
        if chunk_id not in vectors:
            audit.missing_vectors.setdefault(doc_id, []).append(chunk_id)
    counts = catalog.chunk_counts()
    documents = {info.doc_id: info for info in catalog.documents()}
    audit.miscounted = sorted(d for d, info in documents.items() if counts.get(d, 0) != info.n_chunks)
    audit.stray_chunks = sorted(c for c, d in owners.items() if d not in documents)
    audit.bm25_disagrees = set(bm25.ids) != set(owners)
    if deep:
        rows = dict(catalog.token_rows())
        chunks = catalog.chunks(list(rows))
        audit.stale_tokens = [
            cid for cid, toks in rows.items() if toks != tokenize(chunks[cid].text, chunks[cid].language)
        ]
    return audit
