"""Builds the assistant's services from settings; the CLI, the UI and the eval all start here."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.config import Settings
from assistant.embedding import CachedEmbedder, build_embedder
from assistant.index import Index, exclusive_write
from assistant.ingest import IngestReport, ProgressCallback, sync
from assistant.models import SearchResult
from assistant.retrieve import Mode, Retriever

if TYPE_CHECKING:
    from assistant.answer import Answerer


class Services:
    """The assistant's use cases over one index. Heavy parts are built on first use and reused."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._index: Index | None = None
        self._lock = threading.Lock()

    @cached_property
    def embedder(self) -> CachedEmbedder:
        """The embedding model (loaded once per process)."""
        return build_embedder(self.settings)

    @property
    def index(self) -> Index:
        """The opened index (raises if it is damaged, or built by another model or version)."""
        with self._lock:
            if self._index is None:
                self._index = Index(self.settings, self.embedder.name, self.embedder.dim)
            return self._index

    @property
    def retriever(self) -> Retriever:
        """Hybrid retrieval over the index."""
        return Retriever(self.index, self.embedder, self.settings.retrieval)

    @cached_property
    def answerer(self) -> Answerer:
        """Answers with verified citations (the language model is loaded on first use)."""
        from assistant.answer import Answerer

        return Answerer(self)

    def ingest(
        self, paths: Sequence[Path] | None = None, progress: ProgressCallback | None = None, rebuild: bool = False
    ) -> IngestReport:
        """Sync the index with ``paths`` (default: the configured corpus paths)."""
        with exclusive_write(self.settings):  # before the index is opened: a waiting process touches no file
            if rebuild:
                with self._lock:
                    self._index = Index(self.settings, self.embedder.name, self.embedder.dim, rebuild=True)
            return sync(list(paths or self.settings.corpus_paths), self.index, self.embedder, self.settings, progress)

    def search(self, query: str, k: int | None = None, mode: Mode | None = None) -> SearchResult:
        """Ranked passages for ``query``."""
        return self.retriever.search(query, k=k, mode=mode)


def build_services(settings: Settings) -> Services:
    """The one function that wires the assistant from its settings."""
    return Services(settings)
