"""`assistant doctor`: what works, what does not, and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from assistant.answer.generate import ModelError, OllamaServer, default_gguf_path

if TYPE_CHECKING:
    from assistant.services import Services


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    status: Literal["ok", "warn", "fail"]
    detail: str


def run_checks(services: Services) -> list[Check]:
    """Check the settings file, Ollama, the embedded model and the index; never raises."""
    settings = services.settings
    checks = [Check("settings", "ok", f"file: {settings.config_file or 'none (defaults and environment)'}")]
    checks.extend(_ollama_checks(services))
    checks.append(_embedded_check(services))
    checks.append(_index_check(services))
    return checks


def _ollama_checks(services: Services) -> list[Check]:
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
    settings = services.settings
    path = settings.embedded.model_path or default_gguf_path(settings)
    if path.is_file():
        return Check("embedded model", "ok", f"{path} ({path.stat().st_size / 1e6:.0f} MB)")
    if settings.embedded.model_path is None:
        return Check("embedded model", "ok", f"bundled Gemma 3 270M, assembled into {path} on first use")
    return Check("embedded model", "fail", f"{path} does not exist")


def _index_check(services: Services) -> Check:
    try:
        index = services.index
        docs, chunks = index.counts()
        vectors = index.vectors.count()
    except Exception as exc:
        return Check("index", "fail", f"{exc}")
    if docs == 0:
        return Check("index", "warn", "empty: run `assistant ingest corpus/`")
    status: Literal["ok", "warn"] = "ok" if vectors == chunks else "warn"
    detail = f"{docs} documents, {chunks} chunks ({vectors} vectors), embedding model {index.embedding_model}"
    if status == "warn":
        detail += " — vectors and catalog disagree: run `assistant ingest`"
    return Check("index", status, detail)
