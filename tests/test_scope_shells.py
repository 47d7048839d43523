"""Scoped questions through the shells: ``assistant search/ask --in/--doc/--lang`` and the REST/OpenAI API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import suite_chroma_env
from scoped_corpus import LANGUAGES, scoped_services
from test_api_live import live
from typer.testing import CliRunner

from assistant.api.app import build_api
from assistant.cli.app import Exit, app
from assistant.models import Answer, SearchResult
from assistant.services import Services

pytestmark = pytest.mark.slow
runner = CliRunner()
COFFEE = "Quanto costa il caffè al chilogrammo?"


@pytest.fixture(scope="module")
def chroma_env(request: pytest.FixtureRequest) -> dict[str, str]:
    return suite_chroma_env(request, "scope-shells")


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory, embedding_cache: Path, chroma_env: dict[str, str]) -> Services:
    return scoped_services(tmp_path_factory.mktemp("scope-shells"), embedding_cache, chroma_env)


@pytest.fixture
def cli(services: Services, chroma_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The CLI over the scoped index (its data directory and, in the server run, its collection)."""
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(services.settings.data_dir))
    for key, value in chroma_env.items():
        monkeypatch.setenv(key, value)
    return runner


def test_search_options_scope_every_hit(cli: CliRunner) -> None:
    cases = [
        (["--in", "contracts/**"], {d for d in LANGUAGES if d.startswith("contracts/")}),
        (["--in", "recipes", "--in", "sky/**"], {"recipes/risotto.txt", "recipes/tarte-tatin.txt", "sky/moon.txt"}),
        (["--doc", "sky/moon.txt", "--doc", "recipes/risotto.txt"], {"sky/moon.txt", "recipes/risotto.txt"}),
        (["--in", "contracts/**", "--lang", "it"], {"contracts/fornitura-caffe.md"}),
    ]
    for options, allowed in cases:
        result = cli.invoke(app, ["search", "Who is OpenAI's COO?", "--json", "-k", "4", *options])
        assert result.exit_code == 0, result.output
        hits = SearchResult.model_validate_json(result.stdout).hits
        assert hits and {hit.doc_id for hit in hits} <= allowed, options
    french = cli.invoke(app, ["search", "Combien de pommes?", "--json", "--lang", "fr", "-k", "10"])
    languages = {hit.doc_id: hit.language for hit in SearchResult.model_validate_json(french.stdout).hits}
    assert "recipes/tarte-tatin.txt" in languages
    assert all(LANGUAGES.get(doc_id, "fr") == "fr" for doc_id in languages)


def test_ask_options_scope_every_citation(cli: CliRunner) -> None:
    result = cli.invoke(
        app, ["ask", COFFEE, "--json", "--mode", "extractive", "--in", "contracts"]
    )
    assert result.exit_code == 0, result.output
    answer = Answer.model_validate_json(result.stdout)
    assert answer.sources and {s.doc_id for s in answer.sources} == {"contracts/fornitura-caffe.md"}
    elsewhere = cli.invoke(
        app, ["ask", COFFEE, "--json", "--mode", "extractive", "--in", "sky/**"]
    )
    assert elsewhere.exit_code == 0, elsewhere.output
    assert {s.doc_id for s in Answer.model_validate_json(elsewhere.stdout).sources} <= {"sky/moon.txt"}


def test_a_scope_with_no_document_or_a_bad_language_is_one_line_and_exit_2(cli: CliRunner) -> None:
    cases = [
        (["search", "Sora", "--in", "letters/**"], "no indexed document is in the scope --in 'letters/**'"),
        (["search", "Sora", "--doc", "nope.txt"], "no indexed document is in the scope --doc 'nope.txt'"),
        (["ask", "Sora?", "--in", "contracts/**", "--lang", "fr"], "no indexed document is in the scope"),
        (["search", "Sora", "--lang", "de"], "unknown --lang value 'de' (use it, fr, en)"),
        (["ask", "Sora?", "--in", " "], "--in needs a glob"),
    ]
    for args, message in cases:
        result = cli.invoke(app, args)
        assert result.exit_code == Exit.USAGE, (args, result.output)
        assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
        assert "Traceback" not in result.output and result.stdout == ""


@pytest.fixture(scope="module")
def http(services: Services) -> Iterator[httpx.Client]:
    with live(build_api(services)) as base, httpx.Client(base_url=base, timeout=180) as client:
        yield client


def test_the_api_takes_the_same_scope(http: httpx.Client) -> None:
    found = http.get("/v1/search", params=[("q", "Who is OpenAI's COO?"), ("in", "recipes/**"), ("k", "3")])
    assert found.status_code == 200, found.text
    assert {h["doc_id"] for h in found.json()["hits"]} <= {"recipes/risotto.txt", "recipes/tarte-tatin.txt"}
    assert len(found.json()["hits"]) == 3
    asked = http.post(
        "/v1/ask",
        json={"question": COFFEE, "mode": "extractive", "scope": {"globs": ["contracts/**"]}},
    )
    assert asked.status_code == 200, asked.text
    assert {s["doc_id"] for s in asked.json()["sources"]} == {"contracts/fornitura-caffe.md"}
    chat = http.post(
        "/v1/chat/completions",
        json={
            "model": "assistant-extractive",
            "messages": [{"role": "user", "content": "Who is OpenAI's COO?"}],
            "scope": {"doc_ids": ["001_bfcfb1f07bcdb431.txt"]},
        },
    )
    assert chat.status_code == 200, chat.text
    assert {s["doc_id"] for s in chat.json()["sources"]} == {"001_bfcfb1f07bcdb431.txt"}
    empty = http.get("/v1/search", params={"q": "Sora", "in": "letters/**"})
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "empty_scope"
    bad = http.post("/v1/ask", json={"question": "Sora?", "scope": {"languages": ["de"]}})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "empty_scope"
