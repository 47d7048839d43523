"""The OpenAI-compatible endpoint through the real ``openai`` package, against a live uvicorn server.

Also runs the README's Python example against the server.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from test_api_live import QUESTIONS, corpus_services, live

from assistant.api.app import build_api
from assistant.services import Services

pytestmark = pytest.mark.server

README_URL = "http://127.0.0.1:8765"
REPO = Path(__file__).resolve().parent.parent


def readme_python_example() -> str:
    """The README's Python example (section "API"): the first ```python block that uses the OpenAI client."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    examples = [block for block in blocks if "from openai import OpenAI" in block]
    assert examples, "the README has no Python example with the OpenAI client"
    return examples[0]



@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, embedding_cache: Path, request: pytest.FixtureRequest
) -> Services:
    return corpus_services(tmp_path_factory.mktemp("openai"), embedding_cache, request, "openai-module")


@pytest.fixture(scope="module")
def url(services: Services) -> Iterator[str]:
    with live(build_api(services)) as base:
        yield base


@pytest.fixture(scope="module")
def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=180)


def test_models_are_listed(client: openai.OpenAI) -> None:
    assert {m.id for m in client.models.list()} == {"assistant", "assistant-extractive", "assistant-generative"}


def test_a_completion_is_the_cited_answer_with_footnotes(client: openai.OpenAI, services: Services) -> None:
    question, expected = QUESTIONS[0]
    completion = client.chat.completions.create(model="assistant", messages=[{"role": "user", "content": question}])
    content = completion.choices[0].message.content or ""
    assert completion.object == "chat.completion" and completion.choices[0].finish_reason == "stop"
    sources = (completion.model_extra or {})["sources"]
    answer = services.ask(question)
    assert content.startswith(answer.text) and expected in content and "[1]" in content
    first = sources[0]
    title = " ".join(first["title"].split())
    where = f'{first["locator"]["label"]}, ' if first.get("locator") else ""
    assert where, "a text file's quote has a line locator"
    assert f'[^1]: {title} — {first["doc_id"]}, {where}chars {first["start"]}-{first["end"]}: "' in content
    assert [s["quote"] for s in sources] == [s.quote for s in answer.sources] and "path" not in first


def test_a_streamed_completion_ends_with_the_sources(client: openai.OpenAI) -> None:
    question, expected = QUESTIONS[2]
    stream = client.chat.completions.create(
        model="assistant-extractive", messages=[{"role": "user", "content": question}], stream=True
    )
    chunks = list(stream)
    assert len(chunks) >= 4 and all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert expected in content and "[^1]: " in content
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    sources = (last.model_extra or {})["sources"]
    assert sources and sources[0]["quote"] in content and (last.model_extra or {})["answer"]["refused"] is False


def test_the_stream_ends_with_done(url: str) -> None:
    body = {"model": "assistant", "stream": True, "messages": [{"role": "user", "content": QUESTIONS[1][0]}]}
    text = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=180).text
    assert text.rstrip().endswith("data: [DONE]")


def test_earlier_turns_become_the_follow_up_history(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(model="assistant", messages=[{"role": "user", "content": QUESTIONS[0][0]}])
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": QUESTIONS[0][0]},
        {"role": "assistant", "content": first.choices[0].message.content or ""},
        {"role": "user", "content": "E cosa ha annunciato Sam Altman?"},
    ]
    follow = client.chat.completions.create(model="assistant", messages=messages)  # type: ignore[arg-type]
    standalone = (follow.model_extra or {})["answer"]["standalone_question"]
    assert standalone and standalone != "E cosa ha annunciato Sam Altman?"


def test_a_refusal_has_no_sources(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="assistant", messages=[{"role": "user", "content": "What is the capital of Australia?"}], stream=True
    )
    chunks = list(completion)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content.strip() and "[^" not in content and (chunks[-1].model_extra or {})["sources"] == []


def test_errors_reach_the_client_as_api_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="unknown model"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Sora?"}])
    with pytest.raises(openai.BadRequestError, match="last message"):
        client.chat.completions.create(model="assistant", messages=[{"role": "assistant", "content": "hi"}])
    with pytest.raises(openai.InternalServerError, match="Ollama is not reachable"):  # 503
        client.chat.completions.create(model="assistant:qwen2.5:3b", messages=[{"role": "user", "content": "Sora?"}])


def test_the_readme_python_example_runs_against_a_live_server(url: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(readme_python_example().replace(README_URL, url), encoding="utf-8")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    assert "Lightcap" in run.stdout and "[1]" in run.stdout and "\n[1] 000_" in run.stdout
