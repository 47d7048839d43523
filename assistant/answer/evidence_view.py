"""A cited quote opened again in its document: is it still there, where, and what is around it.

The evidence viewer shows a source where it is. The document is found by its id in the catalog
(never by a path from a request), its file is read again with the ingest's own readers and limits,
and compared with what the answer cited: the same file (same sha256) with the quote at its
offsets; a changed file that still holds the quote (now at new offsets); a changed file without
it; or no file at all. The text shown is the quote's section (its page for a PDF), at most
:data:`EXCERPT_CHARS` on each side of the quote; for a PDF the quote's boxes on the rendered page
come from :mod:`assistant.ingest.pdf_page`.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

from assistant.answer.locate import locate_in_text, page_span, section_span
from assistant.ingest.bounds import ReadLimits, UnreadableFileError, one_line
from assistant.ingest.pdf_page import quote_boxes, read_bounded
from assistant.ingest.readers import FileRef, read_document
from assistant.models import DocumentInfo, EvidenceView, LoadedDocument, PageBox

EXCERPT_CHARS = 6000
"""Characters of the quote's section shown on each side of it, at most."""
MIN_SECTION_CHARS = 600
"""A section shorter than this is shown with the section around it (a heading and one line say little)."""
NO_SECTION_CHARS = 1500
"""Characters shown on each side when the document has no sections (text files)."""
MAX_OCCURRENCES = 10_000  # occurrences of the quote compared to find the nearest (the text is hostile)
MAX_ID_CHARS = 4096


class DocumentTexts:
    """The texts of the documents the viewer read last, by their file's sha256.

    A file opened again is read and hashed, not parsed again, when its bytes are the same: reading
    the text of a long PDF takes seconds, hashing its bytes milliseconds. At most
    ``max_documents`` texts, ``max_chars`` characters in all, are kept (the least recently used go).
    """

    def __init__(self, max_documents: int = 4, max_chars: int = 20_000_000) -> None:
        self.max_documents, self.max_chars = max_documents, max_chars
        self._texts: OrderedDict[tuple[str, str], LoadedDocument] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, info: DocumentInfo, max_bytes: int, limits: ReadLimits) -> LoadedDocument:
        """The document's text read from ``info.path`` now (raises :class:`UnreadableFileError`)."""
        path = Path(info.path)
        key = (str(path), hashlib.sha256(read_bounded(path, max_bytes)).hexdigest())
        with self._lock:
            if key in self._texts:
                self._texts.move_to_end(key)
                return self._texts[key]
        loaded = read_document(FileRef(path.parent, path, info.doc_id), max_bytes, limits)
        if loaded.info.sha256 == key[1] and len(loaded.text) <= self.max_chars:  # not rewritten in between
            with self._lock:
                self._texts[key] = loaded
                while len(self._texts) > self.max_documents or self._chars() > self.max_chars:
                    self._texts.popitem(last=False)
        return loaded

    def _chars(self) -> int:
        return sum(len(loaded.text) for loaded in self._texts.values())


def evidence_view(
    info: DocumentInfo | None,
    doc_id: str,
    cited: tuple[int, int],
    quote: str,
    sha256: str,
    max_bytes: int,
    limits: ReadLimits,
    texts: DocumentTexts | None = None,
) -> EvidenceView:
    """Look the quote cited at ``cited`` (start, end) in document ``doc_id`` up again in its current file.

    ``info`` is the catalog's record of ``doc_id`` (None when it is not indexed); ``sha256`` is the
    file's hash when the answer was made ("" when unknown: the offsets alone are checked). The file
    read is always ``info.path``, never anything derived from ``doc_id``; ``texts`` keeps the texts
    read last, so opening the same unchanged file again does not parse it again.
    """
    start, end = cited
    base = {"doc_id": doc_id[:MAX_ID_CHARS], "quote": quote, "cited_start": start, "cited_end": end}
    if info is None:
        why = "No indexed document has this id: it may have been removed from the index."
        return EvidenceView(status="unknown", message=why, **base)
    base |= {"title": info.title, "format": info.format}
    path = Path(info.path)
    try:
        loaded = (texts or DocumentTexts(0)).read(info, max_bytes, limits)
    except UnreadableFileError as exc:
        why = "is gone" if not path.exists() else f"cannot be read ({one_line(exc)})"
        message = f"The file of this document {why}: the quote cannot be shown."
        return EvidenceView(status="missing", message=message, **base)
    text = loaded.text
    at_offsets = 0 <= start <= end <= len(text) and text[start:end] == quote
    same_file = not sha256 or loaded.info.sha256 == sha256
    found: tuple[int, int] | None = (start, end) if at_offsets else nearest(text, quote, start)
    if found is not None and at_offsets and same_file:
        status = "unchanged"
        message = f"The file is unchanged since the answer: the quote is at characters {start}-{end}."
        if not sha256:
            message = f"The quote is at characters {start}-{end} (the answer did not record the file's sha256)."
    elif found is not None and at_offsets:
        status, message = "moved", "The file changed after the answer; the quote is still there, at the same offsets."
    elif found is not None:
        status = "moved"
        message = (
            f"The file changed after the answer; the quote is still there, now at characters {found[0]}-{found[1]} "
            f"(it was at {start}-{end})."
        )
    else:
        status, message = "changed", "This file changed after the answer; the quote is no longer at these offsets."
    cited_here = (min(max(start, 0), len(text)), min(max(end, 0), len(text)))
    return _view(loaded, found, cited_here, status, message, base, max_bytes)


