"""Every error the assistant reports to a person, with its exit code and its stable API code.

The CLI, the web UI and (later) the API read the same table: :func:`exit_code` for the process
exit status, :func:`error_code` for a machine-readable name. An exception that is not in the table
is a bug of ours and is never disguised as one of these.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The documented exit codes of the ``assistant`` command (README "Exit codes")."""

    OK = 0
    SOME_FILES_FAILED = 1
    USAGE = 2
    INDEX = 3
    BUSY = 4
    MODEL_UNREACHABLE = 5
    MODEL_MISSING = 6
    MODEL_TIMEOUT = 7
    MODEL_FAILED = 8
    THRESHOLD = 9
    CANNOT_WRITE = 10
    EVIDENCE_CHANGED = 11


class AssistantError(Exception):
    """Base of the errors that are reported as one line (never as a traceback)."""

    exit_code: ExitCode = ExitCode.USAGE
    code: str = "bad_input"


class UsageError(AssistantError, ValueError):
    """The request itself is wrong: a bad option, value or input."""


class ConfigError(UsageError):
    """The configuration cannot be used."""


class DataDirError(ConfigError):
    """The data directory (``ASSISTANT_DATA_DIR``) or a folder the index needs in it is not a directory."""

    code = "bad_data_dir"


class QuestionSetError(UsageError):
    """A question set cannot be read."""


class BaselineError(UsageError):
    """A baseline report cannot be compared with."""


class EmptyScopeError(UsageError):
    """A question's scope (globs, document ids, languages) names no indexed document."""

    code = "empty_scope"


class IndexUnusableError(AssistantError, RuntimeError):
    """Base of the index errors: damaged, missing, or built by another model or version."""

    exit_code = ExitCode.INDEX
    code = "index_damaged"


class CatalogError(IndexUnusableError):
    """The catalog (SQLite, or PostgreSQL in server mode) cannot be used."""


class IndexVersionError(CatalogError):
    """The index was written by an incompatible version."""

    code = "index_version"


class IndexDamagedError(CatalogError):
    """The stored index files are damaged."""


class IndexMismatchError(IndexUnusableError):
    """The vector store was built by another embedding model or dimension."""

    code = "index_mismatch"


class NoIndexError(IndexUnusableError):
    """There is no index in the data directory yet (nothing was ingested)."""

    code = "no_index"


class StoreUnavailableError(IndexUnusableError):
    """The vector store (Chroma) or, in server mode, the PostgreSQL catalog cannot be reached or opened."""

    code = "store_unavailable"


class StorageError(AssistantError, RuntimeError):
    """A write to the data directory failed because of the disk, not because of the index's files."""

    exit_code = ExitCode.CANNOT_WRITE
    code = "cannot_write"


class CannotWriteError(StorageError):
    """The data directory is read-only (or not writable by this user)."""

    code = "read_only"


class DiskFullError(StorageError):
    """The disk (or the user's quota) is full."""

    code = "disk_full"


class BundleError(UsageError):
    """An evidence bundle cannot be read (not JSON, or not a bundle this assistant wrote)."""

    code = "bad_bundle"


class ConversationStoreError(AssistantError, RuntimeError):
    """The conversation store cannot be used (damaged, written by a newer version, no such conversation)."""

    exit_code = ExitCode.USAGE
    code = "conversation_store"


class IngestBusyError(AssistantError, RuntimeError):
    """Another ingest holds the writer lock."""

    exit_code = ExitCode.BUSY
    code = "busy"


class EmbeddingError(AssistantError, RuntimeError):
    """The embedding model failed or cannot be reached."""

    exit_code = ExitCode.MODEL_FAILED
    code = "embedding_failed"


class ModelError(AssistantError, RuntimeError):
    """The language model failed."""

    exit_code = ExitCode.MODEL_FAILED
    code = "model_failed"


class ModelUnreachableError(ModelError):
    """Ollama (or another model server) does not answer."""

    exit_code = ExitCode.MODEL_UNREACHABLE
    code = "model_unreachable"


class ModelMissingError(ModelError):
    """The model is not available on the server."""

    exit_code = ExitCode.MODEL_MISSING
    code = "model_missing"


class ModelTimeoutError(ModelError):
    """The model did not answer within the timeout."""

    exit_code = ExitCode.MODEL_TIMEOUT
    code = "model_timeout"


class ModelBusyError(ModelError):
    """The model server is busy (too many requests)."""

    exit_code = ExitCode.BUSY
    code = "model_busy"


class ModelStreamError(ModelError):
    """The stream of the answer broke off."""


def exit_code(exc: BaseException) -> int | None:
    """The exit code for a known error, or None for an exception that is a bug."""
    return int(exc.exit_code) if isinstance(exc, AssistantError) else None


def error_code(exc: BaseException) -> str | None:
    """The stable machine-readable code for a known error, or None."""
    return exc.code if isinstance(exc, AssistantError) else None
