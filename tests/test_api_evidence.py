"""REST for the evidence viewer, PDF pages and kept conversations, against a real uvicorn server.

The index holds every kind of located file (a PDF among them, tests/locator_files.py); the embedded
backend answers (extractive), Ollama is on a closed port.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from conftest import suite_chroma_env
from locator_files import build_located_services
from test_api_live import live

from assistant.api.app import build_api
from assistant.conversations.store import LOCAL_USER
from assistant.models import Answer, EvidenceView
from assistant.services import Services

pytestmark = pytest.mark.server

QUESTION = "How much is the yearly membership fee of the Lumen cooperative?"


@pytest.fixture(scope="module")
def located(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Services:
    services, _ = build_located_services(tmp_path_factory.mktemp("api-evidence"), suite_chroma_env(request, "apiev"))
    return services


@pytest.fixture(scope="module")
def http(located: Services) -> Iterator[httpx.Client]:
    with live(build_api(located)) as base, httpx.Client(base_url=base, timeout=180) as client:
        yield client


def test_a_cited_quote_is_looked_up_again_and_its_pdf_page_drawn(http: httpx.Client) -> None:
    answer = Answer.model_validate(http.post("/v1/ask", json={"question": QUESTION}).json())
    source = next(s for s in answer.sources if "forty-two" in s.quote)
    params = {"doc_id": source.doc_id, "start": source.start, "end": source.end, "quote": source.quote}
    shown = http.get("/v1/evidence", params={**params, "sha256": source.sha256})
    assert shown.status_code == 200, shown.text
    view = EvidenceView.model_validate(shown.json())
    assert view.status == "unchanged" and view.page == 2 and view.boxes and view.locator == source.locator
    assert source.quote in view.excerpt and "path" not in shown.json()
    png = http.get("/v1/pages", params={"doc_id": source.doc_id, "page": 2, "width": 400})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    moved = http.get("/v1/evidence", params={**params, "start": 0, "end": len(source.quote)})
    assert moved.json()["status"] == "moved", "offsets that no longer match: the quote is found again"


def test_bad_evidence_and_page_requests_are_one_clear_error(http: httpx.Client) -> None:
    unknown = http.get("/v1/evidence", params={"doc_id": "../etc/passwd", "start": 0, "end": 4, "quote": "root"})
    assert unknown.status_code == 200 and unknown.json()["status"] == "unknown", "no file outside the index is read"
    backwards = http.get("/v1/evidence", params={"doc_id": "guide.md", "start": 9, "end": 2, "quote": "x"})
    assert backwards.status_code == 400 and backwards.json()["error"]["code"] == "bad_input"
    not_pdf = http.get("/v1/pages", params={"doc_id": "guide.md", "page": 1})
    assert not_pdf.status_code == 400 and "no indexed PDF" in not_pdf.json()["error"]["message"]
    missing = http.get("/v1/evidence", params={"doc_id": "guide.md"})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "bad_input"


def test_kept_conversations_are_listed_and_read_without_server_paths(http: httpx.Client, located: Services) -> None:
    assert http.get("/v1/conversations").json() == []
    answer = located.ask(QUESTION)
    kept = located.conversations.create(LOCAL_USER)
    located.conversations.append(kept.id, QUESTION, answer, LOCAL_USER, {"k": 5})
    other = located.conversations.create("alice")  # another user's conversations are not listed
    located.conversations.append(other.id, QUESTION, answer, "alice")
    listed = http.get("/v1/conversations").json()
    assert [(c["id"], c["turns"], c["title"]) for c in listed] == [(kept.id, 1, QUESTION)]
    body = http.get(f"/v1/conversations/{kept.id}").json()
    turn = body["turns"][0]
    assert turn["question"] == QUESTION and turn["options"] == {"k": 5}
    assert turn["answer"]["text"] == answer.text and turn["answer"]["sources"]
    assert all("path" not in s for s in turn["answer"]["sources"]), "no server paths"
    assert [s["quote"] for s in turn["answer"]["sources"]] == [s.quote for s in answer.sources]
    for unknown in (other.id, "nope"):
        response = http.get(f"/v1/conversations/{unknown}")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
