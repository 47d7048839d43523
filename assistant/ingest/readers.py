"""Read a file into a :class:`LoadedDocument`: decoded text plus its metadata.

One reader per format turns the file's bytes into text and, when the format has one, a title:
plain text and markdown here, HTML in :mod:`html_text`, PDF in :mod:`pdf_text`, .docx in
:mod:`docx_text`. The text is kept as extracted (only newlines are normalized) because chunk
offsets index into it. Every reader is linear in the file and held to :class:`ReadLimits`; what
a library raises on a broken file becomes :class:`UnreadableFileError` inside the reader, and
anything else is a bug that is not disguised as a bad file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from assistant.ingest.bounds import MB, ReadLimits, UnreadableFileError, default_limits, too_large
from assistant.ingest.decoding import decode_text
from assistant.ingest.discovery import FileRef, SkippedFile, discover_files, normalize_extension
from assistant.ingest.docx_text import read_docx
from assistant.ingest.html_text import read_html
from assistant.ingest.metadata import MAX_TITLE_CHARS, clip_title, find_date, first_line_title
from assistant.ingest.outline import markdown_headings, normalized_offsets
from assistant.ingest.pdf_text import read_pdf
from assistant.models import DocumentInfo, LoadedDocument, Outline
from assistant.text.language import detect_language

__all__ = [
    "MAX_TITLE_CHARS",
    "SUPPORTED_EXTENSIONS",
    "FileRef",
    "ReadLimits",
    "SkippedFile",
    "UnreadableFileError",
    "decode_text",
    "discover_files",
    "find_date",
    "first_line_title",
    "read_document",
]

SUPPORTED_EXTENSIONS = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")

Reader = Callable[[bytes, ReadLimits], tuple[str, str | None, str, Outline]]
"""(raw bytes, limits) -> (text, title or None, encoding or reader name, page starts and headings in the text)."""


def read_document(ref: FileRef, max_bytes: int, limits: ReadLimits | None = None) -> LoadedDocument:
    """Read and decode ``ref`` into its text and metadata.

    ``indexed_at`` and ``n_chunks`` are left for ingestion to fill. Raises UnreadableFileError with a
    one-line reason for files that are too large (on disk, or unpacked past ``limits``), gone,
    empty, binary, corrupt or without text.
    """
    fmt = normalize_extension(ref.path.suffix).lstrip(".")
    reader = _READERS.get(fmt)
    if reader is None:
        raise UnreadableFileError(f"unsupported file type .{fmt}")
    raw = _read_bytes(ref, max_bytes)
    if not raw.strip():
        raise UnreadableFileError("empty file")
    text, title, encoding, outline = reader(raw, limits or default_limits())
    outline = normalized_offsets(text, outline)
    text = _normalize_newlines(text)
    if fmt == "md":
        outline = Outline(headings=markdown_headings(text))
    if not text.strip():
        raise UnreadableFileError("empty file" if fmt in ("txt", "md") else "no text content")
    info = DocumentInfo(
        doc_id=ref.doc_id,
        path=str(ref.path.absolute()),
        title=clip_title(title) or first_line_title(text),
        language=detect_language(text),
        date=find_date(text),
        sha256=hashlib.sha256(raw).hexdigest(),
        encoding=encoding,
        format="html" if fmt == "htm" else fmt,
        n_chars=len(text),
        n_chunks=0,
        indexed_at="",
        outline=outline,
    )
    return LoadedDocument(info=info, text=text)


def _read_bytes(ref: FileRef, max_bytes: int) -> bytes:
    try:
        with ref.path.open("rb") as handle:
            size = _size(handle.fileno())
            if size > max_bytes:
                raise UnreadableFileError(too_large(size, max_bytes))
            raw = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise UnreadableFileError("file disappeared") from None
    except IsADirectoryError:
        raise UnreadableFileError("not a regular file") from None
    except OSError as error:
        raise UnreadableFileError(f"cannot read: {error.strerror or error}") from None
    if len(raw) > max_bytes:  # grew since stat
        raise UnreadableFileError(f"too large: more than the limit of {max_bytes / MB:g} MB")
    return raw


def _size(fd: int) -> int:
    import os
    import stat

    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode):  # a FIFO or a device would block or never end
        raise UnreadableFileError("not a regular file")
    return status.st_size


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_txt(raw: bytes, limits: ReadLimits) -> tuple[str, str | None, str, Outline]:
    text, encoding = decode_text(raw)
    return text, None, encoding, Outline()


# "# Title" at the start of a line; the trailing " #" markers are stripped outside the pattern.
_MD_HEADING = re.compile(r"^#[ \t]++([^\n]+)", re.MULTILINE)


def _read_md(raw: bytes, limits: ReadLimits) -> tuple[str, str | None, str, Outline]:
    text, encoding = decode_text(raw)
    heading = _MD_HEADING.search(_normalize_newlines(text))
    title = heading.group(1)[: 20 * MAX_TITLE_CHARS].rstrip(" \t#") if heading else None
    return text, title or None, encoding, Outline()  # headings: found once newlines are normalised


_READERS: dict[str, Reader] = {
    "txt": _read_txt,
    "md": _read_md,
    "html": read_html,
    "htm": read_html,
    "pdf": read_pdf,
    "docx": read_docx,
}
