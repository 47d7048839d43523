"""The text of a .docx, read by streaming its XML: bounded in size, parts and paragraphs before any work.

A .docx is a zip. Before anything is unpacked, the sum of its members' declared sizes and their
number are checked (Python's zipfile never inflates a member past its declared size, so the check
holds however the archive lies). The main part is then parsed with ``lxml.etree.iterparse`` and
each paragraph is cleared as soon as its text is taken, so memory holds the text and not the XML
tree; the paragraph count is checked as it grows. Body paragraphs, table cells and text boxes are
read in document order, one line each; deleted (tracked) text and the fallback copy of drawings
are skipped. The title is the first paragraph in a Heading or Title style.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO, Any

from assistant.ingest.bounds import ReadLimits, UnreadableFileError, one_line, too_large
from assistant.ingest.outline import joined_headings
from assistant.models import Outline

_WORD = ("http://schemas.openxmlformats.org/wordprocessingml/2006/main", "http://purl.oclc.org/ooxml/wordprocessingml/main")
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_REL = "http://schemas.openxmlformats.org/package/2006/relationships"


def _tags(*names: str) -> frozenset[str]:
    return frozenset(f"{{{ns}}}{name}" for ns in _WORD for name in names)


_P = _tags("p")
_TEXT = _tags("t")
_TAB = _tags("tab", "ptab")
_BREAK = _tags("br", "cr")
_HYPHEN = _tags("noBreakHyphen")
_STYLE = _tags("pStyle")
_SKIPPED = _tags("del", "moveFrom") | {f"{{{_MC}}}Fallback"}
_VAL = tuple(f"{{{ns}}}val" for ns in _WORD)
_BREAK_TYPE = tuple(f"{{{ns}}}type" for ns in _WORD)
_PAGE_BREAKS = frozenset(("page", "column"))
_STYLE_ID = tuple(f"{{{ns}}}styleId" for ns in _WORD)
_NAME = _tags("name")
_STYLE_ELEMENT = _tags("style")
_HEADING = re.compile(r"^(?:heading\s*(\d)|title)$", re.IGNORECASE)
# What zipfile and zlib raise on a broken archive (KeyError: a part that is not there).
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, KeyError)
_MAX_SMALL_PART = 8 * 1024 * 1024  # relationships and styles: small parts, read whole


def read_docx(raw: bytes, limits: ReadLimits) -> tuple[str, str | None, str, Outline]:
    """(text, title or None, "docx", its headings) of a .docx; see the module docstring."""
    from lxml import etree

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            _check_archive(archive, limits)
            main = _main_part(archive)
            headings = _heading_styles(archive, main)
            with archive.open(main) as stream:
                paragraphs = list(_paragraphs(stream, limits.max_paragraphs))
    except UnreadableFileError:
        raise
    except (*_ZIP_ERRORS, etree.LxmlError, NotImplementedError, OSError, ValueError) as error:
        raise UnreadableFileError(f"not a valid DOCX: {one_line(error)}") from None
    title = next((text for style, text in paragraphs if style in headings and text.strip()), None)
    outline = Outline(headings=joined_headings([(headings.get(style), text) for style, text in paragraphs], "\n"))
    return "\n".join(text for _, text in paragraphs), title, "docx", outline


def _check_archive(archive: zipfile.ZipFile, limits: ReadLimits) -> None:
    members = archive.infolist()
    if any(member.flag_bits & 0x1 for member in members):
        raise UnreadableFileError("encrypted DOCX")
    if len(members) > limits.max_parts:
        raise UnreadableFileError(f"too many parts in the DOCX: {len(members)} > limit {limits.max_parts}")
    unpacked = sum(member.file_size for member in members)
    if unpacked > limits.max_unpacked_bytes:
        raise UnreadableFileError(too_large(unpacked, limits.max_unpacked_bytes, "too large when unpacked"))


def _main_part(archive: zipfile.ZipFile) -> str:
    """The document part named by the package relationships (word/document.xml in practice)."""
    names = set(archive.namelist())
    if "_rels/.rels" in names:
        for kind, target in _relationships(archive, "_rels/.rels"):
            if kind.endswith("/officeDocument"):
                target = target.lstrip("/")
                if target in names:
                    return target
    if "word/document.xml" in names:
        return "word/document.xml"
    raise UnreadableFileError("not a valid DOCX: no document part")


def _heading_styles(archive: zipfile.ZipFile, main: str) -> dict[str, int]:
    """Style ids named Heading n or Title, with their level (Title: 0), from the styles part, else by id."""
    ids = {"Title": 0, **{f"Heading{n}": n for n in range(1, 10)}}
    folder = posixpath.dirname(main)
    rels = posixpath.join(folder, "_rels", posixpath.basename(main) + ".rels")
    styles = posixpath.join(folder, "styles.xml")
    if rels in archive.namelist():
        for kind, target in _relationships(archive, rels):
            if kind.endswith("/styles"):
                styles = posixpath.normpath(posixpath.join(folder, target)).lstrip("/")
    if styles not in archive.namelist():
        return ids
    for element in _small_part(archive, styles).iter(*_STYLE_ELEMENT):
        style_id = next((element.get(key) for key in _STYLE_ID if element.get(key)), None)
        name = next((child for child in element if child.tag in _NAME), None)
        value = next((name.get(key) for key in _VAL if name is not None and name.get(key)), "")
        heading = _HEADING.match(value)
        if style_id and heading:
            ids[style_id] = int(heading.group(1) or 0)
    return ids


def _relationships(archive: zipfile.ZipFile, name: str) -> Iterator[tuple[str, str]]:
    for element in _small_part(archive, name).iter(f"{{{_REL}}}Relationship"):
        yield element.get("Type", ""), element.get("Target", "")


def _small_part(archive: zipfile.ZipFile, name: str) -> Any:
    from lxml import etree

    if archive.getinfo(name).file_size > _MAX_SMALL_PART:
        raise UnreadableFileError(f"not a valid DOCX: part {name} is too large")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    return etree.fromstring(archive.read(name), parser)


def _paragraphs(stream: IO[bytes], max_paragraphs: int) -> Iterator[tuple[str, str]]:
    """(style id, text) of every paragraph, in document order (a text box's before its anchor's)."""
    from lxml import etree

    events = etree.iterparse(
        stream, events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    open_paragraphs: list[tuple[list[str], list[str]]] = []  # (text pieces, style) of the paragraphs being read
    skipping = 0
    count = 0
    for event, element in events:
        tag = element.tag
        if event == "start":
            if tag in _SKIPPED:
                skipping += 1
            elif tag in _P and not skipping:
                open_paragraphs.append(([], []))
            continue
        if tag in _SKIPPED:
            skipping -= 1
        elif skipping or not open_paragraphs:
            pass
        elif tag in _TEXT:
            open_paragraphs[-1][0].append(element.text or "")
        elif tag in _TAB:
            open_paragraphs[-1][0].append("\t")
        elif tag in _BREAK:  # a line break; page and column breaks are no text (as python-docx reads them)
            kind = next((element.get(key) for key in _BREAK_TYPE if element.get(key)), None)
            open_paragraphs[-1][0].append("" if kind in _PAGE_BREAKS else "\n")
        elif tag in _HYPHEN:
            open_paragraphs[-1][0].append("-")
        elif tag in _STYLE:
            open_paragraphs[-1][1].append(next((element.get(key) for key in _VAL if element.get(key)), ""))
        elif tag in _P:
            pieces, style = open_paragraphs.pop()
            count += 1
            if count > max_paragraphs:
                raise UnreadableFileError(f"too many paragraphs in the DOCX: more than {max_paragraphs}")
            yield (style[0] if style else ""), "".join(pieces)
        _forget(element)


def _forget(element: Any) -> None:
    """Free a finished element and the siblings before it (iterparse would keep the whole tree).

    At an element's end event its subtree and its earlier siblings have all been read.
    """
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]
