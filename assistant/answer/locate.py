"""Where a quote is, in human terms: the PDF page, the heading path, the line.

Everything is read from the outline stored at ingest (:mod:`assistant.ingest.outline`), so a
locator costs a few bisections at question time. A document indexed before outlines were stored
has an empty one: its sources have no locator (``None``), not a wrong one.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

from assistant.ingest.outline import LINE_FORMATS
from assistant.models import DocumentInfo, Locator, Outline, OutlineHeading, Source

HEADING_SEPARATOR = " › "


def where(source: Source) -> str:
    """``"p. 3, chars 10-42"``: the source's locator label (page, heading path or line) when it has one,
    then its document offsets, as the CLI and the OpenAI-compatible footnotes print them."""
    label = source.locator.label if source.locator is not None and source.locator.label else ""
    offsets = f"chars {source.start}-{source.end}"
    return f"{label}, {offsets}" if label else offsets


def locate(info: DocumentInfo, start: int, passage: str = "", passage_start: int = 0) -> Locator | None:
    """The locator of offset ``start`` of ``info``'s text, from its stored outline (None when it has none).

    The line of a txt or md quote is the line recorded at the chunk start ``passage_start`` plus
    the newlines of ``passage`` before the quote.
    """
    outline = info.outline
    line = None
    if info.format in LINE_FORMATS:
        line = line_from_marks(outline.lines, start, passage, passage_start)
    return locator_of(page_at(outline, start), heading_path(outline.headings, start), line)


def locate_in_text(info: DocumentInfo, text: str, start: int) -> Locator | None:
    """The locator of offset ``start`` of ``text`` (the document's whole text, read again), with its outline."""
    line = text.count("\n", 0, start) + 1 if info.format in LINE_FORMATS else None
    return locator_of(page_at(info.outline, start), heading_path(info.outline.headings, start), line)


def locator_of(page: int | None, heading: list[str], line: int | None) -> Locator | None:
    """A locator with its printed label ("p. 3", "§ Procédure › Coût · line 12"), or None when all are empty."""
    parts = []
    if page is not None:
        parts.append(f"p. {page}")
    if heading:
        parts.append("§ " + HEADING_SEPARATOR.join(heading))
    if line is not None:
        parts.append(f"line {line}")
    if not parts:
        return None
    return Locator(page=page, heading=heading, line=line, label=" · ".join(parts))


def page_at(outline: Outline, offset: int) -> int | None:
    """The 1-based PDF page whose text holds ``offset`` (None when no page starts are recorded)."""
    if not outline.pages:
        return None
    return max(1, bisect_right(outline.pages, offset))


def page_span(outline: Outline, page: int, text_length: int) -> tuple[int, int]:
    """(start, end) offsets of a 1-based page's text (the whole text when no page starts are recorded)."""
    pages = outline.pages
    if not pages or not 1 <= page <= len(pages):
        return 0, text_length
    end = next((start for start in pages[page:] if start > pages[page - 1]), text_length)
    return pages[page - 1], end


def heading_path(headings: Sequence[OutlineHeading], offset: int) -> list[str]:
    """The titles of the headings that ``offset`` falls under, outermost first.

    The last heading before ``offset`` is found by bisection; walking back from it, each heading
    of a lower level than the last one kept is the next one out.
    """
    path: list[OutlineHeading] = []
    for index in range(bisect_right(headings, offset, key=_start) - 1, -1, -1):
        heading = headings[index]
        if not path or heading.level < path[-1].level:
            path.append(heading)
            if heading.level <= 0:
                break
    return [heading.title for heading in reversed(path)]


def _start(heading: OutlineHeading) -> int:
    return heading.start


def section_span(
    headings: Sequence[OutlineHeading], offset: int, text_length: int, min_chars: int = 0
) -> tuple[int, int]:
    """(start, end) of the innermost section holding ``offset`` that is at least ``min_chars`` long.

    A section runs from its heading to the next heading of its level or above; a section shorter
    than ``min_chars`` gives way to the one around it (before the first heading: the text up to it).
    """
    path: list[OutlineHeading] = []
    position = 0
    while position < len(headings) and headings[position].start <= offset:
        heading = headings[position]
        while path and path[-1].level >= heading.level:
            path.pop()
        path.append(heading)
        position += 1
    following = headings[position:]
    if not path:
        return 0, following[0].start if following else text_length
    span = (0, text_length)
    for current in reversed(path):
        end = next((h.start for h in following if h.level <= current.level), text_length)
        span = (current.start, end)
        if end - current.start >= min_chars:
            break
    return span


def line_from_marks(marks: Sequence[tuple[int, int]], start: int, passage: str, passage_start: int) -> int | None:
    """The line of ``start`` from the (offset, line) marks at chunk starts and the passage holding it."""
    position = bisect_right(marks, (start, math.inf)) - 1
    if position < 0:
        return None
    offset, line = marks[position]
    if offset == start:
        return line
    if passage_start <= offset and start - passage_start <= len(passage):
        return line + passage.count("\n", offset - passage_start, start - passage_start)
    return None
