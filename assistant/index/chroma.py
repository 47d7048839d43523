"""Chroma clients: the one place that opens one, embedded or over HTTP, and one per store and process.

An embedded client keeps the vector index it read in memory and never sees what another process
wrote; :class:`ChromaConnection` reopens it on request. chromadb is imported only here, when a
client is first needed.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.errors import CannotWriteError, DiskFullError, StorageError, StoreUnavailableError
from assistant.index.storage import folder_size, free_bytes, storage_error, writing


def store_location(settings: Settings) -> str:
    """Where the Chroma store is, for messages: its URL or its directory."""
    if settings.chroma.mode == "http":
        return f"http://{settings.chroma.host}:{settings.chroma.port}"
    return str(settings.chroma_path)


def open_chroma(settings: Settings, path: Path | None = None) -> Any:
    """The one place that opens a Chroma client, embedded (at ``path``, default the settings') or over HTTP."""
    os.environ["ANONYMIZED_TELEMETRY"] = "False"
    import chromadb
    from chromadb.config import Settings as ChromaClientSettings

    client_settings = ChromaClientSettings(anonymized_telemetry=False)
    where = store_location(settings)
    try:
        if settings.chroma.mode == "http":
            return chromadb.HttpClient(
                host=settings.chroma.host,
                port=settings.chroma.port,
                ssl=settings.chroma.ssl,
                settings=client_settings,
            )
        store = path or settings.chroma_path
        with writing(f"the vector store {store}"):
            store.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(store), settings=client_settings)
    except StorageError:
        raise
    except Exception as exc:
        mapped = storage_error(exc, f"the vector store {where}")
        if mapped is not None:
            raise mapped from exc
        raise StoreUnavailableError(f"cannot open the Chroma store at {where}: {exc}") from exc


_COPIES: dict[str, Path] = {}
_COPIES_LOCK = threading.Lock()


def private_copy(path: Path) -> Path:
    """A temporary copy of the embedded store at ``path``, removed when the process exits (one per process).

    Chroma's embedded client writes to its files whenever it opens them, so a store in a directory
    that cannot be written (read-only, or a full disk) is read from a copy.
    """
    key = str(path.resolve())
    with _COPIES_LOCK:
        if key not in _COPIES:
            target = Path(tempfile.mkdtemp(prefix="assistant-chroma-"))
            atexit.register(shutil.rmtree, target, True)
            try:
                shutil.copytree(path, target / "store")
            except OSError as exc:
                shutil.rmtree(target, ignore_errors=True)
                raise CannotWriteError(
                    f"cannot read the vector store {path}: its directory cannot be written and copying it to "
                    f"{target} failed ({exc.strerror or exc})"
                ) from exc
            _COPIES[key] = target / "store"
        return _COPIES[key]


class ChromaConnection:
    """This process's client of one Chroma store, opened on first use and reopened on request.

    Reopening stops the client, so that the store's files are read again: an embedded client keeps
    its vector index in memory and does not see what another process wrote. When the disk is too
    full for Chroma to open the store, ``fallback`` opens a copy for reading and :attr:`refusal`
    holds the error that writes must raise.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        location: str,
        present: Callable[[], bool] | None = None,
        fallback: Callable[[], Any] | None = None,
        local_path: Path | None = None,
    ) -> None:
        self._connect = connect
        self.local_path = local_path
        """The embedded store's directory (None for a server)."""
        self._fallback = fallback
        self.location = location
        """The store's URL or directory, for messages."""
        self._present = present
        self._client: Any = None
        self.generation = 0
        self.lock = threading.RLock()
        self._idle = threading.Condition(self.lock)
        self._users = 0
        self.max_batch = 0
        self.refusal: StorageError | None = None

    def client(self) -> Any:
        """The open client."""
        with self.lock:
            if self._client is None:
                try:
                    self._client, self.refusal = self._connect(), None
                except DiskFullError as full:
                    if self._fallback is None:
                        raise
                    self._client, self.refusal = self._fallback(), full
                self.max_batch = int(self._client.get_max_batch_size())
            return self._client

    def low_space_error(self, exc: BaseException) -> DiskFullError | None:
        """A :class:`DiskFullError` for an error of Chroma's on a disk with less room than the store takes.

        Chroma applies its log and rewrites files when it loads a store; without room it fails with
        errors that do not say so.
        """
        if self.local_path is None or not type(exc).__module__.startswith("chromadb"):
            return None
        free = free_bytes(self.local_path)
        if free is None or free >= folder_size(self.local_path) + (1 << 20):
            return None
        return DiskFullError(f"disk full: cannot open the vector store {self.location} ({free / 1e6:.1f} MB free)")

    def is_open(self) -> bool:
        """True when this process has a client of the store open."""
        return self._client is not None

    def present(self) -> bool:
        """False when the embedded store has no files yet (opening it would create them)."""
        return self._present() if self._present is not None else True

    @contextmanager
    def in_use(self) -> Iterator[None]:
        """Mark a use of the client: :meth:`reopen` waits until no thread is using it."""
        with self.lock:
            self._users += 1
        try:
            yield
        finally:
            with self.lock:
                self._users -= 1
                if not self._users:
                    self._idle.notify_all()

    def reopen(self) -> None:
        """Close the client once no thread uses it (the next use opens a new one, which reads the files again)."""
        with self.lock:
            while self._users:
                self._idle.wait()
            if self._client is not None:
                close = getattr(self._client, "close", None)
                if close is not None:
                    close()
                self._client = None
            self.generation += 1


_CONNECTIONS: dict[str, ChromaConnection] = {}
_CONNECTIONS_LOCK = threading.Lock()


def chroma_connection(settings: Settings, read_only: bool = False) -> ChromaConnection:
    """The process's one connection to the store these settings name.

    ``read_only``: the embedded store's directory cannot be written, so a private copy is opened.
    """
    if settings.chroma.mode == "http":
        key = store_location(settings)
        connection = ChromaConnection(lambda: open_chroma(settings), key)
    else:
        path = settings.chroma_path
        key = ("copy:" if read_only else "") + str(path.resolve())

        def copy() -> Any:
            return open_chroma(settings, private_copy(path))

        def present() -> bool:
            return (path / "chroma.sqlite3").is_file()

        connect = copy if read_only else lambda: open_chroma(settings, path)
        connection = ChromaConnection(connect, str(path), present, None if read_only else copy, path)
    with _CONNECTIONS_LOCK:
        return _CONNECTIONS.setdefault(key, connection)


def close_connection(path: Path) -> None:
    """Close this process's client of the embedded store at ``path`` (before its files are deleted)."""
    with _CONNECTIONS_LOCK:
        connection = _CONNECTIONS.get(str(path.resolve()))
    if connection is not None:
        connection.reopen()


def reset_collection(client: Any, collection: str) -> None:
    """Drop the collection (for ``ingest --rebuild``); one that does not exist is already dropped.

    Any other failure is raised: a rebuild must not go on over the old vectors.
    """
    from chromadb.errors import NotFoundError

    try:
        client.delete_collection(collection)
    except NotFoundError:
        return
