"""The question set: one JSON object a line, checked line by line with a one-line reason."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from assistant.errors import QuestionSetError


class Question(BaseModel):
    """One line of a question set."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(min_length=1, description="Unique id of the question.")
    question: str = Field(min_length=1, description="The question as a user asks it.")
    lang: str = Field(min_length=2, description="ISO 639-1 code of the question's language.")
    answerable: bool = Field(description="Whether the documents contain the answer.")
    answer: str | None = Field(
        default=None, description="A reference answer, for people reading the report (optional)."
    )
    facts: list[list[str]] = Field(description="Groups of alternatives; a correct answer states one of each group.")
    sources: list[str] = Field(description="Document ids (paths relative to the corpus root) holding the answer.")

    @model_validator(mode="after")
    def _consistent(self) -> Question:
        if any(not group for group in self.facts):
            raise ValueError("a facts group has no alternative")
        if any(not alternative.strip() for group in self.facts for alternative in group):
            raise ValueError("a facts alternative is empty")
        if self.answerable and not self.facts:
            raise ValueError("an answerable question needs at least one facts group")
        if self.answerable and not self.sources:
            raise ValueError("an answerable question needs at least one source")
        if not self.answerable and self.sources:
            raise ValueError("an unanswerable question cannot have sources")
        return self


def load_questions(path: Path | str) -> list[Question]:
    """Read a JSON Lines question set (blank lines are skipped).

    Raises :class:`QuestionSetError` with ``path:line: reason`` for the first bad line: invalid
    JSON or UTF-8, a missing, unknown or mistyped field, a duplicate id, an answerable question
    without facts or sources, an unanswerable one with sources; and for a missing or empty file.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise QuestionSetError(f"{path}: cannot read: {exc.strerror or exc}") from None
    questions: list[Question] = []
    first_seen: dict[str, int] = {}
    for number, line in enumerate(raw.removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1):
        if not line.strip():
            continue
        question = _parse_line(line, f"{path}:{number}")
        if question.id in first_seen:
            raise QuestionSetError(
                f"{path}:{number}: duplicate id {question.id!r} (first on line {first_seen[question.id]})"
            )
        first_seen[question.id] = number
        questions.append(question)
    if not questions:
        raise QuestionSetError(f"{path}: no questions")
    return questions


def _parse_line(line: bytes, where: str) -> Question:
    try:
        data = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise QuestionSetError(f"{where}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise QuestionSetError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(data, dict):
        raise QuestionSetError(f"{where}: expected a JSON object, got {type(data).__name__}")
    try:
        return Question.model_validate(data)
    except ValidationError as exc:
        raise QuestionSetError(f"{where}: {_validation_reason(exc)}") from None


def _validation_reason(error: ValidationError) -> str:
    """The first problem of a validation error, in one short phrase."""
    problems = error.errors()
    first = problems[0]
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]).lstrip(".")
    if first["type"] == "missing":
        reason = f"missing field {field!r}"
    elif first["type"] == "extra_forbidden":
        reason = f"unknown field {field!r}"
    else:
        message = first["msg"].removeprefix("Value error, ")
        reason = f"field {field!r}: {message[:1].lower()}{message[1:]}" if field else message
    more = len(problems) - 1
    return reason + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")
