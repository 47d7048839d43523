"""Talking to an Ollama server: the client, and its errors mapped to the assistant's own.

Shared by the chat models (:mod:`assistant.answer.generate`) and the Ollama embedder
(:mod:`assistant.index.embedding`).
"""

from __future__ import annotations

from typing import Any

from assistant.config import OllamaSettings
from assistant.errors import (
    ModelBusyError,
    ModelError,
    ModelMissingError,
    ModelStreamError,
    ModelTimeoutError,
    ModelUnreachableError,
)


def ollama_client(settings: OllamaSettings, read_timeout: float | None = None) -> Any:
    """An ``ollama.Client`` with the configured host and connect/read timeouts."""
    import httpx
    import ollama

    timeout = httpx.Timeout(read_timeout or settings.read_timeout, connect=settings.connect_timeout)
    return ollama.Client(host=settings.host, timeout=timeout)


def start_hint(host: str) -> str:
    """What to do when Ollama does not answer at ``host``."""
    return (
        f"Ollama is not reachable at {host}: start it with `ollama serve` (or set ASSISTANT_OLLAMA__HOST), "
        "or use the offline model with --backend embedded"
    )


def translate_ollama_error(
    exc: BaseException, settings: OllamaSettings, model: str, started: bool = False
) -> ModelError:
    """Map a failure of the Ollama server or of the connection to it to a :class:`ModelError` subclass.

    Known failures are the ollama client's ``ResponseError`` and ``ConnectionError``, httpx's
    transport errors and timeouts, and a reply line that is not JSON. Anything else (a
    ``KeyError`` or ``TypeError`` in our own code, say) is a bug of ours and is re-raised as it
    is, never disguised as "the stream broke off". Call it from an ``except`` block.
    """
    import json

    import httpx
    import ollama

    if isinstance(exc, ModelError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return ModelTimeoutError(
            f"Ollama did not answer within {settings.read_timeout:.0f} s (model {model}); "
            "raise ASSISTANT_OLLAMA__READ_TIMEOUT or use a smaller model"
        )
    if isinstance(exc, ConnectionError | httpx.ConnectError | httpx.RemoteProtocolError) and not started:
        return ModelUnreachableError(start_hint(settings.host))
    if isinstance(exc, ollama.ResponseError):
        if exc.status_code == 404:
            return ModelMissingError(
                f"the model {model} is not pulled on {settings.host}: run `ollama pull {model}` "
                "(or `assistant ask --pull ...`)"
            )
        if exc.status_code == 503:
            return ModelBusyError(f"Ollama is busy (queue full): try again in a moment ({exc.error})")
        if started or exc.status_code == -1:
            return ModelStreamError(f"Ollama failed in the middle of the answer: {exc.error}")
        return ModelError(f"Ollama answered HTTP {exc.status_code}: {exc.error}")
    if isinstance(exc, ConnectionError | httpx.TransportError | json.JSONDecodeError):
        if started:
            return ModelStreamError(f"the answer stream from Ollama broke off: {exc}")
        return ModelError(f"Ollama request failed: {exc}")
    raise exc
