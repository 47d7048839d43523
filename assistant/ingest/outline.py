"""A document's outline, found while it is read: PDF page starts, headings, and lines at chunk starts.

The outline is stored with the document (:class:`~assistant.models.Outline` on ``DocumentInfo``),
so that a citation's page, heading path or line costs nothing at question time
(:mod:`assistant.answer.locate` reads it). Every function here is linear in the text and keeps at
most :data:`MAX_HEADINGS` headings: documents are hostile input.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence

from assistant.models import Chunk, DocumentInfo, LoadedDocument, Outline, OutlineHeading

MAX_HEADINGS = 5000
"""Headings kept per document (a hostile file may have millions)."""
MAX_HEADING_CHARS = 120
LINE_FORMATS = frozenset(("txt", "md"))
"""Formats whose extracted text keeps the file's lines, so a line number means something to the reader."""
_LOOKAHEAD = 8  # headings a line is compared with, so that one heading not found loses no other
_ATX = re.compile(r"(#{1,6})(?:[ \t]++(.*))?$")
_SETEXT = re.compile(r"(=++|-++)[ \t]*+$")
_FENCE = re.compile(r"(`{3,}|~{3,})")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]++)#++[ \t]*+$")


def heading_title(text: str) -> str:
    """A heading's text on one line, clipped to :data:`MAX_HEADING_CHARS`."""
    return " ".join(text[: 4 * MAX_HEADING_CHARS].split())[:MAX_HEADING_CHARS]


def markdown_headings(text: str) -> list[OutlineHeading]:
    """The ATX (``## Title``) and setext (``Title`` over ``===``) headings, outside fenced code blocks."""
    headings: list[OutlineHeading] = []
    fence = ""
    previous: tuple[int, str] | None = None  # (offset, text) of the last paragraph line, for setext headings
    offset = 0
    for line in text.split("\n"):
        start, offset = offset, offset + len(line) + 1
        if len(headings) >= MAX_HEADINGS:
            break
        stripped = line.lstrip(" ")
        if len(line) - len(stripped) > 3:  # indented code
            previous = None
            continue
        opening = _FENCE.match(stripped)
        if fence:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = ""
            continue
        if opening:
            fence, previous = opening.group(1), None
            continue
        atx = _ATX.match(stripped)
        setext = _SETEXT.match(stripped)
        if atx:
            title = heading_title(_CLOSING_HASHES.sub("", atx.group(2) or ""))
            if title:
                at = start + len(line) - len(stripped)
                headings.append(OutlineHeading(start=at, level=len(atx.group(1)), title=title))
            previous = None
        elif setext and previous is not None:
            level = 1 if setext.group(1)[0] == "=" else 2
            headings.append(OutlineHeading(start=previous[0], level=level, title=heading_title(previous[1])))
            previous = None
        else:
            previous = (start + len(line) - len(stripped), stripped) if stripped.strip() else None
    return headings


def headings_by_lines(text: str, found: Iterable[tuple[int, str]]) -> list[OutlineHeading]:
    """Place headings read from a format's markup (level, text) on the lines of the extracted ``text``.

    Headings come in document order and each is its own block, so one pass over the lines finds
    them: a line is compared with the next few headings only, and a heading that is not found
    (its text was dropped) is skipped without losing the ones after it.
    """
    wanted = [(level, heading_title(title)) for level, title in found]
    wanted = [(level, title) for level, title in wanted if title][:MAX_HEADINGS]
    headings: list[OutlineHeading] = []
    position, offset = 0, 0
    for line in text.split("\n"):
        start, offset = offset, offset + len(line) + 1
        if position >= len(wanted):
            break
        if not line.strip():
            continue
        title = heading_title(line)
        for ahead in range(position, min(position + _LOOKAHEAD, len(wanted))):
            level, expected = wanted[ahead]
            if title == expected or (len(expected) == MAX_HEADING_CHARS and title.startswith(expected)):
                headings.append(OutlineHeading(start=start + len(line) - len(line.lstrip()), level=level, title=title))
                position = ahead + 1
                break
    return headings


def joined_headings(parts: Sequence[tuple[int | None, str]], separator: str) -> list[OutlineHeading]:
    """The headings of a text made of ``parts`` joined by ``separator``: (heading level or None, part text)."""
    headings: list[OutlineHeading] = []
    offset = 0
    for level, part in parts:
        if level is not None and len(headings) < MAX_HEADINGS:
            title = heading_title(part)
            if title:
                headings.append(OutlineHeading(start=offset + len(part) - len(part.lstrip()), level=level, title=title))
        offset += len(part) + len(separator)
    return headings


def joined_pages(pages: Sequence[str]) -> tuple[str, list[int]]:
    """PDF pages' texts joined as the PDF reader joins them (blank pages left out), and where each page starts.

    A page without text starts where the next page with text starts, so an offset maps to the
    last page whose start it has reached.
    """
    kept: list[str] = []
    starts: list[int | None] = []
    offset = 0
    for page in pages:
        body = page.strip("\n")
        if not page.strip():
            starts.append(None)
            continue
        if kept:
            offset += 2
        starts.append(offset)
        kept.append(body)
        offset += len(body)
    following = offset
    for index in range(len(starts) - 1, -1, -1):
        value = starts[index]
        following = following if value is None else value
        starts[index] = following
    return "\n\n".join(kept), [value or 0 for value in starts]


def normalized_offsets(text: str, outline: Outline) -> Outline:
    """``outline`` with its offsets moved as ``text``'s CRLF line ends become LF (the readers' normalisation)."""
    if "\r\n" not in text or not (outline.pages or outline.headings):
        return outline
    crlf = [match.start() for match in re.finditer("\r\n", text)]

    def moved(offset: int) -> int:
        return offset - bisect_left(crlf, offset)  # one character less for every CRLF that starts before it

    return Outline(
        pages=[moved(start) for start in outline.pages],
        headings=[h.model_copy(update={"start": moved(h.start)}) for h in outline.headings],
        lines=outline.lines,
    )


def chunk_lines(text: str, starts: Iterable[int]) -> list[tuple[int, int]]:
    """(offset, 1-based line) for each of the chunk ``starts`` (in order), counting newlines once."""
    marks: list[tuple[int, int]] = []
    line, position = 1, 0
    for start in starts:
        if start < position:  # overlapping chunks never start before the previous one; be safe anyway
            continue
        line += text.count("\n", position, start)
        position = start
        marks.append((start, line))
    return marks


def with_chunk_lines(loaded: LoadedDocument, chunks: Sequence[Chunk]) -> DocumentInfo:
    """The document's info with the line at each chunk start recorded (txt and md; others unchanged)."""
    info = loaded.info
    if info.format not in LINE_FORMATS or not chunks:
        return info
    marks = chunk_lines(loaded.text, sorted(chunk.start for chunk in chunks))
    return info.model_copy(update={"outline": info.outline.model_copy(update={"lines": marks})})
