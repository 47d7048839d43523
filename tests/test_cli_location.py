"""Where the CLI finds its data: from any folder, never creating one to read, saying where it looked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from assistant.cli.app import Exit, app
from tests.conftest import CORPUS, free_port

runner = CliRunner()
USER_DATA = Path(".local") / "share" / "local-doc-assistant"


@pytest.fixture
def fresh_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """An empty home and an empty current folder, with no data directory named anywhere."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    for name in ("ASSISTANT_DATA_DIR", "ASSISTANT_CONFIG", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    return home, work


def tree(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def error_lines(result: Result) -> list[str]:
    assert "Traceback" not in result.output
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def write_notes(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text(
        "Brad Lightcap is the chief operating officer of OpenAI. He said that Sora was launched too early.\n",
        encoding="utf-8",
    )
    return folder


def test_read_only_commands_on_no_index_exit_3_in_one_line_and_create_nothing(
    fresh_user: tuple[Path, Path], tmp_path: Path
) -> None:
    home, work = fresh_user
    before = tree(tmp_path)
    commands = [
        ["search", "Who is OpenAI's COO?"],
        ["ask", "Who is OpenAI's COO?"],
        ["ask", "--json", "Who is OpenAI's COO?"],
        ["eval", "--retrieval-only", "--questions", str(CORPUS / "questions.jsonl")],
        ["ui", "--port", str(free_port())],
    ]
    for args in commands:
        result = runner.invoke(app, args)
        assert result.exit_code == Exit.INDEX, (args, result.output)
        (line,) = error_lines(result)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert f"no index in {home / USER_DATA} (the user data folder: no .assistant folder" in line
        assert f"in {work} or above)" in line and "run `assistant ingest PATH`" in line
    doctor = runner.invoke(app, ["doctor"])
    assert doctor.exit_code == Exit.INDEX, doctor.output
    assert f"no index in {home / USER_DATA}: run `assistant ingest PATH`" in doctor.stdout
    assert f"data dir        {home / USER_DATA} (the user data folder" in doctor.stdout
    assert tree(tmp_path) == before  # not a folder, not a file


def test_the_project_folder_is_found_from_below_and_named_in_the_error(
    fresh_user: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, work = fresh_user
    project = work / "project"
    (project / ".assistant").mkdir(parents=True)
    below = project / "docs" / "2026"
    below.mkdir(parents=True)
    monkeypatch.chdir(below)

    result = runner.invoke(app, ["search", "x"])

    assert result.exit_code == Exit.INDEX
    (line,) = error_lines(result)
    assert f"no index in {project / '.assistant'} (the .assistant folder of the project {project})" in line

    (project / "assistant.toml").write_text('data_dir = "store"\n[retrieval]\ntop_k = 2\n')
    verbose = runner.invoke(app, ["search", "x", "--verbose"])
    assert f"settings file: {project / 'assistant.toml'}" in verbose.stderr
    assert f"data directory: {project / 'store'} (named by data_dir in {project / 'assistant.toml'})" in verbose.stderr
    assert f"no index in {project / 'store'}" in error_lines(verbose)[0]


@pytest.mark.slow
def test_an_index_built_in_one_folder_answers_from_any_other(fresh_user: tuple[Path, Path], tmp_path: Path) -> None:
    home, work = fresh_user
    notes = write_notes(work / "notes")

    ingested = runner.invoke(app, ["ingest", str(notes)])
    assert ingested.exit_code == 0, ingested.output
    assert f"index: {home / USER_DATA} (the user data folder" in ingested.stdout
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(elsewhere)
        found = runner.invoke(app, ["search", "--json", "Who is OpenAI's COO?"])
        doctor = runner.invoke(app, ["doctor"])
    assert found.exit_code == 0, found.output
    assert "Lightcap" in json.loads(found.stdout)["hits"][0]["text"]
    assert doctor.exit_code == 0, doctor.output
    assert "ok   index           1 documents" in doctor.stdout
    assert not list(elsewhere.iterdir())


@pytest.mark.slow
def test_an_index_in_an_old_data_folder_is_found_with_a_note_saying_how_to_move_it(
    fresh_user: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, work = fresh_user
    project = work / "project"
    notes = write_notes(project / "notes")
    legacy = project / ".data"
    assert runner.invoke(app, ["ingest", "-q", "--data-dir", str(legacy), str(notes)]).exit_code == 0
    monkeypatch.chdir(notes)

    result = runner.invoke(app, ["search", "--json", "-v", "Who is OpenAI's COO?"])

    assert result.exit_code == 0, result.output
    assert "Lightcap" in result.stdout
    assert f"data directory: {legacy} (an index of an earlier version in {project})" in result.stderr
    assert f"note: this index is in {legacy}, where earlier versions kept it" in result.stderr
    assert f"mv {legacy} {project / '.assistant'}" in result.stderr
    doctor = runner.invoke(app, ["doctor"])
    assert f"warn data dir        {legacy}" in doctor.stdout
    (project / ".assistant").mkdir()  # the new folder wins over the old one, once it exists
    moved = runner.invoke(app, ["search", "x"])
    assert moved.exit_code == Exit.INDEX and f"no index in {project / '.assistant'}" in error_lines(moved)[0]
