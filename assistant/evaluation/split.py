"""A fixed, seeded split of a question set into a half to fit on and a half to report on.

Questions are split by document, so that the questions about one document (in every language)
fall in the same half and nothing fitted on a document is reported on it. A question without a
source (an unanswerable one) is split by its own id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Literal, Protocol

Half = Literal["tune", "report"]
HALVES: tuple[Half, ...] = ("tune", "report")
SPLIT_SEED = "qa-split-1"
"""Changing the seed reshuffles the halves: every fitted figure must then be fitted again."""


class SplitQuestion(Protocol):
    """What the split reads of a question."""

    id: str
    sources: list[str]


def split_key(question: SplitQuestion) -> str:
    """What decides the half: the question's first source document, or its own id."""
    return f"doc:{sorted(question.sources)[0]}" if question.sources else f"question:{question.id}"


def half_of(question: SplitQuestion, seed: str = SPLIT_SEED) -> Half:
    """``tune`` or ``report``: the same for every question of one document, and for every run."""
    digest = hashlib.sha256(f"{seed}:{split_key(question)}".encode()).digest()
    return HALVES[digest[0] % 2]


def select_half(questions: Iterable[SplitQuestion], half: Half | None, seed: str = SPLIT_SEED) -> list[SplitQuestion]:
    """The questions of one half (all of them for ``None``)."""
    return [q for q in questions if half is None or half_of(q, seed) == half]


def half_sizes(questions: Sequence[SplitQuestion], seed: str = SPLIT_SEED) -> dict[Half, int]:
    """How many questions fall in each half."""
    sizes: dict[Half, int] = {"tune": 0, "report": 0}
    for question in questions:
        sizes[half_of(question, seed)] += 1
    return sizes
