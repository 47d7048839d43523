"""The benchmark's start-up timings: new ``assistant`` processes on a tiny index, with exactly the bench's settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.bench import report
from assistant.bench.results import BenchError, BenchResult, SizeResult
from assistant.bench.startup import launcher, measure_startup, settings_environment
from assistant.config import load_settings
from assistant.services import build_services


def test_a_child_process_loads_exactly_the_given_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(data_dir=tmp_path / "bench-data", retrieval={"top_k": 7})
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__TOP_K", "3")  # the parent's own variables must not leak through
    (tmp_path / "assistant.toml").write_text("[chunking]\nchunk_size = 400\n", encoding="utf-8")
    code = "from assistant.config import load_settings; print(load_settings().model_dump_json())"
    done = subprocess.run(
        [sys.executable, "-c", code], env=settings_environment(settings), capture_output=True, text=True, check=True
    )
    child = json.loads(done.stdout)
    assert child["retrieval"]["top_k"] == 7 and child["chunking"]["chunk_size"] == settings.chunking.chunk_size
    assert {k: v for k, v in child.items() if k != "config_file"} == settings.model_dump(
        mode="json", exclude={"config_file"}
    )


def test_the_launcher_is_the_installed_console_script() -> None:
    command = launcher()
    assert Path(command[-1]).name == "assistant" or command[-2:] == ["-m", "assistant"]
    done = subprocess.run([*command, "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "bench" in done.stdout


@pytest.mark.slow
def test_startup_is_measured_on_a_tiny_index(tmp_path: Path) -> None:
    corpus = tmp_path / "tiny"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text(
        "Harbour report\n\nInspector Vale counted 412 ferries in Trieste during 2019. "
        "The port authority of Trieste published the figures in the spring of 2020.\n",
        encoding="utf-8",
    )
    settings = load_settings(corpus_paths=[corpus], data_dir=tmp_path / "bench-data")
    assert build_services(settings).ingest().chunks_written >= 1

    runs = measure_startup(settings, "How many ferries did Inspector Vale count in Trieste?", runs=2)

    assert [run.name for run in runs] == ["help", "search", "ask", "doctor", "search_chroma", "ask_chroma"]
    for run in runs:
        assert len(run.run_seconds) == 2 and all(seconds > 0 for seconds in run.run_seconds)
        assert min(run.run_seconds) <= run.median_s <= max(run.run_seconds)
    assert all(run.exit_code == 0 for run in runs[:3] + runs[4:])
    assert runs[2].command.startswith("assistant ask --mode extractive --backend embedded ")
    assert runs[5].command.startswith("ASSISTANT_CHROMA__LOCAL_COPY=false assistant ask --mode extractive ")
    table = "\n".join(
        report._startup_lines(BenchResult.model_construct(sizes=[SizeResult.model_construct(chunks=1, startup=runs)]))
    )
    assert "search, no vector copy" in table and table.count("|") == 3 * 8

    # the --help target is checked at any size; search and ask only at 10k chunks
    size = SizeResult.model_construct(target_chunks=1, chunks=1, startup=runs)
    checks = report.check_targets(BenchResult.model_construct(sizes=[size], throughput=[]))
    by_command = {c.target.split("`")[1]: c for c in checks if c.target.startswith("`")}
    assert by_command["assistant --help"].figure == runs[0].median_s
    assert by_command["assistant search"].met is None


def test_a_failing_command_is_a_bench_error(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "bench-data")
    broken = settings.model_copy(update={"chroma": settings.chroma.model_copy(update={"mode": "http", "port": 9})})
    with pytest.raises(BenchError, match="assistant search"):
        measure_startup(broken, "anything", runs=1)
