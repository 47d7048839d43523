"""Re-checking an evidence bundle: every quote read again from its file, through the ingest readers.

For each quote the file's current text is read as ingest reads it (the offsets index into that
text) and its sha256 compared with the one recorded. A quote is ``ok`` when it is still at its
offsets, ``moved`` when it is elsewhere in the file, ``changed`` when it is no longer in it, and
``missing`` when the file is gone or cannot be read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from assistant.config import Settings
from assistant.conversations.export import BundleQuote, EvidenceBundle
from assistant.ingest.bounds import ReadLimits, UnreadableFileError
from assistant.ingest.discovery import FileRef
from assistant.ingest.readers import read_document
from assistant.models import LoadedDocument

QuoteState = Literal["ok", "moved", "changed", "missing"]
PathLookup = Callable[[str], str | None]
"""The current path of an indexed document by id (None when it is not indexed)."""


class QuoteCheck(BaseModel):
    """What became of one quote of a bundle."""

    answer: int = Field(description="1-based position of the answer in the bundle.")
    number: int = Field(description="The quote's source number in its answer.")
    doc_id: str
    state: QuoteState
    path: str = Field("", description="The file that was read (empty when none was found).")
    start: int
    end: int
    now_start: int | None = Field(None, description="Where the quote is now, when it moved.")
    now_end: int | None = None
    sha256_matches: bool = False
    detail: str = ""


class BundleCheck(BaseModel):
    """Every quote of a bundle, checked."""

    quotes: list[QuoteCheck] = Field(default_factory=list)

    @property
    def holds(self) -> bool:
        """True when every quote is still at its offsets."""
        return all(q.state == "ok" for q in self.quotes)

    def counts(self) -> dict[str, int]:
        """How many quotes are in each state."""
        found = {"ok": 0, "moved": 0, "changed": 0, "missing": 0}
        for q in self.quotes:
            found[q.state] += 1
        return found


def verify_bundle(
    bundle: EvidenceBundle, settings: Settings, root: Path | None = None, indexed_path: PathLookup | None = None
) -> BundleCheck:
    """Check every quote of ``bundle`` against the file it came from (see the module's docstring).

    The file is ``root/doc_id`` when ``root`` is given (a bundle checked on another machine), else
    the path recorded in the bundle, else the path the index has for the document now.
    Each file is read once, however many quotes cite it.
    """
    texts: dict[str, tuple[LoadedDocument | None, str, str]] = {}
    check = BundleCheck()
    for n, answer in enumerate(bundle.answers, start=1):
        for quote in answer.quotes:
            if quote.doc_id not in texts:
                texts[quote.doc_id] = _read(quote, settings, root, indexed_path)
            loaded, path, why = texts[quote.doc_id]
            check.quotes.append(_check(n, quote, loaded, path, why))
    return check


def _candidates(quote: BundleQuote, root: Path | None, indexed_path: PathLookup | None) -> list[Path]:
    if root is not None:  # a document id never leads out of the root (a bundle is untrusted input)
        path = root / quote.doc_id
        return [path] if path.resolve().is_relative_to(root.resolve()) else []
    found = [Path(quote.path)] if quote.path else []
    if indexed_path is not None and not (found and found[0].is_file()):
        current = indexed_path(quote.doc_id)
        if current:
            found.append(Path(current))
    return found


def _read(
    quote: BundleQuote, settings: Settings, root: Path | None, indexed_path: PathLookup | None
) -> tuple[LoadedDocument | None, str, str]:
    """(the document's current text or None, the path read, why it could not be read)."""
    max_bytes = int(settings.ingest.max_file_mb * 1024 * 1024)
    limits = ReadLimits.from_settings(settings.ingest)
    why = "the bundle records no file for it" if root is None else f"{quote.doc_id!r} is not a file under {root}"
    for path in _candidates(quote, root, indexed_path):
        if not path.is_file():
            why = f"no file at {path}"
            continue
        try:
            return read_document(FileRef(path.parent, path, quote.doc_id), max_bytes, limits), str(path), ""
        except UnreadableFileError as exc:
            return None, str(path), f"cannot read {path}: {exc}"
    return None, "", why


def _check(answer: int, quote: BundleQuote, loaded: LoadedDocument | None, path: str, why: str) -> QuoteCheck:
    result = QuoteCheck(
        answer=answer, number=quote.number, doc_id=quote.doc_id, state="missing", path=path,
        start=quote.start, end=quote.end, detail=why,
    )
    if loaded is None:
        return result
    text = loaded.text
    result.sha256_matches = bool(quote.sha256) and loaded.info.sha256 == quote.sha256
    file_note = "" if result.sha256_matches else "the file changed since the answer; "
    if text[quote.start : quote.end] == quote.quote:
        result.state, result.detail = "ok", f"{file_note}the quote is still at these offsets"
        return result
    at = _nearest(text, quote.quote, quote.start)
    if at < 0:
        result.state, result.detail = "changed", f"{file_note}the quote is no longer in the file"
        return result
    result.state, result.now_start, result.now_end = "moved", at, at + len(quote.quote)
    result.detail = f"{file_note}the quote is still there, now at {at}-{at + len(quote.quote)}"
    return result


def _nearest(text: str, quote: str, start: int) -> int:
    """The occurrence of ``quote`` in ``text`` closest to ``start`` (-1 when there is none); linear scans."""
    if not quote:
        return -1
    after = text.find(quote, max(0, start))
    before = text.rfind(quote, 0, min(len(text), start + len(quote) - 1))
    found = [i for i in (after, before) if i >= 0]
    return min(found, key=lambda i: abs(i - start)) if found else -1
