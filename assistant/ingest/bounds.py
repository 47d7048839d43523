"""What reading one file may cost, and the error for a file that cannot be read.

Files are hostile input: a small .docx can inflate to gigabytes, a PDF can claim a million pages.
Each reader checks these bounds before the expensive step (the zip's declared sizes before
unpacking, the page count before extracting) and refuses the file by name, in bounded time and
memory, instead of trying.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from assistant.config import IngestSettings

MB = 1024 * 1024


class UnreadableFileError(Exception):
    """A file that cannot be turned into text; the message is a one-line reason."""


class ReadLimits(BaseModel):
    """The bounds a reader holds a file to (see :class:`assistant.config.IngestSettings`)."""

    model_config = ConfigDict(frozen=True)

    max_unpacked_bytes: int = Field(gt=0, description="Uncompressed bytes of a .docx, or of one PDF stream.")
    max_parts: int = Field(gt=0, description="Zip members of a .docx.")
    max_paragraphs: int = Field(gt=0, description="Paragraphs of a .docx.")
    max_pdf_pages: int = Field(gt=0, description="Pages of a PDF.")
    max_html_nodes: int = Field(gt=0, description="Elements of an HTML page.")

    @classmethod
    def from_settings(cls, ingest: IngestSettings) -> ReadLimits:
        """The limits the ingest settings ask for."""
        return cls(
            max_unpacked_bytes=int(ingest.max_unpacked_mb * MB),
            max_parts=ingest.max_parts,
            max_paragraphs=ingest.max_paragraphs,
            max_pdf_pages=ingest.max_pdf_pages,
            max_html_nodes=ingest.max_html_nodes,
        )


def default_limits() -> ReadLimits:
    """The limits of the default settings."""
    return ReadLimits.from_settings(IngestSettings())


def too_large(size: int, max_bytes: int, what: str = "too large") -> str:
    """The one-line reason for a size over a limit, in MB."""
    return f"{what}: {size / MB:.1f} MB > limit {max_bytes / MB:g} MB"


def one_line(error: BaseException) -> str:
    """A library's error message on one line, at most 200 characters."""
    message = " ".join(str(error).split()) or type(error).__name__
    return message[:200]
