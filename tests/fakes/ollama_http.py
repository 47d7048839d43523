"""The fake Ollama's request handler: routing, request checks and Ollama's reply shapes."""

from __future__ import annotations

import contextlib
import json
import math
import re
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, cast
from urllib.parse import urlsplit

from fakes.ollama_server import BUSY_ERROR, FakeOllama, RunnerError, now_rfc3339

_ROUTES = {
    "/": {"GET": "root", "HEAD": "root"},
    "/api/version": {"GET": "version"},
    "/api/tags": {"GET": "tags"},
    "/api/chat": {"POST": "chat"},
    "/api/embed": {"POST": "embed"},
    "/api/pull": {"POST": "pull"},
}
_DURATION = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|ms|s|m|h))+")
_TOKEN = re.compile(r"\w+|[^\w\s]")
Body = dict[str, Any]


def _tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def keep_alive_error(value: Any) -> str | None:
    """Ollama's 400 message for a ``keep_alive`` it cannot parse (a number, or a Go duration with units)."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return None
    if isinstance(value, str) and (value.strip() in ("0", "-1") or _DURATION.fullmatch(value.strip())):
        return None
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+\.?\d*", value.strip()):
        return f"time: missing unit in duration {json.dumps(value)}"
    return f"time: invalid duration {json.dumps(value)}"


class OllamaHandler(BaseHTTPRequestHandler):
    """One request to the fake: logged, checked, faulted if asked, then answered like Ollama."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeOllama"
    disable_nagle_algorithm = True  # else small NDJSON writes wait ~40 ms for delayed ACKs
    _responded = False

    @property
    def fake(self) -> FakeOllama:
        return cast(FakeOllama, self.server.fake)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        """No per-request log on stderr."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        self._responded = False
        try:
            self._route()
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client went away
        except Exception as exc:  # a bug of the fake: answer it like a server error, and say so
            if not self._responded:
                with contextlib.suppress(OSError):
                    self._json(500, {"error": f"fake ollama: {type(exc).__name__}: {exc}"})
            self.close_connection = True

    def _route(self) -> None:
        path = urlsplit(self.path).path.rstrip("/") or "/"
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        body: Any = None
        error = None
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError as exc:
                body, error = raw.decode("utf-8", "replace"), f"invalid character in request body: {exc}"
        self.fake.log(self.command, path, body)
        routes = _ROUTES.get(path)
        if routes is None:
            self._send(404, b"404 page not found", "text/plain; charset=utf-8")
            return
        if self.command not in routes:
            self._send(405, b"405 method not allowed", "text/plain; charset=utf-8")
            return
        fault = self.fake.take_fault(path)
        if fault == "stall" and self.fake.stopping.wait(self.fake.stall_seconds):
            self.close_connection = True  # stopped while stalling: hang up
            return
        if self.command == "POST":
            problem = error or ("missing request body" if body is None else None)
            if problem is None and not isinstance(body, dict):
                problem = f"json: cannot unmarshal {type(body).__name__} into Go value"
            if problem is not None:
                self._json(400, {"error": problem})
                return
            if fault == "busy":
                self._json(503, {"error": BUSY_ERROR})
                return
        getattr(self, f"_{routes[self.command]}")(body or {}, fault)

    # -- replies ------------------------------------------------------------------------------------

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self._responded = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD" and data:
            self.wfile.write(data)
        self.wfile.flush()

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _start_stream(self) -> None:
        self._responded = True
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _line(self, obj: Any) -> None:
        data = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- endpoints ----------------------------------------------------------------------------------

    def _root(self, body: Body, fault: str | None) -> None:
        self._send(200, b"Ollama is running", "text/plain; charset=utf-8")

    def _version(self, body: Body, fault: str | None) -> None:
        self._json(200, {"version": self.fake.version})

    def _tags(self, body: Body, fault: str | None) -> None:
        self._json(200, {"models": self.fake.tags(fault)})

    def _model(self, body: Body, fault: str | None, verb: str) -> str | None:
        """The requested model's name, or ``None`` after answering the error Ollama gives."""
        name = body.get("model") if isinstance(body.get("model"), str) else ""
        if not name:
            self._json(400, {"error": "model is required"})
            return None
        spec = self.fake.lookup(name, fault)
        if spec is None:
            self._json(404, {"error": f"model {json.dumps(name)} not found, try pulling it first"})
            return None
        if verb == "chat" and not spec.chat:
            self._json(400, {"error": f"{json.dumps(name)} does not support chat"})
            return None
        problem = keep_alive_error(body.get("keep_alive"))
        if problem is not None:
            self._json(400, {"error": problem})
            return None
        return name

    def _chat(self, body: Body, fault: str | None) -> None:
        started = time.perf_counter_ns()
        messages = body.get("messages") or []
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            self._json(400, {"error": "json: cannot unmarshal messages into Go value of type []api.Message"})
            return
        model = self._model(body, fault, "chat")
        if model is None:
            return
        options = body.get("options") if isinstance(body.get("options"), dict) else {}
        limit = options.get("num_predict") if isinstance(options.get("num_predict"), int) else -1

        def shape(text: str, done: bool = False) -> dict[str, Any]:
            return {
                "model": model,
                "created_at": now_rfc3339(),
                "message": {"role": "assistant", "content": text},
                "done": done,
            }

        if not messages:  # a load request
            self._json(200, {**shape("", done=True), "done_reason": "load"})
            return
        prompt_tokens = _tokens("\n".join(str(m.get("content") or "") for m in messages))
        if isinstance(options.get("num_ctx"), int):
            prompt_tokens = min(prompt_tokens, options["num_ctx"])  # Ollama truncates the prompt to fit
        state = {"done_reason": "stop", "eval_count": 0}

        def final() -> dict[str, Any]:
            total = max(time.perf_counter_ns() - started, 3)
            return {
                **shape("", done=True),
                "done_reason": state["done_reason"],
                "total_duration": total,
                "load_duration": total // 10,
                "prompt_eval_count": prompt_tokens,
                "prompt_eval_duration": total // 5,
                "eval_count": state["eval_count"],
                "eval_duration": total - total // 10 - total // 5,
            }

        def limited() -> Any:
            for piece in self.fake.reply_pieces(messages, options, fault):
                if 0 <= limit <= state["eval_count"]:
                    state["done_reason"] = "length"
                    return
                state["eval_count"] += 1
                yield piece

        with self.fake.generation:
            pieces = limited()
            try:
                first = next(pieces, None)
                if body.get("stream") is False:
                    text = "" if first is None else first + "".join(pieces)
                    reply = final()
                    reply["message"]["content"] = text
                    self._json(200, reply)
                    return
            except RunnerError as exc:
                self._json(500, {"error": str(exc)})
                return
            self._start_stream()
            try:
                if first is not None:
                    self._line(shape(first))
                    for piece in pieces:
                        self._line(shape(piece))
                self._line(final())
            except RunnerError as exc:
                self._line({"error": str(exc)})
            finally:
                pieces.close()
            self._end_stream()

    def _embed(self, body: Body, fault: str | None) -> None:
        started = time.perf_counter_ns()
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if texts is None:
            texts = []
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            self._json(400, {"error": "invalid input type"})
            return
        model = self._model(body, fault, "embed")
        if model is None:
            return
        vectors = [[float(x) for x in vector] for vector in self.fake.embed(texts)] if texts else []
        if len(vectors) != len(texts):
            self._json(500, {"error": f"embed returned {len(vectors)} vectors for {len(texts)} inputs"})
            return
        norms = [math.sqrt(sum(x * x for x in vector)) or 1.0 for vector in vectors]
        total = max(time.perf_counter_ns() - started, 2)
        self._json(
            200,
            {
                "model": model,
                "embeddings": [[x / norm for x in vector] for vector, norm in zip(vectors, norms, strict=True)],
                "total_duration": total,
                "load_duration": total // 2,
                "prompt_eval_count": sum(_tokens(t) for t in texts),
            },
        )

    def _pull(self, body: Body, fault: str | None) -> None:
        name = body.get("model") or body.get("name") or ""
        if not isinstance(name, str) or not name.strip():
            self._json(400, {"error": "invalid model name"})
            return
        events = self.fake.pull_events(name, missing=fault == "missing_model")
        if body.get("stream") is False:
            last: dict[str, Any] = {}
            for event in events:
                if "error" in event:
                    self._json(500, {"error": event["error"]})
                    return
                last = event
            self._json(200, last)
            return
        self._start_stream()
        for event in events:
            self._line(event)
        self._end_stream()
