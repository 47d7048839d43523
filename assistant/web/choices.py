"""The model menu: its choices and what a chosen value means."""

from __future__ import annotations

from collections.abc import Sequence

from assistant.config import Settings
from assistant.errors import ConfigError


def parse_model_choice(value: str | None) -> tuple[str, str | None]:
    """(backend, model) for a value of the model menu: ``auto``, ``embedded`` or ``ollama:<name>``."""
    if not value or value == "auto":
        return "auto", None
    if value == "embedded":
        return "embedded", None
    if value.startswith("ollama:") and len(value) > len("ollama:"):
        return "ollama", value.removeprefix("ollama:")
    raise ConfigError(f"unknown model choice {value!r}")


def model_choices(settings: Settings, ollama_models: Sequence[str] | None) -> list[tuple[str, str]]:
    """The model menu: automatic, the embedded model, then the Ollama models (or the configured one)."""
    names = list(ollama_models) if ollama_models else [settings.ollama.model]
    if settings.ollama.model not in names and f"{settings.ollama.model}:latest" not in names:
        names.insert(0, settings.ollama.model)
    return [
        ("Automatic (Ollama if running, else embedded)", "auto"),
        ("Embedded model (offline)", "embedded"),
        *[(f"Ollama · {name}", f"ollama:{name}") for name in names],
    ]


def default_model_choice(settings: Settings) -> str:
    """The menu value matching the configured backend."""
    if settings.llm.backend == "ollama":
        return f"ollama:{settings.ollama.model}"
    return settings.llm.backend
