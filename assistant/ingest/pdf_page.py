"""One PDF page drawn as an image, and where a quote's characters are on it (pypdfium2, all local).

The ingest reads a PDF's text with pypdf; the evidence viewer shows the page itself. pdfium's text
layer gives each character's box, so a quote found in the page's characters (whitespace and
ligatures aside: the two libraries space text differently) gives the boxes to highlight. PDFium is
not thread-safe, so every call holds :data:`_PDFIUM`; a page is drawn at most
:data:`MAX_PIXELS` large, whatever size the file declares.
"""

from __future__ import annotations

import io
import threading
import unicodedata
from pathlib import Path

from assistant.ingest.bounds import UnreadableFileError, one_line, too_large
from assistant.models import PageBox

MAX_PIXELS = 4_000_000
"""Pixels of a drawn page at most (a page may declare any size)."""
MAX_SCALE = 4.0
_EDGE = 40  # characters of the quote's start and end tried when the whole quote is not found
_PDFIUM = threading.Lock()  # PDFium's state is process-wide: one call at a time


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """The bytes of the file at ``path``, at most ``max_bytes`` (raises :class:`UnreadableFileError`)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as error:
        raise UnreadableFileError(f"cannot read: {error.strerror or error}") from None
    if len(raw) > max_bytes:
        raise UnreadableFileError(too_large(len(raw), max_bytes))
    return raw


def page_count(raw: bytes) -> int:
    """The number of pages of the PDF ``raw`` (raises :class:`UnreadableFileError` when pdfium cannot open it)."""
    with _PDFIUM:
        document = _open(raw)
        try:
            return len(document)
        finally:
            document.close()


def render_page(raw: bytes, page: int, width: int = 1000) -> bytes:
    """Page ``page`` (1-based) of the PDF ``raw`` as a PNG about ``width`` pixels wide."""
    with _PDFIUM:
        document = _open(raw)
        try:
            pdf_page = document[_page_index(document, page)]
            page_width, page_height = pdf_page.get_size()
            scale = min(width / max(page_width, 1.0), MAX_SCALE)
            scale = min(scale, (MAX_PIXELS / max(page_width * page_height, 1.0)) ** 0.5)
            image = pdf_page.render(scale=scale).to_pil()
        finally:
            document.close()
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def quote_boxes(raw: bytes, page: int, quote: str) -> list[PageBox]:
    """The boxes of ``quote``'s characters on page ``page`` (1-based), in fractions of the page; [] if not found.

    When the whole quote is not on the page (it runs onto the next one, or the text layers
    differ), its first and last characters are looked for instead.
    """
    wanted = _squeezed(quote)
    if not wanted:
        return []
    with _PDFIUM:
        document = _open(raw)
        try:
            pdf_page = document[_page_index(document, page)]
            if pdf_page.get_rotation() % 360:
                return []  # boxes are in unrotated page space; a rotated page is shown without them
            text_page = pdf_page.get_textpage()
            chars, where = _page_chars(text_page)
            span = _find(chars, where, wanted)
            if span is None:
                return []
            first, last = span
            left, bottom, right, top = pdf_page.get_cropbox()
            width, height = max(right - left, 1.0), max(top - bottom, 1.0)
            boxes = []
            for index in range(text_page.count_rects(first, last - first + 1)):
                x0, y0, x1, y1 = text_page.get_rect(index)
                boxes.append(
                    PageBox(
                        left=_fraction(x0 - left, width),
                        top=_fraction(top - y1, height),
                        width=_fraction(x1 - x0, width),
                        height=_fraction(y1 - y0, height),
                    )
                )
            return boxes
        finally:
            document.close()


def _open(raw: bytes):  # type: ignore[no-untyped-def]
    import pypdfium2

    try:
        return pypdfium2.PdfDocument(raw)
    except pypdfium2.PdfiumError as error:
        raise UnreadableFileError(f"not a PDF pdfium can draw: {one_line(error)}") from None


def _page_index(document: object, page: int) -> int:
    count = len(document)  # type: ignore[arg-type]
    if not 1 <= page <= count:
        raise UnreadableFileError(f"no page {page}: the PDF has {count}")
    return page - 1


def _page_chars(text_page: object) -> tuple[str, list[int]]:
    """The page's characters without whitespace, NFKC-normalised, and the pdfium index of each."""
    import pypdfium2.raw as pdfium_c

    handle = text_page.raw  # type: ignore[attr-defined]
    pieces: list[str] = []
    where: list[int] = []
    for index in range(pdfium_c.FPDFText_CountChars(handle)):
        code = pdfium_c.FPDFText_GetUnicode(handle, index)
        if not code or 0xD800 <= code <= 0xDFFF:
            continue
        for char in unicodedata.normalize("NFKC", chr(code)):
            if not char.isspace() and char != "\u00ad":
                pieces.append(char)
                where.append(index)
    return "".join(pieces), where


def _squeezed(text: str) -> str:
    return "".join(char for char in unicodedata.normalize("NFKC", text) if not char.isspace() and char != "\u00ad")


def _find(chars: str, where: list[int], wanted: str) -> tuple[int, int] | None:
    """(first, last) pdfium character indices of ``wanted`` in ``chars`` (or of its two ends, in order)."""
    found = chars.find(wanted)
    if found >= 0:
        return where[found], where[found + len(wanted) - 1]
    head, tail = wanted[:_EDGE], wanted[-_EDGE:]
    start = chars.find(head)
    if start < 0:
        return None
    end = chars.find(tail, start + len(head))
    last = end + len(tail) - 1 if end >= 0 else start + len(head) - 1
    return where[start], where[last]


def _fraction(value: float, whole: float) -> float:
    return round(min(max(value / whole, 0.0), 1.0), 5)
