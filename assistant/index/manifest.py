"""The manifest: which versions and embedding model wrote an index, and whether this assistant may read it.

An index written by an incompatible version is refused (and left untouched) instead of misread or
migrated; one built with another embedding model is refused with the setting to change.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from assistant.errors import IndexMismatchError, IndexVersionError
from assistant.index.catalog import SCHEMA_VERSION

REBUILD_HINT = "run `assistant ingest --rebuild`"


def chromadb_series() -> str:
    """The installed chromadb's major.minor version (its on-disk format changes between series)."""
    return ".".join(version("chromadb").split(".")[:2])


def expected_manifest(embedding_model: str, dim: int) -> dict[str, str]:
    """What this version of the assistant writes into a new index's manifest."""
    return {
        "schema_version": str(SCHEMA_VERSION),
        "assistant_version": version("local-doc-assistant"),
        "chromadb_series": chromadb_series(),
        "embedding_model": embedding_model,
        "embedding_dim": str(dim),
    }


def mismatch_message(built_with: object, built_dim: object, embedding_model: str, dim: int) -> str:
    """The one-line refusal of an index built by another embedding model or dimension."""
    return (
        f"the index was built with {built_with} ({built_dim} dims) but the assistant is set to "
        f"{embedding_model} ({dim} dims); re-ingest with `assistant ingest --rebuild` or switch the embedding "
        "setting back"
    )


def check_manifest(found: dict[str, str], embedding_model: str, dim: int, data_dir: Path) -> dict[str, str] | None:
    """Raise if the index described by ``found`` cannot be read with this model; return a manifest to write.

    The manifest to write is None unless the index has none yet (a new index).
    """
    wanted = expected_manifest(embedding_model, dim)
    if "schema_version" not in found:
        return wanted
    for key in ("schema_version", "chromadb_series"):
        if found.get(key) != wanted[key]:
            raise IndexVersionError(
                f"the index in {data_dir} was written with {key}={found.get(key)} "
                f"(assistant {found.get('assistant_version', '?')}) but this assistant needs {wanted[key]}; "
                f"it is left untouched: {REBUILD_HINT} to index the documents again"
            )
    if any(found.get(key) != wanted[key] for key in ("embedding_model", "embedding_dim")):
        raise IndexMismatchError(
            mismatch_message(found.get("embedding_model"), found.get("embedding_dim"), embedding_model, dim)
        )
    return None
