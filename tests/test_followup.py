"""Follow-up questions resolved against the conversation without a model (extractive mode)."""

from __future__ import annotations

from typing import Any

import pytest

from assistant.answer.followup import is_follow_up, resolve
from assistant.answer.kinds import question_kind

WHEN_PRESENTED = ("Quand Sora a-t-il été présenté ?", "D'après les documents :\n“… il 15 febbraio 2024…” [1]")


@pytest.mark.parametrize(
    ("question", "language", "expected"),
    [
        ("E chi lo ha criticato?", "it", True),  # opener, and a clitic pronoun
        ("Et comment OpenAI a-t-il réagi ?", "fr", True),
        ("And when did he go to Hollywood?", "en", True),
        ("What did he say?", "en", True),  # a pronoun, no name of its own
        ("Perché?", "it", True),  # short, names nothing
        ("Chi è il COO di OpenAI?", "it", False),  # "il" is an article here, and it names OpenAI
        ("Who is the CEO of Google?", "en", False),
        ("Qu'est-ce que le compte engagement citoyen (CEC) ?", "fr", False),
    ],
)
def test_follow_ups_are_told_from_standalone_questions(question: str, language: str, expected: bool) -> None:
    assert is_follow_up(question, language) is expected


def test_follow_up_keeps_its_own_question_and_borrows_the_topic() -> None:
    standalone = resolve("E chi lo ha criticato?", [WHEN_PRESENTED], "it")
    assert standalone.startswith("E chi lo ha criticato?") and "Sora" in standalone
    assert "Quand" not in standalone, "the earlier question's ask is not pasted, only what it was about"
    assert question_kind(standalone) == "person", "it still asks who, not when"


def test_a_person_pronoun_borrows_the_name_the_previous_answer_gave() -> None:
    history = [("Who is OpenAI's COO?", "According to the documents:\n“Brad Lightcap, COO di OpenAI, ha detto” [1]")]
    standalone = resolve("What did he say about the launch?", history, "en")
    assert "Lightcap" in standalone and "COO" in standalone


def test_without_names_the_previous_content_words_are_borrowed() -> None:
    standalone = resolve("Et qui peut en bénéficier ?", [("Qu'est-ce qu'un emploi franc ?", "…")], "fr")
    assert "emploi" in standalone and "franc" in standalone
    assert "est-ce" not in standalone


def test_earlier_follow_ups_are_resolved_first() -> None:
    history = [WHEN_PRESENTED, ("E chi lo ha criticato?", "Secondo i documenti: “…i critici…” [1]")]
    assert "Sora" in resolve("E perché?", history, "it")


@pytest.mark.parametrize("history", [[], [WHEN_PRESENTED]])
def test_standalone_questions_are_left_alone(history: list[tuple[str, str]]) -> None:
    question = "Chi ha scritto il libro “Capitale nel XXI secolo”?"
    assert resolve(question, history, "it") == question


@pytest.mark.slow
@pytest.mark.parametrize(
    ("first", "follow_up", "expected"),
    [
        ("Chi è il COO di OpenAI?", "E cosa ha detto del lancio di Sora?", "troppo presto"),
        ("Who is OpenAI's COO?", "And when did he go to Hollywood?", "fine febbraio"),
        ("Chi ha detto che Sora è stato lanciato troppo presto?", "E perché lo ha detto?", "pronto"),
        (
            "Come si chiama la mostra organizzata da OpenAI alla Stella Gallery di New York?",
            "E quanto durerà?",
            "trois semaines",
        ),
    ],
)
def test_follow_ups_are_answered_from_the_conversation(
    corpus_services: Any, first: str, follow_up: str, expected: str
) -> None:
    previous = corpus_services.ask(first, mode="extractive", backend="embedded")
    answer = corpus_services.ask(follow_up, history=[(first, previous.text)], mode="extractive", backend="embedded")
    assert answer.standalone_question and answer.standalone_question.startswith(follow_up)
    assert not answer.refused and expected in answer.text
