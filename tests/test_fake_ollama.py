"""Tests of the fake Ollama (tests/fakes), driven through the real ``ollama`` client over HTTP."""

from __future__ import annotations

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
from conftest import shared_gguf
from fakes import (
    BUSY_ERROR,
    MIDSTREAM_ERROR,
    PULL_MISSING_ERROR,
    EmbeddedGenerate,
    FakeOllama,
    Scripted,
    canonical_name,
    hashed_embed,
    pieces,
)

pytestmark = pytest.mark.server

CHAT = "qwen2.5:3b"
EMBED = "all-minilm"
ANSWER = "Brad Lightcap è il COO di OpenAI [1]."


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama(generate=Scripted(*[ANSWER] * 8), embed=hashed_embed) as server:
        yield server


@pytest.fixture
def client(fake: FakeOllama) -> Iterator[ollama.Client]:
    with ollama.Client(host=fake.url) as c:
        yield c


def user(content: str = "Chi è il COO di OpenAI?") -> list[dict[str, Any]]:
    return [{"role": "user", "content": content}]


def norm(vector: Any) -> float:
    return math.sqrt(sum(float(x) * float(x) for x in vector))


def cosine(a: Any, b: Any) -> float:
    return sum(float(x) * float(y) for x, y in zip(a, b, strict=True)) / (norm(a) * norm(b))


# -- the endpoints the assistant calls -------------------------------------------------------------


def test_root_version_and_routing(fake: FakeOllama) -> None:
    assert httpx.get(f"{fake.url}/api/version").json() == {"version": "0.12.6"}
    root = httpx.get(fake.url + "/")
    assert root.status_code == 200 and root.text == "Ollama is running"
    head = httpx.head(fake.url + "/")
    assert head.status_code == 200 and head.content == b""
    assert httpx.get(f"{fake.url}/api/generate").status_code == 404  # never called by the assistant
    assert httpx.get(f"{fake.url}/api/chat").status_code == 405
    assert httpx.post(f"{fake.url}/api/chat", content=b"").json() == {"error": "missing request body"}
    assert httpx.post(f"{fake.url}/api/chat", content=b"{oops").status_code == 400
    fake.version = "0.99.1"
    assert httpx.get(f"{fake.url}/api/version").json() == {"version": "0.99.1"}


def test_tags_list_the_models_newest_first(client: ollama.Client, fake: FakeOllama) -> None:
    models = {m.model: m for m in client.list().models}
    assert set(models) == {CHAT, "gemma3:270m", "all-minilm:latest"}
    qwen = models[CHAT]
    assert qwen.details is not None and qwen.details.family == "qwen2" and qwen.details.parameter_size == "3.1B"
    assert qwen.size and qwen.digest and len(qwen.digest) == 64 and qwen.modified_at is not None
    fake.add_model("llama3.2")
    assert client.list().models[0].model == "llama3.2:latest"
    assert fake.remove_model("llama3.2:latest") and not fake.remove_model("llama3.2")


def test_chat_streams_the_reply_piece_by_piece_then_statistics(client: ollama.Client, fake: FakeOllama) -> None:
    options = {"num_ctx": 4096, "seed": 42, "temperature": 0.0}
    parts = list(client.chat(model=CHAT, messages=user(), stream=True, options=options, keep_alive="10m"))

    assert [p.message.content for p in parts[:-1]] == pieces(ANSWER)
    assert all(p.done is False for p in parts[:-1])
    last = parts[-1]
    assert last.done is True and last.done_reason == "stop" and last.message.content == ""
    assert last.eval_count == len(pieces(ANSWER)) and last.prompt_eval_count and last.total_duration
    sent = fake.last_request("/api/chat")
    assert sent["options"] == options and sent["keep_alive"] == "10m" and sent["stream"] is True
    assert sent["messages"] == user()
    assert fake.requests[-1] == {"method": "POST", "path": "/api/chat", "body": sent}


def test_chat_without_streaming_is_one_object(client: ollama.Client) -> None:
    reply = client.chat(model=CHAT, messages=user(), stream=False)
    assert reply.message.role == "assistant" and reply.message.content == ANSWER
    assert reply.done is True and reply.done_reason == "stop" and reply.model == CHAT
    loaded = client.chat(model=CHAT, messages=[])
    assert loaded.done and loaded.done_reason == "load" and loaded.message.content == ""


def test_num_predict_stops_the_reply_with_length(client: ollama.Client) -> None:
    reply = client.chat(model=CHAT, messages=user(), options={"num_predict": 3})
    assert reply.message.content == "".join(pieces(ANSWER)[:3])
    assert reply.done_reason == "length" and reply.eval_count == 3


