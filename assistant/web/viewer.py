"""The evidence viewer: a cited quote shown in its document, highlighted, with its page or heading.

Clicking a ``[n]`` marker (in an answer or on a source card) sends the answer's turn and the
source's number (``static/app.js`` triggers the conversation's ``evidence`` event); the viewer
finds that source in the session's own conversation, so a request never names a document or a
path, and asks :meth:`Services.evidence` to look the quote up again in the document's current
file. A PDF's page is drawn by the server (:meth:`Services.page_image`) and sent inside the page
as a ``data:`` image, with the quote's boxes laid over it: nothing is fetched from elsewhere.
Document text is escaped like every other text of the page.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from assistant.errors import UsageError
from assistant.models import EvidenceView, Source
from assistant.text.sanitize import escape
from assistant.web.conversation import Turn
from assistant.web.messages import readable_error

if TYPE_CHECKING:
    from assistant.services import Services

PAGE_WIDTH = 900
"""Pixels of a drawn PDF page's width."""
STATUS_TITLES = {
    "unchanged": "Quote verified in the current file",
    "moved": "The file changed: the quote was found again",
    "changed": "The file changed: the quote is gone",
    "missing": "The file is gone",
    "unknown": "Not in the index",
}


def cited_source(turns: Sequence[Turn], turn: Any, number: Any) -> Source | None:
    """Source ``number`` of the answer of turn ``turn`` in this session's conversation (None if there is none)."""
    try:
        index, n = int(turn), int(number)
    except (TypeError, ValueError):
        return None
    if not 0 <= index < len(turns) or turns[index].answer is None:
        return None
    answer = turns[index].answer
    return next((s for s in answer.sources if s.number == n), None) if answer is not None else None


def evidence_html(services: Services, turns: Sequence[Turn], turn: Any, number: Any) -> str:
    """The viewer opened on source ``number`` of turn ``turn``: the quote in its document, or why it cannot be."""
    source = cited_source(turns, turn, number)
    if source is None:
        return _frame("", "", '<div class="ev-status unknown">This source is not in the conversation any more.</div>')
    try:
        view = services.evidence(source.doc_id, source.start, source.end, source.quote, source.sha256)
    except Exception as exc:  # one readable line; the server log keeps the rest
        why = f'<div class="ev-status missing">{escape(readable_error(exc))}</div>'
        return _frame(source.title, source.doc_id, why)
    image = None
    if view.format == "pdf" and view.page is not None and view.status in ("unchanged", "moved"):
        try:
            image = services.page_image(source.doc_id, view.page, PAGE_WIDTH)
        except UsageError:  # pdfium cannot draw what pypdf read: the text is still shown
            image = None
    return viewer_html(view, image, source.number)


def viewer_html(view: EvidenceView, page_png: bytes | None = None, number: int | None = None) -> str:
    """The viewer's HTML for ``view``: status, locator, the PDF page with the quote's boxes, the highlighted text."""
    where = [view.doc_id]
    if view.locator is not None and view.locator.label:
        where.append(view.locator.label)
    if view.start is not None:
        where.append(f"chars {view.start}-{view.end}")
    status = (
        f'<div class="ev-status {view.status}" data-status="{view.status}" role="status">'
        f"<b>{escape(STATUS_TITLES[view.status])}</b> {escape(view.message)}</div>"
    )
    parts = [status]
    body = []
    if page_png is not None and view.page is not None:
        body.append(_page_html(view, page_png))
    if view.excerpt:
        body.append(_text_html(view))
    elif view.quote:
        body.append(f'<blockquote class="ev-cited">“{escape(view.quote)}”</blockquote>')
    if body:
        parts.append(f'<div class="ev-body{" with-page" if page_png is not None else ""}">{"".join(body)}</div>')
    prefix = f"[{number}] " if number is not None else ""
    return _frame(prefix + view.title, " · ".join(where), "".join(parts), view.status)


def _frame(title: str, where: str, body: str, status: str = "unknown") -> str:
    """The dialog around the viewer's content; ``data-opened`` changes at every opening so it always re-renders."""
    return (
        f'<div class="ev-backdrop" data-opened="{time.monotonic_ns()}">'
        f'<section class="ev" role="dialog" aria-label="Evidence" data-status="{escape(status)}">'
        '<header class="ev-head"><div class="ev-heading">'
        f'<div class="ev-title">{escape(title)}</div><div class="ev-where">{escape(where)}</div></div>'
        '<button class="ev-close" type="button" aria-label="Close">✕</button></header>'
        f"{body}</section></div>"
    )


def _page_html(view: EvidenceView, page_png: bytes) -> str:
    """The drawn page, with the quote's boxes over it (placed in percentages, so at any size)."""
    data = base64.b64encode(page_png).decode("ascii")
    boxes = "".join(
        f'<span class="ev-box" style="left:{b.left * 100:.3f}%;top:{b.top * 100:.3f}%;'
        f'width:{b.width * 100:.3f}%;height:{b.height * 100:.3f}%"></span>'
        for b in view.boxes
    )
    caption = f"Page {view.page} of {view.page_count}" if view.page_count else f"Page {view.page}"
    if not view.boxes:
        caption += " (the quote could not be placed on the drawn page)"
    return (
        f'<figure class="ev-page" data-page="{view.page}"><figcaption>{escape(caption)}</figcaption>'
        f'<div class="ev-sheet"><img alt="Page {view.page}" src="data:image/png;base64,{data}">{boxes}</div></figure>'
    )


def _text_html(view: EvidenceView) -> str:
    """The quote's section of the current text, the quote marked (the cited offsets when it is gone)."""
    text, offset = view.excerpt, view.excerpt_start
    before = "…" if offset > 0 else ""
    after = "…" if offset + len(text) < view.n_chars else ""
    if view.start is not None and view.end is not None:
        lo, hi = view.start - offset, view.end - offset
        marked = f'{escape(text[:lo])}<mark class="ev-quote">{escape(text[lo:hi])}</mark>{escape(text[hi:])}'
    else:
        lo = min(max(view.cited_start - offset, 0), len(text))
        marked = f'{escape(text[:lo])}<span class="ev-gone" title="where the quote was"></span>{escape(text[lo:])}'
    cited = f'<blockquote class="ev-cited">Cited: “{escape(view.quote)}”</blockquote>' if view.start is None else ""
    return f'<div class="ev-doc">{cited}<div class="ev-text">{before}{marked}{after}</div></div>'
