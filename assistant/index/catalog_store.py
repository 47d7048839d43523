"""The catalog's one interface, and the one place that chooses its implementation.

``catalog.url`` unset: the SQLite file in the data directory (:class:`assistant.index.catalog.Catalog`,
the embedded default). A ``postgresql://`` URL: the PostgreSQL catalog of the server mode
(:class:`assistant.index.pg_catalog.PostgresCatalog`), shared by every machine that reaches it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.models import Chunk, DocumentInfo


class CatalogStore(Protocol):
    """What the index needs of a catalog: documents, chunks with their BM25 tokens, the journal, the manifest."""

    read_only: bool
    generation: int

    def close(self) -> None: ...
    def schema_version(self) -> int: ...
    def manifest(self) -> dict[str, str]: ...
    def write_manifest(self, values: dict[str, str]) -> None: ...
    def documents(self) -> list[DocumentInfo]: ...
    def document(self, doc_id: str) -> DocumentInfo | None: ...
    def counts(self) -> tuple[int, int]: ...
    def revision(self) -> str: ...
    def written_here(self, revision: str) -> bool: ...
    def mark_pending(self, *doc_ids: str) -> None: ...
    def pending(self) -> list[str]: ...
    def clear_pending(self, doc_id: str) -> None: ...
    def replace_document(self, info: DocumentInfo, chunks: Sequence[Chunk], tokens: Sequence[list[str]]) -> None: ...
    def replace_documents(
        self, documents: Sequence[tuple[DocumentInfo, Sequence[Chunk], Sequence[list[str]]]]
    ) -> None: ...
    def delete_document(self, doc_id: str) -> None: ...
    def chunks(self, chunk_ids: Sequence[str]) -> dict[str, Chunk]: ...
    def document_chunks(self, doc_id: str) -> list[Chunk]: ...
    def all_chunk_ids(self) -> set[str]: ...
    def chunk_owners(self) -> dict[str, str]: ...
    def chunk_counts(self) -> dict[str, int]: ...
    def delete_chunks(self, chunk_ids: Sequence[str]) -> None: ...
    def token_rows(self) -> Iterator[tuple[str, list[str]]]: ...
    def check(self) -> None: ...


def server_url(settings: Settings) -> str | None:
    """The PostgreSQL URL of the server mode, or None for the embedded SQLite catalog."""
    url = settings.catalog.url
    if not url:
        return None
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"catalog.url must be a postgresql:// URL, not {url.split(':', 1)[0]}://…")
    return url


def catalog_exists(settings: Settings, path: Path) -> bool:
    """Whether there is a catalog (an ingest made one): the SQLite file at ``path``, or in the database."""
    url = server_url(settings)
    if url is None:
        return path.is_file()
    from assistant.index.pg_catalog import catalog_exists as in_database

    return in_database(url, settings.catalog.connect_timeout)


def open_catalog(settings: Settings, path: Path, read_only: bool = False) -> CatalogStore:
    """The configured catalog, made (with its schema) if it does not exist yet."""
    url = server_url(settings)
    if url is None:
        from assistant.index.catalog import Catalog

        return Catalog(path, read_only=read_only)
    from assistant.index.pg_catalog import PostgresCatalog

    return PostgresCatalog(url, settings.catalog.connect_timeout)


def drop_catalog(settings: Settings, path: Path) -> None:
    """Empty the catalog for a rebuild: delete the SQLite file, or empty the database's tables (new id)."""
    url = server_url(settings)
    if url is None:
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        return
    from assistant.index.pg_catalog import PostgresCatalog

    catalog = PostgresCatalog(url, settings.catalog.connect_timeout)
    try:
        catalog.reset()
    finally:
        catalog.close()