def test_scripted_replies_run_out_loudly() -> None:
    script = Scripted("one")
    with FakeOllama(generate=script, embed=hashed_embed) as fake, ollama.Client(host=fake.url) as client:
        assert client.chat(model=CHAT, messages=user("a")).message.content == "one"
        with pytest.raises(ollama.ResponseError, match="scripted reply 2 was not written"):
            client.chat(model=CHAT, messages=user("b"))
    assert [call[-1]["content"] for call in script.calls] == ["a", "b"]


def test_runner_failures_are_reported_like_ollama(fake: FakeOllama, client: ollama.Client) -> None:
    def broken(messages: list[dict[str, Any]], options: dict[str, Any]) -> Iterator[str]:
        yield "partial"
        raise RuntimeError("llama_decode failed")

    def broken_at_once(messages: list[dict[str, Any]], options: dict[str, Any]) -> Iterator[str]:
        raise RuntimeError("model failed to load")
        yield ""

    fake.generate = broken
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model=CHAT, messages=user(), stream=False)
    assert err.value.status_code == 500 and err.value.error == "llama_decode failed"
    got: list[str] = []
    with pytest.raises(ollama.ResponseError, match="llama_decode failed"):
        for part in client.chat(model=CHAT, messages=user(), stream=True):
            got.append(part.message.content or "")
    assert got == ["partial"]  # the error came as a last line, after the piece
    fake.generate = broken_at_once
    with pytest.raises(ollama.ResponseError) as err:
        list(client.chat(model=CHAT, messages=user(), stream=True))  # nothing streamed yet: a plain 500
    assert err.value.status_code == 500 and err.value.error == "model failed to load"


def test_request_errors_carry_ollamas_messages(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model="llama3.2", messages=user())
    assert err.value.status_code == 404 and err.value.error == 'model "llama3.2" not found, try pulling it first'
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model=EMBED, messages=user())
    assert err.value.status_code == 400 and err.value.error == '"all-minilm" does not support chat'
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model=CHAT, messages=user(), keep_alive="5")  # Go durations need a unit
    assert err.value.status_code == 400 and err.value.error == 'time: missing unit in duration "5"'
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model=CHAT, messages=user(), keep_alive="soon")
    assert err.value.error == 'time: invalid duration "soon"'
    assert client.chat(model=CHAT, messages=user(), keep_alive="1h30m").done


def test_one_reply_is_generated_at_a_time(fake: FakeOllama) -> None:
    running, overlaps = [0], []

    def slow(messages: list[dict[str, Any]], options: dict[str, Any]) -> Iterator[str]:
        running[0] += 1
        overlaps.append(running[0])
        for word in ("a", " b", " c"):
            time.sleep(0.01)
            yield word
        running[0] -= 1

    fake.generate = slow
    results: list[str] = []

    def ask() -> None:
        with ollama.Client(host=fake.url) as c:
            results.append("".join(p.message.content or "" for p in c.chat(model=CHAT, messages=user(), stream=True)))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert results == ["a b c"] * 3 and overlaps == [1, 1, 1]


@pytest.mark.slow
def test_default_replies_are_written_by_the_embedded_model() -> None:
    model = EmbeddedGenerate(shared_gguf())
    with FakeOllama(generate=model, embed=hashed_embed) as fake, ollama.Client(host=fake.url) as client:
        parts = list(
            client.chat(model=CHAT, messages=user("The capital of France is"), options={"num_predict": 8}, stream=True)
        )
    text = "".join(p.message.content or "" for p in parts)
    assert text.strip() and text == model.texts()[-1]
    assert parts[-1].eval_count == len(model.replies[-1]) <= 8


# -- embeddings ---------------------------------------------------------------------------------------


def test_embed_returns_normalised_vectors(client: ollama.Client, fake: FakeOllama) -> None:
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
    assert fake.last_request("/api/embed")["input"] == []
    with pytest.raises(ollama.ResponseError) as err:
        client.embed(model="nomic-embed-text", input="x")
    assert err.value.status_code == 404


@pytest.mark.slow
def test_default_embeddings_are_multilingual_e5() -> None:
    with FakeOllama(generate=Scripted()) as fake, ollama.Client(host=fake.url) as client:
        q, p, other = client.embed(
            model=EMBED,
            input=["query: what is the capital of France?", "Paris è la capitale della Francia.", "Bananas."],
        ).embeddings
    assert len(q) == 384
    assert cosine(q, p) > cosine(q, other) + 0.05


# -- pull -------------------------------------------------------------------------------------------------


