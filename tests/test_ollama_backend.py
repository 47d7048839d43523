"""The Ollama backend over real HTTP: the assistant against the fake Ollama, answering with the embedded GGUF.

The fake speaks Ollama's API on a loopback port; its replies are written by the bundled Gemma 3 270M
run by llama.cpp, so the answers streamed back are real model output, not canned text. The CLI is
driven through typer's ``CliRunner`` over an index built once for the module by ``assistant ingest``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import free_port
from fakes import BUSY_ERROR, MIDSTREAM_ERROR, EmbeddedGenerate, FakeOllama
from fakes.assistant_env import (
    KEEP_ALIVE,
    MODEL,
    OPTIONS,
    QUESTION,
    Indexed,
    arrival_times,
    ask,
    check_citations,
    collect,
    error_line,
    services,
    shows_reply,
    summary,
)

from assistant.answer.generate import ModelBusyError, ModelError, ModelStreamError
from assistant.cli.app import Exit
from assistant.models import Answer
from assistant.text.sanitize import sanitize_model_text

pytestmark = pytest.mark.server
ANSWERED = "Chi è il COO di OpenAI?"
"""A question whose prompt the base model continues with an answer (not with a question of its own)."""
pytest_plugins = ["fakes.assistant_fixtures"]  # the fixtures model, indexed, fake and ollama_env


# -- a normal answer ---------------------------------------------------------------------------


def test_cli_streams_the_ollama_answer_with_the_settings_options(
    ollama_env: FakeOllama, model: EmbeddedGenerate
) -> None:
    result = ask("--backend", "ollama", ANSWERED)

    assert result.exit_code == 0, result.output
    bodies = ollama_env.bodies("/api/chat")  # two when the answer was retried in the question's language
    for body in bodies:
        assert body["model"] == MODEL
        assert body["stream"] is True
        assert body["options"] == OPTIONS
        assert body["keep_alive"] == KEEP_ALIVE
    body = bodies[0]
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert ANSWERED in body["messages"][1]["content"]
    assert "<<<PASSAGE 3 " in body["messages"][1]["content"]  # top_k from the settings
    # what the model generated behind the HTTP API reached the terminal, checked
    replies = model.texts()[-len(bodies) :]
    assert replies[0].strip()
    assert shows_reply(result, replies[-1]), (replies, result.stdout)
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
    ollama_env: FakeOllama, model: EmbeddedGenerate, indexed: Indexed
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


def test_missing_model_says_which_pull_command_to_run(ollama_env: FakeOllama) -> None:
    ollama_env.fault = "missing_model"

    result = ask("--backend", "ollama", QUESTION)

    assert result.exit_code == Exit.MODEL_MISSING == 6
    assert f"`ollama pull {MODEL}`" in error_line(result)
    assert result.stdout == ""


def test_pull_fetches_the_missing_model_then_answers(ollama_env: FakeOllama, model: EmbeddedGenerate) -> None:
    assert ollama_env.remove_model(MODEL)

    result = ask("--backend", "ollama", "--pull", ANSWERED)

    assert result.exit_code == 0, result.output
    assert f"pulling {MODEL}" in result.stderr  # the progress bar
    assert [body["model"] for body in ollama_env.bodies("/api/pull")] == [MODEL]
    assert MODEL in ollama_env.models
    paths = [request["path"] for request in ollama_env.requests]
    assert paths.index("/api/pull") < paths.index("/api/chat")
    assert shows_reply(result, model.texts()[-1])
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


def test_error_midstream_marks_the_partial_answer_incomplete(ollama_env: FakeOllama, model: EmbeddedGenerate) -> None:
    ollama_env.fault = "error_midstream"

    result = ask("--backend", "ollama", QUESTION)

    assert result.exit_code == Exit.MODEL_FAILED == 8
    partial = sanitize_model_text(model.texts()[-1])
    assert len(model.replies[-1]) == 2  # the fake sends two pieces, then the error line
    assert partial and result.stdout.startswith(partial)  # the draft so far, then the flag
    assert result.stdout.index("[answer incomplete") >= len(partial)
    assert "Sources:" not in result.stdout and "checked answer" not in result.stdout
    assert summary(result) is None  # never summarised as a finished answer
    assert MIDSTREAM_ERROR in error_line(result)


def test_error_midstream_ends_the_answerer_stream_without_an_answer(
    ollama_env: FakeOllama, model: EmbeddedGenerate
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
    assert len(calls) == 2 and "[rewriting the answer" in result.stderr
    assert MIDSTREAM_ERROR in error_line(result)
    assert "Sources:" not in result.stdout and summary(result) is None  # never shown as a finished answer


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
