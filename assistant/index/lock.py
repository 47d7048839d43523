"""The writer lock: one process at a time writes an index (Chroma is not process-safe).

Embedded catalog: an OS file lock in the data directory. PostgreSQL catalog (server mode): the
catalog's advisory lock (:func:`assistant.index.pg_catalog.advisory_lock`), which serialises the
ingests of every machine that shares the catalog.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from assistant.config import Settings
from assistant.errors import IngestBusyError
from assistant.index.storage import check_data_dir, writing

LOCK_FILE = "ingest.lock"

_HELD = threading.local()  # data directories whose lock this thread holds, with a nesting count


def ingest_lock(settings: Settings) -> Any:
    """The OS-level lock that serialises writers of one data directory (a crash releases it).

    Creates the index directory; raises :class:`DataDirError` when a file is in the way, and
    :class:`CannotWriteError` or :class:`DiskFullError` when it cannot be written.
    """
    from filelock import FileLock

    check_data_dir(settings)
    with writing(f"the index in {settings.index_dir}"):
        settings.index_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(settings.index_dir / LOCK_FILE))


@contextmanager
def exclusive_write(settings: Settings) -> Iterator[None]:
    """Hold the ingest lock, waiting at most ``ingest.lock_timeout`` seconds for it.

    Re-entrant within a thread (per data directory, or per catalog URL in server mode), so a caller
    can take the lock before opening the index (a process that has to wait then touches no file of
    the index) and call :func:`assistant.ingest.sync.sync`.
    A read-only data directory or a full disk raises :class:`StorageError` before anything is written.
    """
    from filelock import Timeout

    from assistant.index.catalog_store import server_url

    held: dict[str, int] = _HELD.__dict__.setdefault("counts", {})
    url = server_url(settings)
    key = url or str(settings.index_dir.resolve())
    if held.get(key):
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    if url is not None:
        from assistant.index.pg_catalog import advisory_lock

        with advisory_lock(url, settings.ingest.lock_timeout, settings.catalog.connect_timeout):
            held[key] = 1
            try:
                yield
            finally:
                held[key] = 0
        return
    lock = ingest_lock(settings)
    try:
        with writing(f"the index in {settings.index_dir}"):
            lock.acquire(timeout=settings.ingest.lock_timeout)
    except Timeout as exc:
        raise IngestBusyError(
            f"another ingest is running on {settings.data_dir} (waited {settings.ingest.lock_timeout:.0f} s); "
            "try again when it has finished"
        ) from exc
    held[key] = 1
    try:
        yield
    finally:
        held[key] = 0
        lock.release()
