"""Sentence splitting with exact character offsets, shared by chunking and citation checks."""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

# A sentence ends at . ! ? … (optionally followed by closing quotes/brackets) before whitespace,
# or at a line break. Abbreviations that often precede a capital are kept inside the sentence.
_END = re.compile(r"""[.!?…]+["'”’»)\]]*(?=\s)|\n""")
_ABBREVIATIONS = {
    "dr",
    "mr",
    "mrs",
    "ms",
    "st",
    "sig",
    "dott",
    "prof",
    "ing",
    "avv",
    "mme",
    "mlle",
    "m",
    "corp",
    "inc",
    "ltd",
    "co",
    "vs",
    "etc",
    "ecc",
    "fig",
    "n",
    "no",
    "p",
    "pp",
    "e.g",
    "i.e",
}


class Span(NamedTuple):
    """A sentence: ``text == document[start:end]``."""

    start: int
    end: int
    text: str


def split_sentences(text: str, offset: int = 0) -> list[Span]:
    """Split ``text`` into sentences without leading/trailing whitespace.

    Offsets are relative to ``text`` plus ``offset``, so ``source[s.start:s.end] == s.text`` holds
    when ``text`` is ``source[offset:]``.
    """
    spans: list[Span] = []
    begin = 0
    for match in _END.finditer(text):
        stop = match.end()
        if match.group() != "\n" and _is_abbreviation(text, match.start()):
            continue
        _append(spans, text, begin, stop, offset)
        begin = stop
    _append(spans, text, begin, len(text), offset)
    return spans


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    word = re.search(r"([\w.]+)$", text[max(0, dot - 12) : dot])
    if not word:
        return False
    token = word.group(1).lower()
    return token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())


def _append(spans: list[Span], text: str, begin: int, stop: int, offset: int) -> None:
    piece = text[begin:stop]
    stripped = piece.strip()
    if not stripped:
        return
    lead = len(piece) - len(piece.lstrip())
    start = begin + lead
    spans.append(Span(start + offset, start + len(stripped) + offset, stripped))


def fold(text: str) -> str:
    """Lower-case, strip accents and unify quotes/apostrophes, for matching text loosely."""
    if text.isascii():  # nothing to decompose or unify
        return text.lower()
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = text.replace("«", '"').replace("»", '"')
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """The folded words of ``text``."""
    return WORD.findall(fold(text))
