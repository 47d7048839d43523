"""An OpenAI-compatible chat endpoint: the documents answer as a "model" any OpenAI client can call.

``assistant`` answers in the configured mode, ``assistant-extractive`` and ``assistant-generative``
force one, ``assistant:<ollama model>`` answers generatively with that Ollama model. The content is
the checked answer with its ``[n]`` markers, then its sources as Markdown footnotes; the structured
sources travel in the extra top-level field ``sources`` (and the whole answer in ``answer``), which
OpenAI clients ignore. Earlier user/assistant turns become the follow-up history.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from assistant.answer.locate import where
from assistant.api.problems import ErrorBody, error_body
from assistant.api.rest import services_of, started
from assistant.api.schemas import public_answer
from assistant.config import MAX_TOP_K
from assistant.errors import UsageError
from assistant.models import Scope
from assistant.services import collect

if TYPE_CHECKING:
    from assistant.answer.compose import AnswerEvent
    from assistant.models import Answer

MODELS = {"assistant": None, "assistant-extractive": "extractive", "assistant-generative": "generative"}
OLLAMA_PREFIX = "assistant:"
CHANGED = "*(checked: the streamed draft was corrected; the checked answer follows)*"

router = APIRouter(prefix="/v1", responses={s: {"model": ErrorBody} for s in (400, 401, 502, 503, 504)})


class ContentPart(BaseModel):
    """A part of a message's content (only text parts are read)."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """One message of the conversation."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    @property
    def text(self) -> str:
        """The message's text (text parts joined)."""
        if isinstance(self.content, list):
            return "".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    """``POST /v1/chat/completions`` (sampling options are accepted and ignored: the settings decide)."""

    model_config = ConfigDict(extra="allow")
    model: str = Field("assistant", description="assistant, assistant-extractive, assistant-generative, "
                       "or assistant:<ollama model>.")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    k: int | None = Field(None, ge=1, le=MAX_TOP_K, description="Extra: passages retrieved.")
    strict: bool | None = Field(None, description="Extra: drop sentences that no passage supports.")
    scope: Scope | None = Field(None, description="Extra: answer only from these documents (as /v1/ask's scope).")


def options(request: ChatRequest) -> tuple[str, dict[str, Any]]:
    """(question, keyword options of :meth:`Services.stream`) for a chat request."""
    if request.model in MODELS:
        choice: dict[str, Any] = {"mode": MODELS[request.model]}
    elif request.model.startswith(OLLAMA_PREFIX) and request.model[len(OLLAMA_PREFIX):].strip():
        choice = {"mode": "generative", "backend": "ollama", "model": request.model[len(OLLAMA_PREFIX):].strip()}
    else:
        known = ", ".join([*MODELS, OLLAMA_PREFIX + "<ollama model>"])
        raise UsageError(f"unknown model {request.model!r}: use one of {known}")
    turns = [m for m in request.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user":
        raise UsageError("the last message must be the user's question")
    history, question = [], None
    for message in turns[:-1]:
        if message.role == "user":
            question = message.text
        elif question is not None:
            history.append((question, without_footnotes(message.text)))
            question = None
    return turns[-1].text, {
        **choice, "history": history, "k": request.k, "strict": request.strict, "scope": request.scope
    }


def footnotes(answer: Answer) -> str:
    """The answer's sources as Markdown footnotes: ``[^1]: title — file, p. 3, chars a-b: "quote"``.

    The locator (page, heading path or line, as the CLI prints it) comes before the offsets when known.
    """
    lines = []
    for s in answer.sources:
        quote = " ".join(s.quote.split()).replace('"', "'")
        title, located = " ".join(s.title.split()), " ".join(where(s).split())
        lines.append(f'[^{s.number}]: {title} — {s.doc_id}, {located}: "{quote}"')
    return "\n".join(lines)


def without_footnotes(content: str) -> str:
    """An earlier answer without the sources section this endpoint appended."""
    kept = [line for line in content.splitlines() if not line.startswith("[^")]
    return "\n".join(kept).strip()


def content_of(answer: Answer) -> str:
    """The message content: the checked answer, then its footnotes."""
    notes = footnotes(answer)
    return answer.text + (f"\n\n{notes}" if notes else "")


def extras(answer: Answer) -> dict[str, Any]:
    """The fields our clients read and OpenAI clients ignore."""
    body = public_answer(answer)
    return {"sources": body["sources"], "answer": body}


@router.get("/models", summary="The documents as OpenAI models")
def models() -> dict[str, Any]:
    """The model names this endpoint answers to (``assistant:<ollama model>`` is accepted too)."""
    created = int(time.time())
    return {
        "object": "list",
        "data": [{"id": name, "object": "model", "created": created, "owned_by": "assistant"} for name in MODELS],
    }


@router.post("/chat/completions", summary="OpenAI-compatible chat completion over the documents")
def chat_completions(body: ChatRequest, request: Request) -> Any:
    """A ``chat.completion`` (or, with ``stream``, ``chat.completion.chunk`` events ending with ``[DONE]``)."""
    question, chosen = options(body)
    events = started(services_of(request).stream(question, **chosen))
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if body.stream:
        chunks = stream_chunks(events, completion_id, created, body.model)
        return StreamingResponse(chunks, media_type="text/event-stream", headers={"Cache-Control": "no-store"})
    answer = collect(events)[1]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": body.model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content_of(answer)}, "finish_reason": "stop"}
        ],
        **extras(answer),
    }


def stream_chunks(events: Iterator[AnswerEvent], completion_id: str, created: int, model: str) -> Iterator[str]:
    """The answer stream as ``chat.completion.chunk`` events; a failure ends it with an ``error`` event.

    The draft streams as it comes; when the checks changed it (or the model restarted), the checked
    answer follows a note, so the content always ends with the verified text and its footnotes.
    """

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    draft, restarted = "", False
    try:
        answer = None
        for event in events:
            if event.kind == "token" and event.text:
                draft += event.text
                yield chunk({"content": event.text})
            elif event.kind == "reset":
                restarted = True
            elif event.kind == "answer":
                answer = event.answer
        if answer is None:
            raise RuntimeError("the answer stream ended without an answer")
    except Exception as exc:
        yield f"data: {json.dumps(error_body(exc).model_dump())}\n\n"
        return
    tail = ""
    if not draft.strip():
        tail = answer.text  # nothing streamed (a refusal): the checked answer is the content
    elif restarted or " ".join(draft.split()) != " ".join(answer.text.split()):
        tail = f"\n\n{CHANGED}\n\n{answer.text}"
    notes = footnotes(answer)
    tail += f"\n\n{notes}" if notes else ""
    if tail:
        yield chunk({"content": tail})
    yield chunk({}, "stop", **extras(answer))
    yield "data: [DONE]\n\n"
