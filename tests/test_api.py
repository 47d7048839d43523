"""The REST API against a real uvicorn server on a free loopback port, over a real index of the corpus.

One server (and one index) for the module; the embedded backend answers (extractive), Ollama is on a
closed port. Another server over the same services checks the token.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from test_api_live import QUESTIONS, corpus_services, live

from assistant.api.app import build_api
from assistant.config import APISettings
from assistant.models import Answer
from assistant.services import Services, build_services

pytestmark = pytest.mark.server

NOTE = (
    "Il gatto Pippo vive a Trieste dal 2019 e ogni mattina beve il latte nella cucina della biblioteca civica. "
    "La bibliotecaria Marta Zanetti ha raccontato che Pippo dorme sempre sopra lo scaffale dei dizionari.\n"
)


@pytest.fixture(scope="module")
def api_services(
    tmp_path_factory: pytest.TempPathFactory, embedding_cache: Path, request: pytest.FixtureRequest
) -> Services:
    return corpus_services(tmp_path_factory.mktemp("api"), embedding_cache, request, "api-module")


@pytest.fixture(scope="module")
def url(api_services: Services) -> Iterator[str]:
    with live(build_api(api_services)) as base:
        yield base


@pytest.fixture(scope="module")
def http(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=180) as client:
        yield client


def events(response: httpx.Response) -> list[tuple[str, dict]]:
    """(event, data) of a server-sent event stream."""
    found = []
    for block in response.text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


# -- ask ------------------------------------------------------------------------------------------


def test_ask_returns_the_answer_model_of_ask_json(http: httpx.Client, api_services: Services) -> None:
    question, expected = QUESTIONS[0]
    response = http.post("/v1/ask", json={"question": question})
    assert response.status_code == 200
    answer = Answer.model_validate(response.json())
    assert expected in answer.text and not answer.refused and answer.mode == "extractive"
    assert answer.sources and all("path" not in s for s in response.json()["sources"]), "no server paths"
    for source in answer.sources:  # the offsets point into the document's text, as GET /v1/documents/{id} gives it
        text = http.get(f"/v1/documents/{source.doc_id}").json()["text"]
        assert text[source.start : source.end] == source.quote
    direct = api_services.ask(question)
    assert (answer.text, [s.quote for s in answer.sources]) == (direct.text, [s.quote for s in direct.sources])


def test_ask_streams_status_tokens_then_the_verified_answer(http: httpx.Client) -> None:
    question, expected = QUESTIONS[1]
    response = http.post("/v1/ask", json={"question": question, "stream": True, "k": 4})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    found = events(response)
    kinds = [kind for kind, _ in found]
    assert kinds[0] == "status" and kinds[-1] == "answer" and kinds.count("answer") == 1
    assert "token" in kinds and set(kinds) <= {"status", "token", "reset", "answer"}
    streamed = "".join(data["text"] for kind, data in found if kind == "token")
    final = found[-1][1]
    assert expected in final["text"] and final["sources"]
    assert " ".join(streamed.split()) == " ".join(final["text"].split())


def test_a_follow_up_uses_the_history(http: httpx.Client) -> None:
    first = http.post("/v1/ask", json={"question": QUESTIONS[0][0]}).json()
    follow = http.post(
        "/v1/ask", json={"question": "E cosa ha annunciato Sam Altman?", "history": [[QUESTIONS[0][0], first["text"]]]}
    ).json()
    assert follow["standalone_question"] and follow["standalone_question"] != "E cosa ha annunciato Sam Altman?"


def test_a_question_the_documents_do_not_answer_is_refused(http: httpx.Client) -> None:
    answer = http.post("/v1/ask", json={"question": "What is the capital of Australia?"}).json()
    assert answer["refused"] and answer["sources"] == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"question": "   "}, 400, "bad_input"),
        ({"question": "x" * 5000}, 400, "bad_input"),
        ({"question": "Chi è Lightcap?", "k": 0}, 400, "bad_input"),
        ({"question": "Chi è Lightcap?", "mode": "poetic"}, 400, "bad_input"),
        ({"question": "Chi è Lightcap?", "in": "docs/"}, 400, "bad_input"),
        ({"question": "Chi è Lightcap?", "backend": "ollama"}, 503, "model_unreachable"),
        ({"question": "Chi è Lightcap?", "backend": "ollama", "stream": True}, 503, "model_unreachable"),
    ],
)
def test_bad_requests_get_a_json_error_with_a_stable_code(
    http: httpx.Client, body: dict, status: int, code: str
) -> None:
    response = http.post("/v1/ask", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and "\n" not in error["message"]
    assert "Traceback" not in response.text


def test_scopes_are_refused_as_not_supported_yet(http: httpx.Client) -> None:
    response = http.post("/v1/ask", json={"question": "Chi è Lightcap?", "lang": "it"})
    assert response.status_code == 400 and response.json()["error"]["message"] == "`lang` is not supported yet"


def test_broken_json_is_a_bad_request(http: httpx.Client) -> None:
    response = http.post("/v1/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_input"


# -- search, documents, health ------------------------------------------------------------------


def test_search_returns_ranked_passages(http: httpx.Client) -> None:
    result = http.get("/v1/search", params={"q": "Who is OpenAI's COO?", "k": 3}).json()
    assert len(result["hits"]) == 3 and [h["rank"] for h in result["hits"]] == [1, 2, 3]
    assert any("Lightcap" in hit["text"] for hit in result["hits"])
    assert http.get("/v1/search", params={"q": "x", "k": 1000}).status_code == 400
    assert http.get("/v1/search", params={"q": "   "}).json()["error"]["code"] == "bad_input"


def test_documents_are_listed_and_read_by_id_only(http: httpx.Client, api_services: Services) -> None:
    listed = http.get("/v1/documents").json()
    assert len(listed) == 5 and all("path" not in d for d in listed)
    doc = http.get(f"/v1/documents/{listed[0]['doc_id']}").json()
    assert doc["doc_id"] == listed[0]["doc_id"] and len(doc["text"]) == doc["n_chars"] and not doc["changed"]
    secret = api_services.settings.data_dir / "catalog.sqlite3"
    for bad in ["nope.txt", "../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", str(secret)]:
        response = http.get(f"/v1/documents/{bad}")
        assert response.status_code == 404 and response.json()["error"]["code"] in ("unknown_document", "not_found")


def test_health_reports_the_doctor_checks(http: httpx.Client) -> None:
    health = http.get("/v1/health").json()
    names = {check["name"]: check for check in health["checks"]}
    assert {"settings", "ollama", "embedded model", "index"} <= set(names)
    assert names["ollama"]["status"] == "warn" and names["index"]["status"] == "ok"
    assert health["status"] == "warn"


def test_the_openapi_document_is_served_without_cdn_pages(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    assert {"/v1/ask", "/v1/search", "/v1/documents", "/v1/chat/completions", "/v1/health"} <= set(spec["paths"])
    assert http.get("/docs").status_code == 404 and http.get("/redoc").status_code == 404


def test_unknown_routes_are_json_errors(http: httpx.Client) -> None:
    response = http.get("/v1/nothing")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


# -- upload and remove, with questions answered meanwhile ----------------------------------------


def test_upload_then_remove_while_twenty_questions_are_answered(http: httpx.Client, tmp_path: Path) -> None:
    note = tmp_path / "pippo.txt"
    note.write_text(NOTE, encoding="utf-8")
    asked = [QUESTIONS[n % len(QUESTIONS)] for n in range(20)]

    def ask(question: str) -> httpx.Response:
        return http.post("/v1/ask", json={"question": question})

    with ThreadPoolExecutor(max_workers=21) as pool:
        upload = pool.submit(lambda: http.post("/v1/documents", files=[("files", ("pippo.txt", NOTE.encode()))]))
        answers = list(pool.map(ask, [q for q, _ in asked]))
        uploaded = upload.result()
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["saved"] == ["pippo.txt"] and uploaded.json()["documents"] == 6
    for (question, expected), response in zip(asked, answers, strict=True):
        assert response.status_code == 200, response.text
        assert response.json()["question"] == question and expected in response.json()["text"]
    answer = http.post("/v1/ask", json={"question": "Dove dorme il gatto Pippo?"}).json()
    assert "Pippo" in answer["text"] and answer["sources"][0]["doc_id"] == "pippo.txt"
    assert http.delete("/v1/documents/pippo.txt").json()["doc_id"] == "pippo.txt"
    assert http.delete("/v1/documents/pippo.txt").status_code == 404
    assert len(http.get("/v1/documents").json()) == 5


def test_uploads_are_checked_like_the_ui(http: httpx.Client, api_services: Services) -> None:
    wrong_type = http.post("/v1/documents", files=[("files", ("run.sh", b"echo hi\n"))])
    assert wrong_type.status_code == 400 and "only" in wrong_type.json()["error"]["message"]
    limit = api_services.settings.ui.max_upload_mb
    big = b"a " * int(limit * 1024 * 1024 / 2 + 10)
    too_big = http.post("/v1/documents", files=[("files", ("big.txt", big))])
    assert too_big.status_code == 400 and f"larger than {limit:g} MB" in too_big.json()["error"]["message"]
    sneaky = http.post("/v1/documents", files=[("files", ("../../escape.txt", NOTE.encode()))])
    assert sneaky.json()["saved"] == ["escape.txt"]
    assert not (api_services.settings.data_dir.parent / "escape.txt").exists()
    assert http.delete("/v1/documents/escape.txt").status_code == 200


# -- token ---------------------------------------------------------------------------------------


def test_with_a_token_every_endpoint_but_health_needs_it(api_services: Services) -> None:
    settings = api_services.settings.model_copy(update={"api": APISettings(token="s3cret")})
    guarded = build_services(settings, embedder=api_services.embedder)
    with live(build_api(guarded)) as base, httpx.Client(base_url=base, timeout=120) as client:
        for method, path in [("GET", "/v1/documents"), ("GET", "/v1/search?q=Sora"), ("POST", "/v1/ask"),
                             ("GET", "/openapi.json"), ("GET", "/v1/models"), ("POST", "/v1/chat/completions"),
                             ("GET", "/v1/conversations"), ("GET", "/v1/conversations/x"),
                             ("GET", "/v1/evidence?doc_id=x&start=0&end=1&quote=x"),
                             ("GET", "/v1/pages?doc_id=x&page=1")]:
            response = client.request(method, path, json={})
            assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized", path
        wrong = client.get("/v1/documents", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = client.get("/v1/documents", headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200 and len(right.json()) == 5
        anonymous = client.get("/v1/health").json()
        assert anonymous["checks"] and all(check["detail"] == "" for check in anonymous["checks"])
        assert client.get("/v1/health", headers={"Authorization": "Bearer s3cret"}).json()["checks"][0]["detail"]
