"""The index as one object: the Chroma vectors, the SQLite catalog and the BM25 index in memory.

Opening it checks the manifest (schema, chromadb version, embedding model) and refuses an index
written by an incompatible version instead of misreading it.
"""

from __future__ import annotations

import threading
from importlib.metadata import version
from typing import Any

from assistant.bm25 import BM25Index
from assistant.catalog import SCHEMA_VERSION, Catalog, CatalogError
from assistant.config import Settings
from assistant.store import IndexMismatchError, VectorIndex, open_chroma, reset_collection


class IndexVersionError(CatalogError):
    """The index was written by an incompatible version of the assistant or of chromadb."""


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


class Index:
    """Vectors, catalog and BM25 of one corpus."""

    def __init__(self, settings: Settings, embedding_model: str, dim: int, rebuild: bool = False) -> None:
        self.settings = settings
        self.embedding_model = embedding_model
        self.dim = dim
        self.client: Any = open_chroma(settings)
        catalog_path = settings.index_dir / "catalog.sqlite"
        if rebuild:
            reset_collection(self.client, settings.chroma.collection)
            for suffix in ("", "-wal", "-shm"):
                catalog_path.with_name(catalog_path.name + suffix).unlink(missing_ok=True)
        self.catalog = Catalog(catalog_path)
        self._check_manifest()
        self.vectors = VectorIndex(self.client, settings.chroma.collection, embedding_model, dim)
        self._bm25: BM25Index | None = None
        self._bm25_generation: int | None = None
        self._lock = threading.Lock()

    def _check_manifest(self) -> None:
        found = self.catalog.manifest()
        wanted = expected_manifest(self.embedding_model, self.dim)
        if "schema_version" not in found:
            self.catalog.write_manifest(wanted)
            return
        if (
            found.get("embedding_model") != wanted["embedding_model"]
            or found.get("embedding_dim") != wanted["embedding_dim"]
        ):
            raise IndexMismatchError(
                f"the index was built with {found.get('embedding_model')} ({found.get('embedding_dim')} dims) "
                f"but the assistant is set to {self.embedding_model} ({self.dim} dims); "
                "re-ingest with `assistant ingest --rebuild` or switch the embedding setting back"
            )
        for key in ("schema_version", "chromadb_series"):
            if found.get(key) != wanted[key]:
                raise IndexVersionError(
                    f"the index in {self.settings.data_dir} was written with {key}={found.get(key)} "
                    f"but this assistant needs {wanted[key]}; rebuild it with `assistant ingest --rebuild`"
                )

    def bm25(self) -> BM25Index:
        """The BM25 index, rebuilt from the persisted tokens only when the catalog changed."""
        with self._lock:
            generation = self.catalog.generation()
            if self._bm25 is None or generation != self._bm25_generation:
                ids, docs = self.catalog.token_rows()
                self._bm25 = BM25Index(ids, docs)
                self._bm25_generation = generation
            return self._bm25

    def counts(self) -> tuple[int, int]:
        """(documents, chunks) in the catalog."""
        return self.catalog.counts()
