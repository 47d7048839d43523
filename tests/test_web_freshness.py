"""A running UI notices what a CLI ``assistant ingest`` in another process wrote to the same index.

The UI and the CLI share one data directory (and one embedded Chroma store, or the suite's Chroma
server in ``TEST_CHROMA_MODE=http``). Questions are in flight while the CLI writes; afterwards
the UI's answers, status line and document list show the CLI's documents without a restart.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import collection_for
from gradio_client import Client
from test_web_uploads import QUESTION, corpus_env, serve, services_over_corpus

from assistant.services import Services

pytestmark = [pytest.mark.server, pytest.mark.slow]

LIGHTHOUSE = "Il faro di Punta Sottile fu acceso per la prima volta nel 1862 dal guardiano Ettore Zuliani.\n"
LIGHTHOUSE_QUESTION = "Chi accese per la prima volta il faro di Punta Sottile?"


class Shared:
    """One index, the UI served over it, and the environment a CLI needs to write to the same index."""

    def __init__(self, base: Path, env: dict[str, str], services: Services, url: str) -> None:
        self.base, self.env, self.services, self.url = base, env, services, url
        self.corpus = base / "corpus"

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``assistant <args>`` in its own process, over the same settings as the UI."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")} | self.env
        return subprocess.run(
            [sys.executable, "-m", "assistant", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.base,
            timeout=600,
            check=False,
        )


@pytest.fixture
def shared(tmp_path: Path, embedding_cache: Path, request: pytest.FixtureRequest) -> Iterator[Shared]:
    """A UI over a fresh index of the shipped corpus, and a way to run the CLI on that index."""
    env = corpus_env(tmp_path, embedding_cache, request, collection_for(request))
    services = services_over_corpus(tmp_path, env)
    for url, _ in serve(services):
        yield Shared(tmp_path, env, services, url)


class QuestionsInFlight:
    """A session asking the same question again and again (in a thread) until stopped."""

    def __init__(self, url: str) -> None:
        self.session = Client(url, verbose=False)
        self.answers: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.answers.append(self.session.predict(QUESTION, "embedded", 5, False, api_name="/ask")[-1])

    def __enter__(self) -> QuestionsInFlight:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=300)


def ask(url: str, question: str) -> dict[str, Any]:
    """The answer JSON of one question in a new session."""
    return dict(Client(url, verbose=False).predict(question, "embedded", 5, False, api_name="/ask")[-1])


def test_the_ui_answers_from_a_document_that_a_cli_ingest_added(shared: Shared) -> None:
    before = Client(shared.url, verbose=False)
    assert "5 documents" in before.predict("embedded", api_name="/status")
    (shared.corpus / "faro.txt").write_text(LIGHTHOUSE, encoding="utf-8")

    with QuestionsInFlight(shared.url) as in_flight:
        done = shared.cli("ingest", "-q", str(shared.corpus))
    assert done.returncode == 0, done.stderr[-2000:]
    assert in_flight.answers, "questions were answered while the CLI wrote"
    assert [a["status"] for a in in_flight.answers] == ["complete"] * len(in_flight.answers)
    assert all("Lightcap" in a["text"] for a in in_flight.answers)

    answer = ask(shared.url, LIGHTHOUSE_QUESTION)
    assert answer["status"] == "complete" and not answer["refused"], answer
    assert "Zuliani" in answer["text"] and "faro.txt" in [s["doc_id"] for s in answer["sources"]]
    print(f"RESULT questions answered during the CLI ingest: {len(in_flight.answers)}, errors: 0, stale answers: 0")

    status = before.predict("embedded", api_name="/status")
    table, _, summary = before.predict(api_name="/documents")
    assert "6 documents" in status and "6 indexed documents" in summary
    assert "faro.txt" in [row[1] for row in table["data"]]


def test_the_ui_keeps_answering_after_a_cli_rebuild(shared: Shared) -> None:
    assert ask(shared.url, QUESTION)["status"] == "complete"
    (shared.corpus / "faro.txt").write_text(LIGHTHOUSE, encoding="utf-8")

    done = shared.cli("ingest", "-q", "--rebuild", str(shared.corpus))
    assert done.returncode == 0, done.stderr[-2000:]

    answer = ask(shared.url, QUESTION)
    assert answer["status"] == "complete" and "Lightcap" in answer["text"], answer
    answer = ask(shared.url, LIGHTHOUSE_QUESTION)
    assert answer["status"] == "complete" and "Zuliani" in answer["text"], answer
    assert "6 documents" in Client(shared.url, verbose=False).predict("embedded", api_name="/status")
