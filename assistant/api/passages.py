"""A document's text and a passage of it, looked up by document id only (an id never becomes a path).

The text is read again from the file the catalog recorded, with the ingest's own reader and limits,
so the offsets of a citation index into it; a file changed since indexing is flagged.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from assistant.api.problems import APIError
from assistant.api.schemas import DocumentText, Passage, PublicDocument
from assistant.ingest.readers import FileRef, ReadLimits, UnreadableFileError, read_document

if TYPE_CHECKING:
    from assistant.services import Services


def document_text(services: Services, doc_id: str) -> DocumentText:
    """The indexed document ``doc_id`` and its text; :class:`APIError` 404 when it is not indexed."""
    info = services.document(doc_id)
    if info is None:
        raise APIError(404, "unknown_document", f"no indexed document has the id {doc_id!r}")
    path = Path(info.path)
    settings = services.settings.ingest
    try:
        loaded = read_document(
            FileRef(path.parent, path, info.doc_id),
            int(settings.max_file_mb * 1024 * 1024),
            ReadLimits.from_settings(settings),
        )
    except UnreadableFileError as exc:
        raise APIError(410, "document_unreadable", f"{doc_id!r} is indexed but its file cannot be read: {exc}") from exc
    public = PublicDocument.of(info).model_dump()
    return DocumentText(**public, text=loaded.text, changed=loaded.info.sha256 != info.sha256)


def passage(services: Services, doc_id: str, start: int, end: int, context: int | None = None) -> Passage:
    """``text[start:end]`` of ``doc_id`` with ``context`` characters (default ``api.passage_context``) each side.

    Raises :class:`APIError` 404 for an unknown document, 400 for offsets outside its text.
    """
    document = document_text(services, doc_id)
    text = document.text
    if not 0 <= start <= end <= len(text):
        raise APIError(400, "bad_input", f"offsets {start}-{end} are outside the text (0-{len(text)})")
    margin = services.settings.api.passage_context if context is None else context
    left, right = max(0, start - margin), min(len(text), end + margin)
    return Passage(
        doc_id=doc_id,
        title=document.title,
        start=start,
        end=end,
        quote=text[start:end],
        context_start=left,
        context_end=right,
        context=text[left:right],
        changed=document.changed,
    )
