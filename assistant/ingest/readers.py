"""Find files and read them into :class:`LoadedDocument`s: decoded text plus its metadata.

One reader per format (txt, md, html, pdf, docx) turns the file's bytes into text and, when the format
has one, a title. The text is kept as extracted (only newlines are normalized) because chunk offsets
index into it.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import os
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

from assistant.models import DocumentInfo, LoadedDocument
from assistant.text.language import detect_language
from assistant.text.lexicon import MONTH_ABBREVIATIONS, MONTHS
from assistant.text.sentences import fold, split_sentences

SUPPORTED_EXTENSIONS = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")

MAX_TITLE_CHARS = 200
_MB = 1024 * 1024
# Share of control characters (other than tab, newlines, form feed) above which "text" is binary.
_MAX_CONTROL_SHARE = 0.05
_BINARY_SAMPLE_BYTES = 64 * 1024


class FileRef(NamedTuple):
    """A file found by :func:`discover_files`."""

    root: Path
    path: Path
    doc_id: str


class SkippedFile(NamedTuple):
    """A file or folder that discovery left out, and why."""

    path: Path
    reason: str


class UnreadableFileError(Exception):
    """A file that cannot be turned into text; the message is a one-line reason."""


class _Extracted(NamedTuple):
    text: str
    title: str | None
    encoding: str


# ----------------------------------------------------------------------------- discovery


def discover_files(paths: Sequence[Path], extensions: Sequence[str]) -> tuple[list[FileRef], list[SkippedFile]]:
    """Find the files under ``paths`` whose extension is in ``extensions`` (case-insensitive).

    Folders are searched recursively in sorted order; names starting with '.' are skipped; symbolic
    links are followed, but a folder reached twice (a symlink loop or a second link to it) is
    reported as skipped instead of being walked again. A file reached through several paths is
    returned once. Files with other extensions are ignored silently, unless named explicitly.
    Raises FileNotFoundError if one of ``paths`` does not exist.
    """
    wanted = {_normalize_extension(extension) for extension in extensions}
    refs: list[FileRef] = []
    skipped: list[SkippedFile] = []
    seen_files: dict[Path, str] = {}
    seen_dirs: set[Path] = set()
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise FileNotFoundError(f"No such file or directory: {path}")
        if path.is_dir():
            root = path.absolute()
            found = sorted(_walk(root, root, wanted, seen_dirs, [], skipped), key=lambda ref: ref.doc_id)
        else:
            found = _single_file(path.absolute(), wanted, skipped)
        for ref in found:
            target = ref.path.resolve()
            if target in seen_files:
                skipped.append(SkippedFile(ref.path, f"same file as {seen_files[target]}"))
            else:
                seen_files[target] = ref.doc_id
                refs.append(ref)
    return refs, skipped


def _single_file(path: Path, wanted: set[str], skipped: list[SkippedFile]) -> list[FileRef]:
    if not path.is_file():
        skipped.append(SkippedFile(path, "not a regular file"))
        return []
    if _normalize_extension(path.suffix) not in wanted:
        skipped.append(SkippedFile(path, f"unsupported file type {path.suffix or '(no extension)'}"))
        return []
    return [FileRef(path.parent, path, path.name)]


def _walk(
    directory: Path,
    root: Path,
    wanted: set[str],
    seen_dirs: set[Path],
    ancestors: list[Path],
    skipped: list[SkippedFile],
) -> Iterator[FileRef]:
    resolved = directory.resolve()
    if resolved in ancestors:
        skipped.append(SkippedFile(directory, "symlink loop"))
        return
    if resolved in seen_dirs:
        skipped.append(SkippedFile(directory, "folder already included through another path"))
        return
    seen_dirs.add(resolved)
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError as error:
        skipped.append(SkippedFile(directory, f"cannot list folder: {error.strerror or error}"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = directory / entry.name
        if _is_dir(entry):
            yield from _walk(path, root, wanted, seen_dirs, [*ancestors, resolved], skipped)
        elif _normalize_extension(path.suffix) in wanted:
            if _is_file(entry):
                yield FileRef(root, path, path.relative_to(root).as_posix())
            else:
                skipped.append(SkippedFile(path, "broken link or not a regular file"))


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # e.g. a symlink chain too deep to resolve
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _normalize_extension(extension: str) -> str:
    return "." + extension.lower().lstrip(".") if extension else ""


# ----------------------------------------------------------------------------- reading


def read_document(ref: FileRef, max_bytes: int) -> LoadedDocument:
    """Read and decode ``ref`` into its text and metadata.

    ``indexed_at`` and ``n_chunks`` are left for ingestion to fill. Raises UnreadableFileError with a
    one-line reason for files that are too large, gone, empty, binary, corrupt or without text.
    """
    fmt = _normalize_extension(ref.path.suffix).lstrip(".")
    reader = _READERS.get(fmt)
    if reader is None:
        raise UnreadableFileError(f"unsupported file type .{fmt}")
    raw = _read_bytes(ref.path, max_bytes)
    if not raw.strip():
        raise UnreadableFileError("empty file")
    extracted = reader(raw)
    text = _normalize_newlines(extracted.text)
    if not text.strip():
        raise UnreadableFileError("empty file" if fmt in ("txt", "md") else "no text content")
    info = DocumentInfo(
        doc_id=ref.doc_id,
        path=str(ref.path.absolute()),
        title=_clip_title(extracted.title) or first_line_title(text),
        language=detect_language(text),
        date=find_date(text),
        sha256=hashlib.sha256(raw).hexdigest(),
        encoding=extracted.encoding,
        format="html" if fmt == "htm" else fmt,
        n_chars=len(text),
        n_chunks=0,
        indexed_at="",
    )
    return LoadedDocument(info=info, text=text)


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UnreadableFileError(_too_large(size, max_bytes))
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UnreadableFileError("file disappeared") from None
    except IsADirectoryError:
        raise UnreadableFileError("not a regular file") from None
    except OSError as error:
        raise UnreadableFileError(f"cannot read: {error.strerror or error}") from None
    if len(raw) > max_bytes:  # grew since stat
        raise UnreadableFileError(_too_large(len(raw), max_bytes))
    return raw


def _too_large(size: int, max_bytes: int) -> str:
    return f"too large: {size / _MB:.1f} MB > limit {max_bytes / _MB:g} MB"


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_txt(raw: bytes) -> _Extracted:
    text, encoding = decode_text(raw)
    return _Extracted(text, None, encoding)


_MD_HEADING = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def _read_md(raw: bytes) -> _Extracted:
    text, encoding = decode_text(raw)
    heading = _MD_HEADING.search(_normalize_newlines(text))
    return _Extracted(text, heading.group(1) if heading else None, encoding)


_HTML_DROP = ("script", "style", "noscript", "template", "head")
# fmt: off
_HTML_BLOCKS = (
    "address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
    "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "td", "th", "tr", "ul",
)
# fmt: on
_SPACES = re.compile(r"[^\S\n]+")
_WHITESPACE = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")


def _read_html(raw: bytes) -> _Extracted:
    from bs4 import BeautifulSoup

    text, encoding = _decode_html(raw)
    soup = BeautifulSoup(text, "lxml")
    title = _html_title(soup)  # before _html_text drops <head>
    return _Extracted(_html_text(soup), title, encoding)


def _html_text(soup: Any) -> str:
    """The visible text: one line per block element, paragraphs separated by a blank line."""
    from bs4.element import NavigableString

    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    for node in soup.find_all(string=True):
        if type(node) is not NavigableString:  # comments, doctype, CDATA, processing instructions
            node.extract()
        elif node.find_parent("pre") is None:  # source line breaks are just spaces outside <pre>
            node.replace_with(_WHITESPACE.sub(" ", str(node)))
    for tag in soup.find_all("br"):
        tag.replace_with("\n")
    for tag in soup.find_all(_HTML_BLOCKS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    lines = (_SPACES.sub(" ", line).strip() for line in soup.get_text().splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


def _html_title(soup: Any) -> str | None:
    for name in ("title", "h1"):
        tag = soup.find(name)
        if tag is not None and tag.get_text(strip=True):
            return str(_SPACES.sub(" ", tag.get_text(" ", strip=True)))
    return None


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)


def _decode_html(raw: bytes) -> tuple[str, str]:
    """Decode HTML by BOM, then its meta charset, then the plain-text rules."""
    declared = _META_CHARSET.search(raw[:4096])
    if declared and not raw.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        _reject_binary(raw)
        encoding = _known_codec(declared.group(1).decode("ascii", "replace"))
        if encoding:
            try:
                return raw.decode(encoding), encoding
            except UnicodeDecodeError:
                pass  # the declaration lies: fall back to detection
    return decode_text(raw)


def _known_codec(name: str) -> str | None:
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    # As browsers do: pages labelled latin-1 or ascii are in practice written in cp1252.
    return "cp1252" if codec in ("iso8859-1", "ascii") else codec


def _read_pdf(raw: bytes) -> _Extracted:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableFileError("encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = _pdf_title(reader.metadata.title if reader.metadata else None)
    except UnreadableFileError:
        raise
    except Exception as error:  # pypdf raises many kinds of errors on broken files
        raise UnreadableFileError(f"not a valid PDF: {_one_line(error)}") from None
    text = "\n\n".join(page.strip("\n") for page in pages if page.strip())
    if not text.strip():
        raise UnreadableFileError("no extractable text (scanned PDF?)")
    return _Extracted(text, title, "pypdf")


_FILE_NAME = re.compile(r"\.\w{2,4}$|^untitled$", re.IGNORECASE)


def _pdf_title(title: object) -> str | None:
    """The PDF's metadata title, unless it is empty or a file name left by the authoring tool."""
    title = " ".join(str(title or "").split())
    return title if title and not _FILE_NAME.search(title) else None


