"""The MCP server through the SDK's own client: ``stdio_client`` (a real ``python -m assistant.api.serve mcp``
process) and ``streamable_http_client`` (the streamable HTTP app on a live uvicorn server).

Lists the tools, calls each one and checks that the citations' quotes are the documents' text.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from test_api_live import QUESTIONS, corpus_env, corpus_services, live

from assistant.api.mcp_server import build_mcp
from assistant.api.security import TokenMiddleware
from assistant.services import Services

pytestmark = pytest.mark.server

READ_TOOLS = {"search_documents", "ask", "get_passage", "list_documents"}
NOTE = "Il gatto Pippo vive a Trieste dal 2019. La bibliotecaria Marta Zanetti dice che Pippo dorme sui dizionari.\n"
Session = Callable[[ClientSession], Awaitable[None]]


@pytest.fixture(scope="module")
def indexed(
    tmp_path_factory: pytest.TempPathFactory, embedding_cache: Path, request: pytest.FixtureRequest
) -> tuple[Services, dict[str, str]]:
    """Services over the corpus, and the environment that points another process at the same index."""
    base = tmp_path_factory.mktemp("mcp")
    services = corpus_services(base, embedding_cache, request, "mcp-module")
    return services, corpus_env(base, embedding_cache, request, "mcp-module")


def structured(result: Any) -> Any:
    """The structured result of a tool call that did not fail (lists come wrapped as ``{"result": [...]}``)."""
    assert not result.is_error, result.content
    content = result.structured_content
    return content["result"] if isinstance(content, dict) and set(content) == {"result"} else content


async def check_read_tools(session: ClientSession) -> None:
    """List the tools and call each read-only one, checking the citations against get_passage."""
    await session.initialize()
    names = {tool.name for tool in (await session.list_tools()).tools}
    assert names >= READ_TOOLS
    documents = structured(await session.call_tool("list_documents", {}))
    assert len(documents) == 5 and all("path" not in d for d in documents)
    hits = structured(await session.call_tool("search_documents", {"query": "Who is OpenAI's COO?", "k": 3}))["hits"]
    assert len(hits) == 3 and any("Lightcap" in hit["text"] for hit in hits)
    question, expected = QUESTIONS[0]
    answer = structured(await session.call_tool("ask", {"question": question, "mode": "extractive"}))
    assert expected in answer["text"] and not answer["refused"] and answer["citations"]
    for citation in answer["citations"]:
        assert f"[{citation['number']}]" in answer["text"]
        args = {"doc_id": citation["doc_id"], "start": citation["start"], "end": citation["end"]}
        passage = structured(await session.call_tool("get_passage", args))
        assert passage["quote"] == citation["quote"] and citation["quote"] in passage["context"]
        assert passage["context_start"] <= citation["start"] and len(passage["context"]) > len(citation["quote"])
    refused = structured(await session.call_tool("ask", {"question": "What is the capital of Australia?"}))
    assert refused["refused"] and refused["citations"] == []
    unknown = await session.call_tool("get_passage", {"doc_id": "../../etc/passwd", "start": 0, "end": 5})
    assert unknown.is_error and "unknown_document: " in unknown.content[0].text  # type: ignore[union-attr]
    outside = await session.call_tool("get_passage", {"doc_id": documents[0]["doc_id"], "start": 0, "end": 10**9})
    assert outside.is_error and "outside the text" in outside.content[0].text  # type: ignore[union-attr]
    empty = await session.call_tool("ask", {"question": "  "})
    assert empty.is_error and "bad_input: " in empty.content[0].text  # type: ignore[union-attr]


def over_stdio(env: dict[str, str], check: Session) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "assistant.api.serve", "mcp"], env={**os.environ, **env}
    )

    async def main() -> None:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await check(session)

    anyio.run(main)


def over_http(url: str, check: Session, headers: dict[str, str] | None = None) -> None:
    import httpx2

    async def main() -> None:
        async with (
            httpx2.AsyncClient(headers=headers or {}, timeout=180) as client,
            streamable_http_client(f"{url}/mcp", http_client=client) as (read, write),
            ClientSession(read, write) as session,
        ):
            await check(session)

    anyio.run(main)


def test_stdio_lists_and_calls_every_read_tool(indexed: tuple[Services, dict[str, str]]) -> None:
    async def check(session: ClientSession) -> None:
        await check_read_tools(session)
        names = {tool.name for tool in (await session.list_tools()).tools}
        assert names == READ_TOOLS, "read-only by default"

    over_stdio(indexed[1], check)


def test_streamable_http_calls_the_tools_and_the_write_tools_when_enabled(
    indexed: tuple[Services, dict[str, str]],
) -> None:
    services = indexed[0]

    async def check(session: ClientSession) -> None:
        await check_read_tools(session)
        assert {"add_document", "remove_document"} <= {t.name for t in (await session.list_tools()).tools}
        refused = await session.call_tool("add_document", {"name": "run.sh", "content": "echo hi"})
        assert refused.is_error and "only" in refused.content[0].text  # type: ignore[union-attr]
        added = structured(await session.call_tool("add_document", {"name": "pippo.txt", "content": NOTE}))
        assert added["saved"] == ["pippo.txt"] and added["documents"] == 6
        answer = structured(await session.call_tool("ask", {"question": "In quale città vive il gatto Pippo?"}))
        assert "Trieste" in answer["text"] and answer["citations"][0]["doc_id"] == "pippo.txt"
        removed = structured(await session.call_tool("remove_document", {"doc_id": "pippo.txt"}))
        assert removed["removed"]["doc_id"] == "pippo.txt" and len(services.documents()) == 5

    app = build_mcp(services, allow_writes=True).streamable_http_app()
    with live(app) as url:
        over_http(url, check)


def test_the_mcp_http_server_needs_the_token_when_one_is_set(indexed: tuple[Services, dict[str, str]]) -> None:
    async def check(session: ClientSession) -> None:
        await session.initialize()
        assert {tool.name for tool in (await session.list_tools()).tools} == READ_TOOLS

    app = TokenMiddleware(build_mcp(indexed[0]).streamable_http_app(), token="s3cret")
    with live(app) as url:
        response = httpx.post(f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
        over_http(url, check, headers={"Authorization": "Bearer s3cret"})
