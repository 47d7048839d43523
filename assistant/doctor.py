"""`assistant doctor`: what works, what does not, and what to do about it.

Read-only: it creates no folder and opens the index only when the data directory holds one. Only the
assistant's own errors (:mod:`assistant.errors`) become a failed check; anything else is a bug and
is raised, never reported as a damaged index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from assistant.errors import AssistantError, ModelError
from assistant.locations import bundled_model_path, holds_index

if TYPE_CHECKING:
    from assistant.services import Services

SHOWN_PENDING = 5
"""Interrupted updates named on the line; the rest are counted."""


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    status: Literal["ok", "warn", "fail"]
    detail: str


def run_checks(services: Services) -> list[Check]:
    """Check the settings file, the data directory, Ollama, the embedded model and the index.

    Raises only for a bug of ours: the assistant's errors become failed or warned checks.
    """
    settings = services.settings
    location = settings.data_location
    detail = f"{location.path} ({location.reason})" + (f"; {location.note}" if location.note else "")
    checks = [
        Check("settings", "ok", f"file: {settings.config_file or 'none (defaults and environment)'}"),
        Check("data dir", "warn" if location.note else "ok", detail),
    ]
    checks.extend(_ollama_checks(services))
    checks.append(_embedded_check(services))
    checks.extend(_server_checks(services))
    checks.extend(_index_checks(services))
    return checks


def _ollama_checks(services: Services) -> list[Check]:
    from assistant.answer.generate import OllamaServer

    settings = services.settings.ollama
    server = OllamaServer(settings, timeout=settings.connect_timeout + 2)
    try:
        version = server.version()
        models = server.models()
    except ModelError as exc:
        return [Check("ollama", "warn", str(exc))]
    wanted = settings.model
    present = wanted in models or f"{wanted}:latest" in models
    return [
        Check("ollama", "ok", f"reachable at {settings.host}, version {version}"),
        Check("ollama models", "ok" if models else "warn", ", ".join(models) or "none pulled"),
        Check(
            "ollama model",
            "ok" if present else "warn",
            f"{wanted} is pulled" if present else f"{wanted} is not pulled: run `ollama pull {wanted}`",
        ),
    ]


def _embedded_check(services: Services) -> Check:
    configured = services.settings.embedded.model_path
    if configured is not None:
        if configured.is_file():
            return Check("embedded model", "ok", f"{configured} ({configured.stat().st_size / 1e6:.0f} MB)")
        return Check("embedded model", "fail", f"{configured} does not exist (ASSISTANT_EMBEDDED__MODEL_PATH)")
    path = bundled_model_path()
    if path.is_file():
        size = path.stat().st_size / 1e6
        return Check("embedded model", "ok", f"bundled Gemma 3 270M: {path} ({size:.0f} MB, one per machine)")
    return Check("embedded model", "ok", f"bundled Gemma 3 270M, assembled into {path} on first use")


def _server_checks(services: Services) -> list[Check]:
    """In server mode, the Chroma server and the PostgreSQL catalog (see :mod:`assistant.index.servers`)."""
    from assistant.index.servers import chroma_server_check, postgres_check

    settings = services.settings
    checks = []
    if settings.chroma.mode == "http":
        checks.append(Check(*chroma_server_check(settings)))
    if settings.catalog.url:
        checks.append(Check(*postgres_check(settings, settings.catalog.url)))
    return checks


def _index_checks(services: Services) -> list[Check]:
    settings = services.settings
    if settings.catalog.url is None and not holds_index(settings.data_dir):
        return [Check("index", "fail", f"no index in {settings.data_dir}: run `assistant ingest PATH`")]
    try:
        index = services.index
        docs, chunks = index.counts()
        vectors = index.vectors.count()
        audit = services.audit()
    except AssistantError as exc:
        return [Check("index", "fail", str(exc))]
    if docs == 0:
        return [Check("index", "warn", "empty: run `assistant ingest PATH`")]
    status: Literal["ok", "warn"] = "ok" if vectors == chunks else "warn"
    detail = f"{docs} documents, {chunks} chunks ({vectors} vectors), embedding model {index.embedding_model}"
    if status == "warn":
        detail += " — vectors and catalog disagree: run `assistant ingest`"
    checks = [Check("index", status, detail)]
    if audit.pending:
        names = ", ".join(audit.pending[:SHOWN_PENDING])
        more = f" and {len(audit.pending) - SHOWN_PENDING} more" if len(audit.pending) > SHOWN_PENDING else ""
        checks.append(
            Check(
                "updates",
                "warn",
                f"{len(audit.pending)} interrupted update(s): {names}{more}; run `assistant ingest` to finish them",
            )
        )
    other = audit.problems()[len(audit.pending) :]  # the pending documents come first
    if other:
        checks.append(Check("consistency", "warn", f"{'; '.join(other[:3])}; run `assistant ingest` to repair"))
    return checks