def _read_docx(raw: bytes) -> _Extracted:
    import docx

    try:
        paragraphs = docx.Document(io.BytesIO(raw)).paragraphs
        texts = [(paragraph.style.name if paragraph.style else "", paragraph.text) for paragraph in paragraphs]
    except Exception as error:  # a corrupt zip or XML surfaces as many error types
        raise UnreadableFileError(f"not a valid DOCX: {_one_line(error)}") from None
    headings = [text for style, text in texts if _is_heading_style(style) and text.strip()]
    return _Extracted("\n".join(text for _, text in texts), headings[0] if headings else None, "python-docx")


def _is_heading_style(name: str | None) -> bool:
    return bool(name) and (str(name).startswith("Heading") or name == "Title")


def _one_line(error: Exception) -> str:
    message = " ".join(str(error).split()) or type(error).__name__
    return message[:200]


_READERS: dict[str, Callable[[bytes], _Extracted]] = {
    "txt": _read_txt,
    "md": _read_md,
    "html": _read_html,
    "htm": _read_html,
    "pdf": _read_pdf,
    "docx": _read_docx,
}


# ----------------------------------------------------------------------------- decoding


def decode_text(raw: bytes) -> tuple[str, str]:
    """Decode the bytes of a text file; return the text and the encoding used.

    UTF-8 (BOM removed, recorded as "utf-8-sig"), UTF-16 with a BOM, otherwise cp1252, and latin-1
    for bytes cp1252 leaves undefined. Raises UnreadableFileError for binary content.
    """
    if raw.startswith(codecs.BOM_UTF8):
        return _decode(raw, "utf-8-sig")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode(raw, "utf-16")
    _reject_binary(raw)
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1"), "latin-1"  # decodes any byte


