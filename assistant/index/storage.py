"""The data directory on disk: whether it can be written, and what a failed write means.

A write that fails because the directory is read-only or the disk is full is reported as such
(:class:`CannotWriteError`, :class:`DiskFullError`), never as a damaged index; anything else is
left as it is, so that a bug of ours is not disguised as a disk problem.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.config import Settings
from assistant.errors import CannotWriteError, DataDirError, DiskFullError, StorageError

_FULL = {errno.ENOSPC, errno.EDQUOT}
_READ_ONLY = {errno.EROFS}
_DENIED = {errno.EACCES, errno.EPERM}
_SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_FULL = 8, 10, 13
_CANNOT_SHARE = {_SQLITE_IOERR, 14}  # and SQLITE_CANTOPEN: no shared-memory file can be made or grown
_NEARLY_FULL = 1 << 20
"""Free bytes under which an I/O error of SQLite's is taken for a full disk (it reports one so, e.g.
when it cannot grow the shared-memory file of a WAL database)."""
# how chromadb (its Rust core reports SQLite and file errors as text) says the same things
_FULL_TEXT = ("database or disk is full", "no space left on device", "disk quota exceeded")
_READ_ONLY_TEXT = ("readonly database", "read-only file system")


def nearest_existing(path: Path) -> Path:
    """``path`` itself, or its closest ancestor that exists."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def is_writable(path: Path) -> bool:
    """True when files can be created in ``path`` (or, if it does not exist yet, where it would be made).

    ``os.access`` reports a read-only file system even to root (for whom permissions do not count).
    """
    return os.access(nearest_existing(path), os.W_OK)


def check_data_dir(settings: Settings) -> None:
    """Raise :class:`DataDirError` when the data directory, or a folder of the index in it, is not a directory."""
    folders = [settings.data_dir, settings.index_dir]
    if settings.chroma.mode == "embedded":
        folders.append(settings.chroma_path)
    for folder in folders:
        found = nearest_existing(folder)
        if not found.is_dir():
            raise DataDirError(
                f"the data directory {settings.data_dir} cannot be used: {found} is a file, not a directory "
                "(set ASSISTANT_DATA_DIR to a directory)"
            )


def disk_is_full(path: Path) -> bool:
    """True when the file system holding ``path`` has (almost) no space left."""
    free = free_bytes(path)
    return free is not None and free < _NEARLY_FULL


def free_bytes(path: Path) -> int | None:
    """Free bytes on the file system holding ``path`` (None when it cannot be told)."""
    try:
        return shutil.disk_usage(nearest_existing(path)).free
    except OSError:
        return None


def folder_size(path: Path) -> int:
    """Bytes of the files under ``path``."""
    total = 0
    for folder, _, names in os.walk(path):
        for name in names:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(folder, name)).st_size
    return total


def check_space(path: Path, needed: int, what: str) -> None:
    """Raise :class:`DiskFullError` before a write of about ``needed`` bytes to ``path`` that cannot fit.

    For writers that do not fail cleanly on a full disk (Chroma's native code can hang or leave
    its log unapplied), so that they are not started.
    """
    free = free_bytes(path)
    if free is not None and free < needed + _NEARLY_FULL:
        room = f"{free / 1e6:.1f} MB free, about {needed / 1e6:.1f} MB needed"
        raise DiskFullError(f"disk full: cannot write {what} ({room})")


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection to the SQLite file at ``path`` that never writes.

    ``mode=ro`` sees what a live writer has in its WAL; when SQLite cannot even make or grow the
    shared-memory file a WAL database needs (a read-only file system, a full disk), the file is
    opened ``immutable`` (as it was last checkpointed).
    """
    uri = path.absolute().as_uri()
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30, check_same_thread=False)
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError as exc:
        if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) not in _CANNOT_SHARE or not path.is_file():
            raise
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, check_same_thread=False)


def storage_error(exc: BaseException, what: str, path: Path | None = None) -> StorageError | None:
    """The :class:`StorageError` that ``exc`` means for a write of ``what``, or None when it is something else.

    ``path`` (where the write went) lets an unspecific I/O error be recognised as a full disk.
    """
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, OSError) and exc.errno is not None:
        if exc.errno in _FULL:
            return DiskFullError(f"disk full: cannot write {what}")
        if exc.errno in _READ_ONLY:
            return CannotWriteError(f"cannot write {what} (read-only)")
        if exc.errno in _DENIED:
            return CannotWriteError(f"cannot write {what} (permission denied)")
        return None
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        if code == _SQLITE_FULL:
            return DiskFullError(f"disk full: cannot write {what}")
        if code == _SQLITE_READONLY:
            return CannotWriteError(f"cannot write {what} (read-only)")
        if code == _SQLITE_IOERR and path is not None and disk_is_full(path):
            return DiskFullError(f"disk full: cannot write {what}")
        return None
    if type(exc).__module__.startswith("chromadb"):
        text = str(exc).lower()
        if any(words in text for words in _FULL_TEXT):
            return DiskFullError(f"disk full: cannot write {what}")
        if any(words in text for words in _READ_ONLY_TEXT):
            return CannotWriteError(f"cannot write {what} (read-only)")
        if "disk i/o error" in text and path is not None and disk_is_full(path):
            return DiskFullError(f"disk full: cannot write {what}")
    return None


@contextmanager
def writing(what: str, path: Path | None = None) -> Iterator[None]:
    """Turn a write (to ``path``) that fails for lack of space or permission into a one-line :class:`StorageError`."""
    try:
        yield
    except Exception as exc:
        mapped = storage_error(exc, what, path)
        if mapped is None or mapped is exc:
            raise
        raise mapped from exc
