"""A document's title and date, found in its text.

Both look only at the head of the text (the title at its first line, the date at its first
:data:`DATE_SCAN_CHARS` characters), so a document of any size costs the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from assistant.text.lexicon import MONTH_ABBREVIATIONS, MONTHS
from assistant.text.sentences import fold, split_sentences

MAX_TITLE_CHARS = 200
DATE_SCAN_CHARS = 100_000
"""A document's date is looked for in this many characters from its start."""
_TITLE_SCAN_CHARS = 20 * MAX_TITLE_CHARS

_LINE_BREAKS = "\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # where str.splitlines() splits
_LINE_BREAK = re.compile(f"[{_LINE_BREAKS}]")
_VISIBLE = re.compile(r"\S")
_DATE_MARKER = re.compile(r"^[^\S\n]*+date[^\S\n]++\d{4}-\d{2}(?:-\d{2})?[^\S\n]++", re.IGNORECASE)


def date_marker_length(text: str) -> int:
    """How many characters of ``text`` a leading "date YYYY-MM[-DD]" marker takes (0 without one).

    The marker is the document's metadata, not part of its first sentence: the title leaves it
    out, and so does a quote of that sentence.
    """
    found = _DATE_MARKER.match(text)
    return found.end() if found else 0


def first_line_title(text: str) -> str:
    """A title from the first non-empty line (without a leading "date YYYY-MM" marker).

    A line longer than MAX_TITLE_CHARS is shortened to its first sentence, or cut at a word.
    """
    end = 0
    while visible := _VISIBLE.search(text, end):  # the next line with something on it; blank ones cost no loop
        start = max(text.rfind(line_break, end, visible.start()) for line_break in _LINE_BREAKS) + 1
        start = max(start, end)
        found = _LINE_BREAK.search(text, visible.start())
        end = found.start() if found else len(text)
        line = _DATE_MARKER.sub("", text[start : min(end, start + _TITLE_SCAN_CHARS)]).strip()
        if line:
            return clip_title(line) or ""
    return ""


def clip_title(title: str | None) -> str | None:
    """``title`` on one line, shortened to its first sentence or cut at a word past MAX_TITLE_CHARS."""
    if title is None:
        return None
    title = " ".join(title[:_TITLE_SCAN_CHARS].split())
    if len(title) <= MAX_TITLE_CHARS:
        return title or None
    sentences = split_sentences(title)
    if sentences and len(sentences[0].text) <= MAX_TITLE_CHARS:
        return sentences[0].text
    cut = title[: MAX_TITLE_CHARS - 1]
    return cut[: cut.rfind(" ")] + "…" if " " in cut else cut + "…"


_YEAR = r"(?P<year>(?:19|20)\d{2})"
_DAY = r"(?P<day>[0-3]?\d)"


def _alternatives(names: Sequence[str]) -> str:
    return "|".join(sorted(names, key=len, reverse=True))


_ANY_MONTH = _alternatives([*MONTHS, *MONTH_ABBREVIATIONS])
# Whitespace runs are possessive: a long run after a number is scanned once, never backtracked into.
_DATE_PATTERNS = (
    re.compile(rf"\b{_YEAR}-(?P<month>[01]\d)(?:-{_DAY})?\b(?!-\d)"),
    re.compile(rf"\b{_DAY}(?:st|nd|rd|th|er|°)?\.?\s++(?P<name>{_ANY_MONTH})\.?,?\s++{_YEAR}\b"),
    re.compile(rf"\b(?P<name>{_ANY_MONTH})\.?\s++{_DAY}(?:st|nd|rd|th)?,?\s++{_YEAR}\b"),
    re.compile(rf"\b(?P<name>{_alternatives(list(MONTHS))})\s++(?:de\s++|del\s++)?{_YEAR}\b"),
)


def find_date(text: str) -> str | None:
    """The first date the head of ``text`` states, as "YYYY-MM-DD" or "YYYY-MM" (month and year only), or None.

    Understands ISO dates ("2024-03", "2024-03-15") and written dates in English, Italian and French
    ("25 Mar 2024", "15 febbraio 2024", "15 février 2024", "March 15, 2024", "March 2024"), in the
    first DATE_SCAN_CHARS characters.
    """
    folded = fold(text[:DATE_SCAN_CHARS])
    found: list[tuple[int, str]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(folded):
            normalized = _normalize_date(match)
            if normalized:
                found.append((match.start(), normalized))
                break
    return min(found)[1] if found else None


def _normalize_date(match: re.Match[str]) -> str | None:
    groups = match.groupdict()
    year = int(groups["year"])
    if groups.get("name"):
        name = groups["name"]
        month = MONTHS.get(name) or MONTH_ABBREVIATIONS.get(name, 0)
    else:
        month = int(groups["month"])
    day = int(groups["day"]) if groups.get("day") else None
    try:
        date(year, month, day or 1)
    except ValueError:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}" if day else f"{year:04d}-{month:02d}"