def _decode(raw: bytes, encoding: str) -> tuple[str, str]:
    try:
        return raw.decode(encoding), encoding
    except UnicodeDecodeError:
        raise UnreadableFileError(f"invalid {encoding} text") from None


# Control characters that do not occur in text (tab, newlines and form feed do).
_CONTROL_BYTES = bytes(byte for byte in range(32) if byte not in b"\t\n\r\f") + b"\x7f"


def _reject_binary(raw: bytes) -> None:
    sample = raw[:_BINARY_SAMPLE_BYTES]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if b"\x00" in sample or controls > _MAX_CONTROL_SHARE * len(sample):
        raise UnreadableFileError("binary content, not text")


# ----------------------------------------------------------------------------- metadata


_DATE_MARKER = re.compile(r"^\s*date\s+\d{4}-\d{2}(?:-\d{2})?\s+", re.IGNORECASE)


def first_line_title(text: str) -> str:
    """A title from the first non-empty line (without a leading "date YYYY-MM" marker).

    A line longer than MAX_TITLE_CHARS is shortened to its first sentence, or cut at a word.
    """
    for line in text.splitlines():
        line = _DATE_MARKER.sub("", line).strip()
        if line:
            return _clip_title(line) or ""
    return ""


def _clip_title(title: str | None) -> str | None:
    if title is None:
        return None
    title = " ".join(title.split())
    if len(title) <= MAX_TITLE_CHARS:
        return title or None
    sentences = split_sentences(title)
    if sentences and len(sentences[0].text) <= MAX_TITLE_CHARS:
        return sentences[0].text
    cut = title[: MAX_TITLE_CHARS - 1]
    return cut[: cut.rfind(" ")] + "…" if " " in cut else cut + "…"