def nearest(text: str, quote: str, near: int) -> tuple[int, int] | None:
    """The occurrence of ``quote`` in ``text`` that starts nearest to ``near`` (None when there is none)."""
    if not quote:
        return None
    best: int | None = None
    position = text.find(quote)
    for _ in range(MAX_OCCURRENCES):
        if position < 0:
            break
        if best is None or abs(position - near) < abs(best - near):
            best = position
        if position > near:
            break  # later occurrences are farther away
        position = text.find(quote, position + 1)
    return None if best is None else (best, best + len(quote))


def _view(
    loaded: LoadedDocument,
    found: tuple[int, int] | None,
    cited: tuple[int, int],
    status: str,
    message: str,
    base: dict[str, object],
    max_bytes: int,
) -> EvidenceView:
    """The view: the quote's (or, when it is gone, the cited offsets') section, page, locator and boxes."""
    text, info = loaded.text, loaded.info
    start, end = found or cited
    locator = locate_in_text(info, text, start)
    page = locator.page if locator else None
    if page is not None:
        lo, hi = page_span(info.outline, page, len(text))
    elif info.outline.headings:
        lo, hi = section_span(info.outline.headings, start, len(text), MIN_SECTION_CHARS)
    else:
        lo, hi = _paragraphs_around(text, start, end)
    lo, hi = _clip(text, lo, hi, start, end)
    if not text[hi:].strip():  # only blank lines after it: the excerpt runs to the end (no "…")
        hi = len(text)
    while hi < len(text) and hi > max(end, lo) and text[hi - 1].isspace():  # the blank lines before what follows
        hi -= 1
    if not text[:lo].strip():
        lo = 0
    view = EvidenceView.model_validate(
        {
            **base,
            "status": status,
            "message": message,
            "start": found[0] if found else None,
            "end": found[1] if found else None,
            "locator": locator,
            "excerpt": text[lo:hi],
            "excerpt_start": lo,
            "n_chars": len(text),
            "sha256": info.sha256,
            "page": page,
            "page_count": len(info.outline.pages),
        }
    )
    if page is not None and found is not None:
        span = page_span(info.outline, page, len(text))
        view.boxes = _boxes(Path(info.path), page, text[max(found[0], span[0]) : min(found[1], span[1])], max_bytes)
    return view


def _boxes(path: Path, page: int, part: str, max_bytes: int) -> list[PageBox]:
    """The boxes of ``part``, the part of the quote on ``page`` (a quote may run onto the next page)."""
    try:
        return quote_boxes(read_bounded(path, max_bytes), page, part)
    except UnreadableFileError:
        return []


def _paragraphs_around(text: str, start: int, end: int) -> tuple[int, int]:
    """About :data:`NO_SECTION_CHARS` on each side of the quote, cut at paragraph (else line) breaks."""
    lo = max(0, start - NO_SECTION_CHARS)
    hi = min(len(text), end + NO_SECTION_CHARS)
    if lo > 0:
        cut = text.find("\n\n", lo, start)
        cut = cut + 2 if cut >= 0 else text.find("\n", lo, start) + 1
        lo = cut if cut > 0 else lo
    if hi < len(text):
        cut = text.rfind("\n\n", end, hi)
        cut = cut if cut >= 0 else text.rfind("\n", end, hi)
        hi = cut if cut >= 0 else hi
    return lo, hi


def _clip(text: str, lo: int, hi: int, start: int, end: int) -> tuple[int, int]:
    """The section (lo, hi) cut to :data:`EXCERPT_CHARS` on each side of the quote, at line breaks when it can."""
    lo, hi = min(lo, start), max(hi, end)
    if start - lo > EXCERPT_CHARS:
        floor = start - EXCERPT_CHARS
        cut = text.find("\n", floor, start)
        lo = cut + 1 if cut >= 0 else floor
    if hi - end > EXCERPT_CHARS:
        ceiling = end + EXCERPT_CHARS
        cut = text.rfind("\n", end, ceiling)
        hi = cut if cut >= 0 else ceiling
    return lo, hi
