"""Sentence splitting with exact character offsets, shared by chunking and citation checks."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import NamedTuple

# A sentence ends at . ! ? … (optionally followed by closing quotes/brackets) before whitespace,
# or at a line break. Abbreviations that often precede a capital are kept inside the sentence.
# Linear on any text: a run of marks is only tried from its first mark (the lookbehind) and never
# backtracked into (possessive quantifiers), so a line of a million dots is scanned once.
_END = re.compile(r"""(?<![.!?…])[.!?…]++["'”’»)\]]*+(?=\s)|\n""")
_WORD_BEFORE_DOT = re.compile(r"[\w.]+$")
# The combining diacritical marks (U+034F, the grapheme joiner, is not one: it has class 0).
_LATIN_MARKS = re.compile("[\u0300-\u034e\u0350-\u036f]+")
_NON_ASCII = re.compile("[^\x00-\x7f]+")
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
    when ``text`` is ``source[offset:]``. Linear in the length of ``text``.
    """
    return list(iter_sentences(text, offset))


def iter_sentences(text: str, offset: int = 0) -> Iterator[Span]:
    """The sentences of :func:`split_sentences`, one at a time (for texts too long to hold them all)."""
    begin = 0
    for match in _END.finditer(text):
        stop = match.end()
        if match.group() != "\n" and _is_abbreviation(text, match.start()):
            continue
        span = _span(text, begin, stop, offset)
        if span is not None:
            yield span
        begin = stop
    span = _span(text, begin, len(text), offset)
    if span is not None:
        yield span


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    word = _WORD_BEFORE_DOT.search(text, max(0, dot - 12), dot)
    if not word:
        return False
    token = word.group().lower()
    return token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())


def _span(text: str, begin: int, stop: int, offset: int) -> Span | None:
    piece = text[begin:stop]
    stripped = piece.strip()
    if not stripped:
        return None
    lead = len(piece) - len(piece.lstrip())
    start = begin + lead
    return Span(start + offset, start + len(stripped) + offset, stripped)


def fold(text: str) -> str:
    """Lower-case, strip accents and unify quotes/apostrophes, for matching text loosely."""
    if text.isascii():  # nothing to decompose or unify
        return text.lower()
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = text.replace("«", '"').replace("»", '"')
    # The accents of Latin letters go in one C-level pass; other scripts' marks are looked up one by one.
    decomposed = _LATIN_MARKS.sub("", unicodedata.normalize("NFKD", text.lower()))
    return decomposed if decomposed.isascii() else _NON_ASCII.sub(_without_marks, decomposed)


def _without_marks(match: re.Match[str]) -> str:
    return "".join(ch for ch in match.group() if not unicodedata.combining(ch))


WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """The folded words of ``text``."""
    return WORD.findall(fold(text))


def capitalised(token: str, opens: bool) -> bool:
    """Whether ``token`` is written as a name: a capital first letter where it does not open its
    sentence (``opens``), or a capital inside it anywhere ("OpenAI", "UE")."""
    return (not opens and token[:1].isupper()) or any(ch.isupper() for ch in token[1:])
