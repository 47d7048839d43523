"""Bad input gets one line and exit 2; choices come from the settings; every command has the common options."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from assistant.cli.app import Exit, app
from assistant.cli.group import LAZY_COMMANDS
from assistant.config import MAX_TOP_K, AnswerSettings, LLMSettings, RetrievalSettings, load_settings
from tests.conftest import CORPUS, REPO

runner = CliRunner()
COMMANDS = ["ingest", "search", "ask", "doctor", "ui", "eval", "bench", "serve", "mcp"]


def one_error_line(result: Result) -> str:
    """The single line on stderr, which is an ``error:`` line (no traceback, no usage block)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "-k", "0", "x"], f"-k must be between 1 and {MAX_TOP_K}, not 0"),
        (["search", "-k", "-1", "x"], f"-k must be between 1 and {MAX_TOP_K}, not -1"),
        (["search", "-k", "100000", "x"], f"-k must be between 1 and {MAX_TOP_K}, not 100000"),
        (["ask", "-k", "0", "x"], "-k must be between 1 and"),
        (["search", "-k", "many", "x"], "Invalid value for '-k'"),
        (["search", "--mode", "bogus", "x"], "unknown --mode value 'bogus' (use hybrid, dense, bm25)"),
        (["ask", "--mode", "bogus", "x"], "unknown --mode value 'bogus' (use auto, generative, extractive)"),
        (["ask", "--backend", "bogus", "x"], "unknown --backend value 'bogus' (use auto, ollama, embedded)"),
        (["search", ""], "the query is empty"),
        (["search", "   "], "the query is empty"),
        (["ask", "  "], "no question given"),
        (["search"], "Missing argument 'query'"),
        (["search", "x", "--no-such-option"], "No such option: --no-such-option"),
        (["ui", "--port", "99999"], "--port must be between 1 and 65535, not 99999"),
        (["ui", "--port", "0"], "--port must be between 1 and 65535, not 0"),
    ],
)
def test_bad_values_get_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == Exit.USAGE, result.output
    assert message in one_error_line(result)


def test_a_data_dir_that_is_a_file_is_one_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(a_file))
    for args in (["search", "x"], ["ask", "x"], ["doctor"], ["ingest", str(tmp_path)]):
        result = runner.invoke(app, args)
        assert result.exit_code == Exit.USAGE, (args, result.output)
        line = one_error_line(result)
        assert f"the data directory {a_file} (from $ASSISTANT_DATA_DIR) is a file, not a folder" in line
    result = runner.invoke(app, ["search", "x", "--data-dir", str(a_file)])
    assert result.exit_code == Exit.USAGE and "(from --data-dir) is a file" in one_error_line(result)


def test_a_busy_port_is_one_line_and_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["ui", "--port", str(port)])
    assert result.exit_code == Exit.USAGE, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in one_error_line(result)


def test_the_port_setting_is_validated_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_UI__PORT", "70000")
    result = runner.invoke(app, ["ui"])
    assert result.exit_code == Exit.USAGE and "invalid settings" in one_error_line(result)


def test_choices_are_the_settings_literal_values_and_the_help_lists_them() -> None:
    fields = {
        ("search", "--mode"): RetrievalSettings.model_fields["mode"],
        ("ask", "--mode"): AnswerSettings.model_fields["mode"],
        ("ask", "--backend"): LLMSettings.model_fields["backend"],
    }
    for (command, option), field in fields.items():
        choices = typing.get_args(field.annotation)
        assert len(choices) >= 3
        empty = "the query is empty" if command == "search" else "no question given"
        for choice in choices:  # every value of the setting is accepted: the next check (empty text) speaks
            result = runner.invoke(app, [command, option, choice, " "])
            assert empty in one_error_line(result), (command, option, choice)
        help_text = " ".join(runner.invoke(app, [command, "--help"]).stdout.split())
        listed = f"{', '.join(choices[:-1])} or {choices[-1]}."
        assert listed in help_text, (command, option, listed)
    assert f"1 to {MAX_TOP_K}" in " ".join(runner.invoke(app, ["search", "--help"]).stdout.split())


def test_every_command_takes_data_dir_and_verbose() -> None:
    listing = runner.invoke(app, ["--help"]).stdout
    for command in COMMANDS:
        assert f"  {command} " in listing, command
        help_text = runner.invoke(app, [command, "--help"])
        assert help_text.exit_code == 0, (command, help_text.output)
        assert "--data-dir" in help_text.stdout and "--verbose" in help_text.stdout, command


def test_lazy_commands_are_listed_with_their_own_first_help_line() -> None:
    from assistant.cli.group import AssistantGroup

    group = typing.cast(AssistantGroup, __import__("typer").main.get_command(app))
    for name, (_, summary) in LAZY_COMMANDS.items():
        command = group.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None and command.help is not None
        assert command.help.strip().splitlines()[0] == summary, name


def test_help_imports_neither_the_heavy_libraries_nor_the_tools() -> None:
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from assistant.cli.app import app\n"
        "for args in (['--help'], ['search', '--help'], ['ask', '--help']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    # (typer itself checks option values with pydantic, so pydantic may load; pydantic-settings may not)
    heavy = {"pydantic_settings", "chromadb", "llama_index", "gradio", "matplotlib", "numpy", "rich"}
    tools = {"assistant.bench", "assistant.evaluation", "assistant.cli.evaluate", "assistant.services"}
    assert not (heavy | tools) & loaded, sorted((heavy | tools) & loaded)


def test_eval_takes_the_choices_of_the_settings_too() -> None:
    result = runner.invoke(app, ["eval", "--questions", str(CORPUS / "questions.jsonl"), "--mode", "poetic"])
    assert result.exit_code == Exit.USAGE and "poetic" in one_error_line(result)


@pytest.mark.slow
def test_a_question_over_the_limit_is_refused_in_one_line(
    corpus_services: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = corpus_services.settings
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(settings.data_dir))
    if settings.chroma.mode == "http":
        monkeypatch.setenv("ASSISTANT_CHROMA__COLLECTION", settings.chroma.collection)
    limit = load_settings().answer.max_question_chars

    for args in (["ask", "x" * (limit + 1)], ["ask", "--json", "y" * (limit + 1)]):
        result = runner.invoke(app, args)
        assert result.exit_code == Exit.USAGE, result.output
        assert f"the limit is {limit:,}" in one_error_line(result) and result.stdout == ""
    piped = runner.invoke(app, ["ask"], input="z" * (limit + 1))
    assert piped.exit_code == Exit.USAGE and "ASSISTANT_ANSWER__MAX_QUESTION_CHARS" in one_error_line(piped)
    fine = runner.invoke(app, ["search", "--json", "-k", str(MAX_TOP_K), "Brad Lightcap"])
    assert fine.exit_code == 0 and json.loads(fine.stdout)["hits"]