def test_pull_streams_progress_and_adds_the_model() -> None:
    with FakeOllama(generate=Scripted(ANSWER), embed=hashed_embed, models={}) as fake:
        client = ollama.Client(host=fake.url)
        assert client.list().models == []
        events = list(client.pull(CHAT, stream=True))
        statuses = [e.status for e in events]
        assert statuses[0] == "pulling manifest" and statuses[-1] == "success"
        assert statuses[-3:-1] == ["verifying sha256 digest", "writing manifest"]
        downloads = [e for e in events if e.digest]
        assert len({e.digest for e in downloads}) == 3
        for digest in {e.digest for e in downloads}:
            steps = [e for e in downloads if e.digest == digest]
            assert steps[0].completed is None and steps[0].total
            done = [e.completed for e in steps[1:]]
            assert done == sorted(done) and done[-1] == steps[0].total
        assert [m.model for m in client.list().models] == [CHAT]
        assert client.chat(model=CHAT, messages=user()).message.content == ANSWER
        assert client.pull("gemma3:270m", stream=False).status == "success"
        assert fake.last_request("/api/pull") == {"model": "gemma3:270m", "insecure": False, "stream": False}


# -- faults -------------------------------------------------------------------------------------------


def test_fault_missing_model(fake: FakeOllama, client: ollama.Client) -> None:
    fake.fault = "missing_model"
    assert client.list().models == []
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model=CHAT, messages=user())
    assert err.value.status_code == 404 and "try pulling it first" in err.value.error
    with pytest.raises(ollama.ResponseError) as err:
        client.embed(model=EMBED, input="x")
    assert err.value.status_code == 404
    with pytest.raises(ollama.ResponseError, match=PULL_MISSING_ERROR):
        list(client.pull(CHAT, stream=True))
    fake.fault = None
    assert len(client.list().models) == 3


def test_fault_busy_hits_the_queue_only(fake: FakeOllama, client: ollama.Client) -> None:
    fake.fault = "busy"
    for call in (
        lambda: client.chat(model=CHAT, messages=user()),
        lambda: list(client.chat(model=CHAT, messages=user(), stream=True)),
        lambda: client.embed(model=EMBED, input="x"),
    ):
        with pytest.raises(ollama.ResponseError) as err:
            call()
        assert err.value.status_code == 503 and err.value.error == BUSY_ERROR
    assert len(client.list().models) == 3  # a full queue does not affect listing
    fake.set_fault("busy", times=1)
    with pytest.raises(ollama.ResponseError):
        client.chat(model=CHAT, messages=user())
    assert fake.fault is None
    assert client.chat(model=CHAT, messages=user()).message.content == ANSWER


def test_fault_stall_times_out_an_impatient_client_and_answers_a_patient_one(fake: FakeOllama) -> None:
    fake.fault = "stall"
    fake.stall_seconds = 3.0
    with ollama.Client(host=fake.url, timeout=0.5) as impatient, pytest.raises(httpx.TimeoutException):
        list(impatient.chat(model=CHAT, messages=user(), stream=True))
    assert len(fake.bodies("/api/chat")) == 1  # the request was received
    fake.set_fault("stall", times=1)
    fake.stall_seconds = 0.3
    started = time.monotonic()
    with ollama.Client(host=fake.url) as patient:
        assert patient.chat(model=CHAT, messages=user()).message.content == ANSWER
    assert time.monotonic() - started >= 0.3


def test_fault_error_midstream(fake: FakeOllama, client: ollama.Client) -> None:
    fake.fault = "error_midstream"
    got: list[str] = []
    with pytest.raises(ollama.ResponseError) as err:
        for part in client.chat(model=CHAT, messages=user(), stream=True):
            got.append(part.message.content or "")
    assert got == pieces(ANSWER)[:2] and err.value.error == MIDSTREAM_ERROR
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model=CHAT, messages=user(), stream=False)
    assert err.value.status_code == 500 and err.value.error == MIDSTREAM_ERROR
    assert len(client.embed(model=EMBED, input="x").embeddings) == 1  # embeddings unaffected
    with pytest.raises(ValueError, match="unknown fault"):
        fake.fault = "bussy"


def test_a_client_hanging_up_is_quiet(fake: FakeOllama, capfd: pytest.CaptureFixture[str]) -> None:
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
    fake = FakeOllama(generate=Scripted(), embed=hashed_embed).start()
    client = ollama.Client(host=fake.url)
    assert client.list().models
    fake.stop()
    assert not fake.running
    with pytest.raises(ConnectionError):
        client.list()
    fake.stop()  # idempotent


def test_helpers() -> None:
    a, b, c = hashed_embed(["query: red apples", "passage: Red apples!", "blue cars"])
    assert a == b and cosine(a, c) < 0.5 and abs(norm(a) - 1.0) < 1e-9
    assert hashed_embed([""]) == [[0.0] * 384]
    assert pieces("  Hello  wide world.") == ["  Hello", "  wide", " world."]
    assert canonical_name("gemma3") == "gemma3:latest" and canonical_name("me/model:1b") == "me/model:1b"
