"""The Documents tab's values: the table, its summary, and what an upload or a removal did."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.models import DocumentInfo
from assistant.text.sanitize import escape

if TYPE_CHECKING:
    from assistant.ingest.sync import IngestReport

DOC_HEADERS = ["Title", "File", "Language", "Chunks", "Indexed"]


def documents_rows(documents: Sequence[DocumentInfo]) -> list[list[Any]]:
    """Rows of the documents table."""
    return [[d.title[:200], d.doc_id, d.language, d.n_chunks, d.indexed_at[:16].replace("T", " ")] for d in documents]


def documents_table(docs: Sequence[DocumentInfo]) -> Any:
    """The documents as a table value."""
    import pandas as pd

    return pd.DataFrame(documents_rows(docs), columns=DOC_HEADERS)


def documents_summary(count: int, uploads: Path) -> str:
    """The line above the table: how many documents, and where uploads are kept."""
    return (
        f'<div class="docs-summary">{count} indexed document{"s" if count != 1 else ""}. '
        f"Uploaded files are kept in <code>{escape(str(uploads))}</code>.</div>"
    )


def index_summary(documents: int, chunks: int) -> str:
    """The index's size, for the status line."""
    return f"{documents} document{'s' if documents != 1 else ''} · {chunks} chunks"


def report_lines(report: IngestReport, names: Sequence[str]) -> tuple[list[str], bool]:
    """What an upload sync did to the uploaded files, and whether all of them were indexed."""
    lines = [f"Added `{n}`" for n in report.added if n in names]
    lines += [f"Updated `{n}`" for n in report.updated if n in names]
    lines += [f"`{n}` is already indexed (unchanged)" for n in report.unchanged if n in names]
    failed = [f for f in report.failed if Path(f.path).name in names]
    lines += [f"Could not index `{Path(f.path).name}`: {f.reason}" for f in failed]
    return lines, not failed


def removal_lines(info: DocumentInfo, uploads: Path) -> list[str]:
    """What removing a document did (read from the file system afterwards), and whether it can come back."""
    path = Path(info.path)
    if not path.exists() and path.parent.resolve() == uploads.resolve():
        return [f"Removed `{info.doc_id}` from the index and deleted the uploaded file."]
    lines = [f"Removed `{info.doc_id}` from the index."]
    if path.exists():
        lines.append(f"The file is still in `{path.parent}`: the next `assistant ingest` of that folder adds it again.")
    return lines
