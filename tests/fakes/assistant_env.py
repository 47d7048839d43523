"""Settings and checks shared by the tests of the assistant against the fake Ollama.

The fixtures that use them are in :mod:`fakes.assistant_fixtures`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner, Result

from assistant.answer.compose import AnswerEvent
from assistant.cli.app import app
from assistant.config import load_settings
from assistant.ingest.readers import FileRef, read_document
from assistant.models import Answer
from assistant.services import Services, build_services

MODEL = "qwen2.5:3b"  # the settings' default Ollama model; present in FakeOllama's default models
QUESTION = "Who is OpenAI's COO?"
MAX_TOKENS = 64
# Non-default values, so that the request body can only carry them if they came from the settings.
OPTIONS = {"num_ctx": 4096, "seed": 7, "temperature": 0.0, "num_predict": MAX_TOKENS}
KEEP_ALIVE = "3m"
SUMMARY_LINE = re.compile(r"^\[(\w+) · (\w+) · retrieval \d+ ms · total \d+ ms\]$", re.M)


@dataclass(frozen=True)
class Indexed:
    """The module's index of the shipped corpus, built by ``assistant ingest``."""

    data_dir: Path
    corpus: Path
    chunks: int


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


def shows_reply(result: Result, reply: str) -> bool:
    """Whether stdout shows the checked answer made of ``reply`` (its first words, markers aside).

    When stdout is not a terminal the CLI prints only the checked answer, not the streamed draft.
    """
    from assistant.answer.markers import strip_markers
    from assistant.text.sanitize import sanitize_model_text

    opening = " ".join(strip_markers(sanitize_model_text(reply)).split()[:4])
    return bool(opening) and opening in " ".join(strip_markers(result.stdout).split())


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