_YEAR = r"(?P<year>(?:19|20)\d{2})"
_DAY = r"(?P<day>[0-3]?\d)"


def _alternatives(names: Sequence[str]) -> str:
    return "|".join(sorted(names, key=len, reverse=True))


_ANY_MONTH = _alternatives([*MONTHS, *MONTH_ABBREVIATIONS])
_DATE_PATTERNS = (
    re.compile(rf"\b{_YEAR}-(?P<month>[01]\d)(?:-{_DAY})?\b(?!-\d)"),
    re.compile(rf"\b{_DAY}(?:st|nd|rd|th|er|°)?\.?\s+(?P<name>{_ANY_MONTH})\.?,?\s+{_YEAR}\b"),
    re.compile(rf"\b(?P<name>{_ANY_MONTH})\.?\s+{_DAY}(?:st|nd|rd|th)?,?\s+{_YEAR}\b"),
    re.compile(rf"\b(?P<name>{_alternatives(list(MONTHS))})\s+(?:de\s+|del\s+)?{_YEAR}\b"),
)


def find_date(text: str) -> str | None:
    """The first date ``text`` states, as "YYYY-MM-DD" or "YYYY-MM" (month and year only), or None.

    Understands ISO dates ("2024-03", "2024-03-15") and written dates in English, Italian and French
    ("25 Mar 2024", "15 febbraio 2024", "15 février 2024", "March 15, 2024", "March 2024").
    """
    folded = fold(text)
    found: list[tuple[int, str]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(folded):
            normalized = _normalize_date(match)
            if normalized:
                found.append((match.start(), normalized))
                break
    return min(found)[1] if found else None


def _normalize_date(match: re.Match[str]) -> str | None:
    groups = match.groupdict()
    year = int(groups["year"])
    if groups.get("name"):
        name = groups["name"]
        month = MONTHS.get(name) or MONTH_ABBREVIATIONS.get(name, 0)
    else:
        month = int(groups["month"])
    day = int(groups["day"]) if groups.get("day") else None
    try:
        date(year, month, day or 1)
    except ValueError:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}" if day else f"{year:04d}-{month:02d}"
