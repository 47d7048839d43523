"""The text of a PDF (pypdf), with its page count and unpacked streams bounded.

The page count is checked before any page is read, each stream may unpack to at most
``max_unpacked_bytes`` (pypdf's own limits, lowered to ours), and the text gathered so far may not
grow past that size either: a small PDF that inflates to gigabytes is refused by name.
"""

from __future__ import annotations

import io
import re
import struct
import zlib

from assistant.ingest.bounds import MB, ReadLimits, UnreadableFileError, one_line, too_large
from assistant.ingest.outline import joined_pages
from assistant.models import Outline

_FILE_NAME = re.compile(r"\.\w{2,4}$|^untitled$", re.IGNORECASE)
# pypdf raises more than its own PyPdfError on broken files: these are what its parsers let through.
_LIBRARY_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    AssertionError,
    RecursionError,
    OverflowError,
    ZeroDivisionError,
    NotImplementedError,
    UnicodeError,
    EOFError,
    struct.error,
    zlib.error,
)


def read_pdf(raw: bytes, limits: ReadLimits) -> tuple[str, str | None, str, Outline]:
    """(text, title or None, "pypdf", where each page starts) of a PDF; see the module docstring."""
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError, PyPdfError

    budget = limits.max_unpacked_bytes
    try:
        with apply_configuration(
            zlib_maximum_output_length=budget,
            lzw_maximum_output_length=budget,
            run_length_maximum_output_length=budget,
            array_based_stream_maximum_output_length=budget,
            maximum_declared_stream_length=budget,
        ):
            reader = PdfReader(io.BytesIO(raw))
            if reader.is_encrypted and not reader.decrypt(""):
                raise UnreadableFileError("encrypted PDF")
            count = len(reader.pages)
            if count > limits.max_pdf_pages:
                raise UnreadableFileError(f"too many pages: {count} > limit {limits.max_pdf_pages}")
            pages, size = [], 0
            for page in reader.pages:
                text = page.extract_text() or ""
                size += len(text)
                if size > budget:
                    raise UnreadableFileError(too_large(size, budget, "too much text when unpacked"))
                pages.append(text)
            title = pdf_title(reader.metadata.title if reader.metadata else None)
    except UnreadableFileError:
        raise
    except LimitReachedError:
        raise UnreadableFileError(f"too large when unpacked: a part inflates past {budget / MB:g} MB") from None
    except PyPdfError as error:
        raise UnreadableFileError(f"not a valid PDF: {one_line(error)}") from None
    except _LIBRARY_ERRORS as error:
        raise UnreadableFileError(f"not a valid PDF: {one_line(error)}") from None
    text, starts = joined_pages(pages)
    if not text.strip():
        raise UnreadableFileError("no extractable text (scanned PDF?)")
    return text, title, "pypdf", Outline(pages=starts)


def pdf_title(title: object) -> str | None:
    """The PDF's metadata title, unless it is empty or a file name left by the authoring tool."""
    title = " ".join(str(title or "").split())
    return title if title and not _FILE_NAME.search(title) else None
