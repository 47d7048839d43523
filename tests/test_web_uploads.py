"""Uploads through a real served UI: synced in a worker process while questions keep being answered,
gradio's temporary copy deleted, and over-long questions refused with one line.

The index is a real one of the shipped corpus (its own, so the big upload changes no other module's
counts); the model is the embedded one and Ollama "runs" on a closed port.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import CLOSED_PORT_URL, CORPUS, free_port, shared_gguf, suite_chroma_env
from gradio_client import Client, handle_file

from assistant.config import load_settings
from assistant.services import Services, build_services
from assistant.web.app import build_app, launch_options

pytestmark = [pytest.mark.server, pytest.mark.slow]

QUESTION = "Chi ha detto che Sora è stato lanciato troppo presto?"
PLACES = ["Chioggia", "Grado", "Caorle", "Pellestrina", "Burano", "Murano", "Jesolo", "Bibione"]
GOODS = ["reti", "casse di sale", "barili di olio", "sacchi di farina", "gabbie di vimini", "corde di canapa"]
VERBS = ["ha registrato", "ha scaricato", "ha consegnato", "ha contato", "ha spedito"]


def corpus_env(base: Path, embedding_cache: Path, request: pytest.FixtureRequest, name: str) -> dict[str, str]:
    """The settings (as environment variables) of an index under ``base``: embedded model, Ollama down."""
    return {
        "ASSISTANT_DATA_DIR": str(base / "data"),
        "ASSISTANT_LLM__BACKEND": "embedded",
        "ASSISTANT_OLLAMA__HOST": CLOSED_PORT_URL,
        "ASSISTANT_EMBEDDING__CACHE_DIR": str(embedding_cache),
        "ASSISTANT_EMBEDDED__MODEL_PATH": str(shared_gguf()),
        **suite_chroma_env(request, name),
    }


def services_over_corpus(base: Path, env: dict[str, str]) -> Services:
    """Services over a fresh index of a copy of the shipped corpus in ``base / "corpus"``."""
    (base / "corpus").mkdir()
    for path in sorted(CORPUS.glob("*.txt")):
        shutil.copy(path, base / "corpus" / path.name)
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("ASSISTANT_")]:
            patch.delenv(key)
        for key, value in env.items():
            patch.setenv(key, value)
        settings = load_settings(corpus_paths=[base / "corpus"])
    services = build_services(settings)
    assert len(services.ingest().added) == 5
    return services


def serve(services: Services) -> Iterator[tuple[str, Path]]:
    """(URL, gradio's upload folder) of the app served with the options of ``assistant ui``, until closed."""
    app = build_app(services)
    app.launch(**launch_options(services.settings, port=free_port()), prevent_thread_lock=True, quiet=True)
    try:
        yield app.local_url.rstrip("/"), Path(app.GRADIO_CACHE)  # type: ignore[union-attr]
    finally:
        app.close()


@pytest.fixture(scope="module")
def web_services(
    tmp_path_factory: pytest.TempPathFactory, embedding_cache: Path, request: pytest.FixtureRequest
) -> Services:
    """Services over this module's own index of the shipped corpus."""
    base = tmp_path_factory.mktemp("web-uploads")
    return services_over_corpus(base, corpus_env(base, embedding_cache, request, "web-uploads"))


@pytest.fixture(scope="module")
def served(web_services: Services) -> Iterator[tuple[str, Path]]:
    """(URL, gradio's upload folder) of this module's app."""
    yield from serve(web_services)


def ledger(size: int, unique: int = 48, seed: int = 7) -> str:
    """About ``size`` characters of an Italian warehouse ledger: ``unique`` paragraphs repeated.

    The repetition keeps the embedding work small (identical passages are embedded once) while the
    rest of the sync (reading, chunking, stemming, writing some 1,300 passages) stays that of a large file.
    """
    rng = random.Random(seed)
    paragraphs = [
        " ".join(
            f"Il giorno {rng.randint(1, 28)} del mese {rng.randint(1, 12)} il magazzino di {rng.choice(PLACES)} "
            f"{rng.choice(VERBS)} {rng.randint(2, 900)} {rng.choice(GOODS)} per la voce {i}-{j}."
            for j in range(6)
        )
        for i in range(unique)
    ]
    text, parts = 0, []
    while text < size:
        for paragraph in paragraphs:
            parts.append(paragraph)
            text += len(paragraph) + 2
    return "\n\n".join(parts)[:size]


def call(url: str, endpoint: str, data: list[Any], timeout: float = 600) -> list[Any]:
    """Call an endpoint of the app over plain HTTP (gradio's /call API); the final outputs."""
    event = httpx.post(f"{url}/gradio_api/call/{endpoint}", json={"data": data}, timeout=30).json()["event_id"]
    stream = httpx.get(f"{url}/gradio_api/call/{endpoint}/{event}", timeout=timeout).text
    events = stream.split("event: ")
    final = [e for e in events if e.startswith("complete")]
    assert final, stream[-2000:]
    return list(json.loads(final[-1].split("data:", 1)[1]))


def test_questions_are_answered_while_a_large_upload_is_indexed(served: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = served
    big = tmp_path / "registro delle merci.txt"
    big.write_text(ledger(1_200_000), encoding="utf-8")
    asker, uploader = Client(url, verbose=False), Client(url, verbose=False)
    warm = asker.predict(QUESTION, "embedded", 5, False, api_name="/ask")[-1]
    assert warm["status"] == "complete"  # the models are loaded before the race starts

    job = uploader.submit([handle_file(str(big))], "embedded", api_name="/upload")
    descriptions: list[str] = []
    deadline = time.monotonic() + 300
    while not any(d.startswith("Indexing registro") for d in descriptions):
        assert not job.done() and time.monotonic() < deadline, ("the worker never started indexing", descriptions)
        descriptions += [unit.desc or "" for unit in job.status().progress_data or []]
        time.sleep(0.2)

    answer = asker.predict(QUESTION, "embedded", 5, False, api_name="/ask")[-1]
    upload_running = not job.done()
    assert answer["status"] == "complete" and "Lightcap" in answer["text"]
    assert upload_running, "the answer should arrive while the upload is still being indexed"

    notice, _, table, _, _, status = job.result(timeout=900)
    assert "Added <code>registro delle merci.txt</code>" in notice, notice
    assert "registro delle merci.txt" in [row[1] for row in table["data"]]
    assert "6 documents" in status


def test_gradio_temporary_copy_of_an_upload_is_deleted(served: tuple[str, Path], tmp_path: Path) -> None:
    url, cache = served
    name = "nota del porto.txt"
    content = "Il faro di Punta Sottile fu acceso per la prima volta nel 1862 dal guardiano Ettore Zuliani.\n"
    uploaded = httpx.post(
        f"{url}/gradio_api/upload", files=[("files", (name, content.encode(), "text/plain"))], timeout=30
    ).json()
    temp = Path(uploaded[0])
    assert temp.is_file() and cache.resolve() in temp.resolve().parents
    route = f"{url}/gradio_api/file={temp}"
    assert httpx.get(route, timeout=10).status_code == 200, "gradio serves its copy until the upload is handled"

    file_data = {"path": str(temp), "orig_name": name, "meta": {"_type": "gradio.FileData"}}
    notice = call(url, "upload", [[file_data], "embedded"])[0]
    assert f"Added <code>{name}</code>" in notice, notice

    assert not temp.exists() and not temp.parent.exists(), "gradio's copy of the upload is deleted"
    assert httpx.get(route, timeout=10).status_code in (403, 404)
    assert cache.is_dir(), "only the upload's own folder went"

    notice = call(url, "remove", [name, "embedded"])[0]
    assert "deleted the uploaded file" in notice
    assert not list(cache.rglob(name)), "no copy of the removed upload is left for gradio to serve"


def test_a_question_over_the_limit_is_refused_with_one_line(served: tuple[str, Path], web_services: Services) -> None:
    url, _ = served
    limit = web_services.settings.answer.max_question_chars
    session = Client(url, verbose=False)
    conversation, _, _, answer = session.predict("perché " * (limit // 7 + 1), "embedded", 5, False, api_name="/ask")

    assert answer["status"] == "failed" and answer["code"] == "bad_input"
    assert f"the limit is {limit:,}" in answer["error"] and "\n" not in answer["error"]
    assert 'role="alert" data-code="bad_input"' in conversation and "Traceback" not in conversation
    assert len(conversation) < 5000, "the refused question is not echoed back whole"

    _, _, _, answer = session.predict(QUESTION, "embedded", 5, False, api_name="/ask")
    assert answer["status"] == "complete", "the session keeps answering"
