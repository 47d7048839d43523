"""Files added through a shell (the web UI, the API): checked, named safely, copied into the uploads folder.

The uploads folder is part of the corpus: ``Services.add_files`` copies accepted files there and
syncs it like any folder, and ``--rebuild`` re-indexes it.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant.ingest.sync import IngestReport
from assistant.models import DocumentInfo

DocumentLookup = Callable[[str], DocumentInfo | None]


@dataclass
class UploadOutcome:
    """What adding files did: the names saved, the reasons for those refused, the sync's report."""

    saved: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    report: IngestReport | None = None


def safe_file_name(name: str) -> str:
    """A plain file name: no folders, no leading dots, no control or path characters."""
    name = unicodedata.normalize("NFC", Path(name.replace("\\", "/")).name)
    name = re.sub(r"[^\w\s.()+,-]", "_", name).strip().lstrip(".")
    stem, dot, ext = name.rpartition(".")
    return (stem[:120] + dot + ext[:10]) if dot else name[:120]


def save_uploads(
    files: Sequence[str | Path], folder: Path, extensions: Sequence[str], max_mb: float, known: DocumentLookup
) -> tuple[list[str], list[str]]:
    """Copy accepted files into ``folder``; (saved names, reasons for the rejected ones)."""
    folder.mkdir(parents=True, exist_ok=True)
    allowed = {e.lower() for e in extensions}
    limit = max_mb * 1024 * 1024
    saved, rejected = [], []
    for given in files:
        path, name = Path(given), safe_file_name(Path(given).name)
        if Path(name).suffix.lower() not in allowed:
            rejected.append(f"`{name}` was not added: only {', '.join(sorted(allowed))} files are accepted")
        elif not path.is_file() or path.stat().st_size > limit:
            rejected.append(f"`{name}` was not added: larger than {max_mb:g} MB")
        else:
            name = free_name(name, folder, known)
            shutil.copyfile(path, folder / name)
            saved.append(name)
    return saved, rejected


def free_name(name: str, folder: Path, known: DocumentLookup) -> str:
    """``name``, or ``name (2)`` etc. when another indexed document already has that id."""
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, n = name, 1
    while True:
        info = known(candidate)
        if info is None or Path(info.path) == (folder / candidate).absolute():
            return candidate
        n += 1
        candidate = f"{stem} ({n}){suffix}"


def discard_failed(report: IngestReport, names: Sequence[str], folder: Path, known: DocumentLookup) -> None:
    """Delete new uploads that could not be indexed, so they do not fail again at every sync.

    A failed new version of an indexed upload stays: deleting it would prune the indexed version.
    """
    for failed in report.failed:
        path = Path(failed.path)
        if path.name in names and path.parent.resolve() == folder.resolve() and known(path.name) is None:
            path.unlink(missing_ok=True)


def is_upload(info: DocumentInfo, folder: Path) -> bool:
    """Whether this document's file was added through a shell (it lives in the uploads folder)."""
    return Path(info.path).parent.resolve() == folder.resolve()
