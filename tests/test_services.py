"""The facade's own promises: no index is created by reading, uploads survive a rebuild, questions are checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import load_settings
from assistant.errors import NoIndexError, UsageError
from assistant.services import build_services, check_question, collect


def test_reading_an_empty_data_dir_creates_nothing(clean_env: Path) -> None:
    services = build_services(load_settings())
    assert services.documents() == [] and services.counts() == (0, 0) and services.document("x.txt") is None
    assert not services.has_index()
    with pytest.raises(NoIndexError):
        _ = services.index
    assert not clean_env.exists(), "a read-only use created the data directory"


def test_a_rebuild_re_indexes_the_uploaded_files(corpus: Path, tmp_path: Path) -> None:
    services = build_services(load_settings(corpus_paths=[corpus]))
    services.ingest()
    upload = tmp_path / "incoming" / "ferries.txt"
    upload.parent.mkdir()
    upload.write_text("The ferry to Piran leaves Trieste at 9:15 every morning, all year round.\n", encoding="utf-8")
    outcome = services.add_files([upload])
    assert outcome.saved == ["ferries.txt"] and services.document("ferries.txt") is not None

    report = services.ingest(rebuild=True)

    assert "ferries.txt" in report.added, report
    assert services.document("ferries.txt") is not None
    assert services.counts()[0] == len(list(corpus.glob("*.txt"))) + 1


def test_questions_are_checked_before_any_work() -> None:
    check_question("Who is OpenAI's COO?", 100)
    with pytest.raises(UsageError, match="empty"):
        check_question("   ", 100)
    with pytest.raises(UsageError, match="limit is 100"):
        check_question("x" * 101, 100)


def test_collect_keeps_the_text_after_the_last_reset() -> None:
    from assistant.answer.compose import AnswerEvent
    from assistant.models import Answer

    final = Answer(question="q", text="checked", language="en")
    events = [
        AnswerEvent("status", "model"),
        AnswerEvent("token", "first "),
        AnswerEvent("reset"),
        AnswerEvent("token", "second"),
        AnswerEvent("answer", answer=final),
    ]
    assert collect(events) == ("second", final)
    with pytest.raises(RuntimeError):
        collect([AnswerEvent("token", "no answer")])
