"""An index of its own for grading the assistant on any folder of documents (``eval --corpus``).

The folder is indexed in ``<data_dir>/eval/<short hash of its absolute path>``, beside (never in)
the configured index; the next run on the same folder reuses that index and syncs it, so only
changed files are embedded again. The passage-embedding cache is shared with the configured data
directory (vectors depend only on the text); so is everything else in the settings.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from assistant.config import Settings
from assistant.errors import UsageError

EVAL_DIR = "eval"


def corpus_key(folder: Path) -> str:
    """A short, stable name for a corpus folder: 12 hex digits of the sha256 of its absolute path."""
    return hashlib.sha256(str(folder.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:12]


def corpus_data_dir(settings: Settings, folder: Path) -> Path:
    """Where the index of ``folder`` lives: ``<data_dir>/eval/<key>``."""
    return settings.data_dir / EVAL_DIR / corpus_key(folder)


def corpus_settings(settings: Settings, folder: Path) -> Settings:
    """The settings of an index of ``folder`` alone, in a data directory of its own.

    The Chroma store moves with the data directory (embedded mode) or gets a collection of its own
    (server mode). Raises :class:`UsageError` when ``folder`` is not a folder.
    """
    if not folder.is_dir():
        raise UsageError(f"--corpus: not a folder: {folder}")
    key = corpus_key(folder)
    chroma = settings.chroma.model_copy(
        update={"path": None, "collection": f"{settings.chroma.collection}-eval-{key}"}
        if settings.chroma.mode == "http"
        else {"path": None}
    )
    embedding = settings.embedding.model_copy(
        update={"cache_dir": settings.embedding.cache_dir or settings.data_dir / "cache"}
    )
    return settings.model_copy(
        update={
            "data_dir": corpus_data_dir(settings, folder),
            "corpus_paths": [folder.resolve()],
            "chroma": chroma,
            "embedding": embedding,
        }
    )
