"""The conversation kept per browser session (a ``gr.State``): its turns, as they stream in and once final."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from assistant.models import Answer

if TYPE_CHECKING:
    from assistant.answer.compose import AnswerEvent

MAX_TURNS = 50
"""Turns kept per session (older ones scroll away), so memory stays bounded."""
QUESTION_PREVIEW_CHARS = 300
"""Characters of a refused (over-long) question kept in the conversation."""


@dataclass
class Turn:
    """One question and its answer, as it streams in and once it is final."""

    question: str
    text: str = ""
    note: str = ""
    answer: Answer | None = None
    error: str | None = None
    error_code: str | None = None
    state: Literal["pending", "done", "failed", "stopped"] = "pending"


def history_pairs(turns: Sequence[Turn]) -> list[tuple[str, str]]:
    """The finished turns as (question, answer text) pairs, for follow-up rewriting."""
    return [(t.question, t.answer.text) for t in turns if t.state == "done" and t.answer is not None]


def apply_event(turn: Turn, event: AnswerEvent) -> None:
    """Fold one streamed event into the turn."""
    if event.kind == "status":
        turn.note = event.text
    elif event.kind == "token":
        turn.text += event.text
    elif event.kind == "reset":
        turn.text = ""
    elif event.kind == "answer" and event.answer is not None:
        turn.answer = event.answer
        turn.state = "done"


def settle(turns: Sequence[Turn]) -> list[Turn]:
    """The turns as a new list, an answer left pending (interrupted by the stop button) marked as stopped."""
    for turn in turns:
        if turn.state == "pending":
            turn.state = "stopped"
    return list(turns)


def next_turns(turns: Sequence[Turn], question: str) -> list[Turn]:
    """The conversation with a new pending turn for ``question``, the oldest turns dropped past :data:`MAX_TURNS`."""
    return [*settle(turns)[-(MAX_TURNS - 1) :], Turn(question=question)]


def question_preview(question: str) -> str:
    """The question as the conversation keeps it when it was refused (long ones are cut)."""
    if len(question) <= QUESTION_PREVIEW_CHARS:
        return question
    return question[:QUESTION_PREVIEW_CHARS] + f"… ({len(question):,} characters)"


def turn_json(turn: Turn) -> dict[str, Any]:
    """The final answer as JSON for API clients (a failed answer carries its error, its code and partial text).

    Server paths are left out: they are nobody's business, and gradio_client takes a dict with a
    ``path`` key for a file to download.
    """
    if turn.answer is not None:
        return turn.answer.model_dump(mode="json", exclude={"sources": {"__all__": {"path"}}})
    return {
        "question": turn.question,
        "status": "failed",
        "error": turn.error,
        "code": turn.error_code,
        "text": turn.text,
        "sources": [],
    }
