"""Hostile files, generated here (none is committed): each is refused by name in seconds and bounded memory.

Every read runs in a child process with its address space capped, so a reader that tried to
inflate a bomb would die of MemoryError (or hit the timeout) instead of passing.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

import pytest

from assistant.ingest.readers import FileRef, ReadLimits, UnreadableFileError, read_document

REPO = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
CHILD_MEMORY_MB = 1536  # address space of the reading process: python and its libraries, plus a margin
CHILD_TIMEOUT = 120  # seconds; each read takes a few (the machine may be busy)

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
RELATIONSHIPS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="word/document.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/></Relationships>'
)

_CHILD = """
import json, resource, sys, time
limit = int(sys.argv[2]) * 1024 * 1024
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from pathlib import Path
from assistant.ingest.readers import FileRef, UnreadableFileError, read_document
path = Path(sys.argv[1])
started = time.perf_counter()
try:
    document = read_document(FileRef(path.parent, path, path.name), 50 * 1024 * 1024)
    outcome = {"read": document.info.n_chars}
except UnreadableFileError as error:
    outcome = {"refused": str(error)}
outcome["seconds"] = time.perf_counter() - started
# VmHWM, not ru_maxrss: Linux carries the parent's peak over into a child's ru_maxrss across fork and exec
status = Path("/proc/self/status").read_text()
outcome["peak_mb"] = int(status.split("VmHWM:")[1].split()[0]) / 1024
print(json.dumps(outcome))
"""


def read_in_child(path: Path) -> dict[str, object]:
    """Read ``path`` in a child process with bounded memory; what happened, with its time and peak memory."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(CHILD_MEMORY_MB)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def write_docx(path: Path, body: Iterable[bytes], extra_parts: int = 0) -> Path:
    """A .docx whose body XML is streamed from ``body`` (so a bomb never sits in this process's memory)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELATIONSHIPS)
        for number in range(extra_parts):
            archive.writestr(f"word/media/part{number}.xml", "<x/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W}"><w:body>'.encode())
            for piece in body:
                part.write(piece)
            part.write(b"</w:body></w:document>")
    return path


def paragraph(text: str, style: str = "") -> bytes:
    props = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f"<w:p>{props}<w:r><w:t xml:space='preserve'>{text}</w:t></w:r></w:p>".encode()


# -- docx ---------------------------------------------------------------------------------------


def test_docx_of_empty_paragraphs_is_refused(tmp_path: Path) -> None:
    """77 KB that inflate to 50 MB of empty paragraphs (it ran 15 minutes at 4.3 GB)."""
    path = write_docx(tmp_path / "empty.docx", (b"<w:p/>" * 100_000 for _ in range(84)))
    assert path.stat().st_size < 200_000
    outcome = read_in_child(path)
    assert outcome.get("refused") == "too many paragraphs in the DOCX: more than 200000", outcome


def test_zip_bomb_docx_is_refused_before_unpacking(tmp_path: Path) -> None:
    """About 1 MB on disk, 1 GB unpacked (it peaked at 2.4 GB): the declared sizes say so before any work."""
    text = b"<w:p><w:r><w:t>" + b" " * MB + b"</w:t></w:r></w:p>"
    path = write_docx(tmp_path / "bomb.docx", (text for _ in range(1024)))
    assert path.stat().st_size < 2 * MB
    outcome = read_in_child(path)
    assert outcome.get("refused") == "too large when unpacked: 1024.0 MB > limit 100 MB", outcome
    assert float(str(outcome["peak_mb"])) < 500


def test_docx_with_too_many_parts_is_refused(tmp_path: Path) -> None:
    path = write_docx(tmp_path / "parts.docx", [paragraph("Hello.")], extra_parts=1200)
    with pytest.raises(UnreadableFileError, match=r"^too many parts in the DOCX: 1203 > limit 1000$"):
        read_document(FileRef(tmp_path, path, path.name), 50 * MB)


def test_docx_limits_come_from_the_settings(tmp_path: Path) -> None:
    path = write_docx(tmp_path / "memo.docx", [paragraph(f"Paragraph {n}.") for n in range(20)])
    limits = ReadLimits(max_unpacked_bytes=MB, max_parts=10, max_paragraphs=5, max_pdf_pages=5, max_html_nodes=5)
    with pytest.raises(UnreadableFileError, match="more than 5"):
        read_document(FileRef(tmp_path, path, path.name), 50 * MB, limits)
    assert read_document(FileRef(tmp_path, path, path.name), 50 * MB).text.count("\n") == 19


def test_docx_tables_text_boxes_and_tracked_changes(tmp_path: Path) -> None:
    """Table cells and text boxes are read once each; deleted text and a drawing's fallback copy are not."""
    mc = "http://schemas.openxmlformats.org/markup-compatibility/2006"
    box = f"<w:txbxContent>{paragraph('In the box.').decode()}</w:txbxContent>"
    body = [
        paragraph("Prices", style="Heading1"),
        b"<w:tbl><w:tr><w:tc>" + paragraph("Widget") + b"</w:tc>",
        b"<w:tc>" + paragraph("19.99") + b"</w:tc></w:tr></w:tbl>",
        (
            f"<w:p><w:r><w:t>Kept</w:t></w:r><w:del><w:r><w:delText>gone</w:delText><w:t>gone too</w:t></w:r></w:del>"
            f"<w:r><w:tab/><w:t>after a tab</w:t><w:br/><w:t>next line</w:t></w:r>"
            f'<w:r><mc:AlternateContent xmlns:mc="{mc}"><mc:Choice Requires="wps">{box}</mc:Choice>'
            f"<mc:Fallback>{box}</mc:Fallback></mc:AlternateContent></w:r></w:p>"
        ).encode(),
    ]
    path = write_docx(tmp_path / "prices.docx", body)
    document = read_document(FileRef(tmp_path, path, path.name), 50 * MB)
    assert document.text == "Prices\nWidget\n19.99\nIn the box.\nKept\tafter a tab\nnext line"
    assert document.info.title == "Prices"


# -- pdf ----------------------------------------------------------------------------------------


def pdf(pages: list[bytes]) -> bytes:
    """A PDF with one page per content stream (each already FlateDecode'd), Helvetica as font F1."""
    count = len(pages)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(count)), count),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for number, stream in enumerate(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R"
            b" /Resources << /Font << /F1 3 0 R >> >> >>" % (5 + 2 * number)
        )
        objects.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)


def text_stream(text: str) -> bytes:
    return zlib.compress(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1"))


def test_pdf_with_too_many_pages_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pages.pdf"
    path.write_bytes(pdf([text_stream(f"Page {n}.") for n in range(8)]))
    limits = ReadLimits(max_unpacked_bytes=MB, max_parts=10, max_paragraphs=10, max_pdf_pages=5, max_html_nodes=10)
    with pytest.raises(UnreadableFileError, match=r"^too many pages: 8 > limit 5$"):
        read_document(FileRef(tmp_path, path, path.name), 50 * MB, limits)
    assert "Page 7." in read_document(FileRef(tmp_path, path, path.name), 50 * MB).text


def test_pdf_stream_bomb_is_refused(tmp_path: Path) -> None:
    """A content stream of about 200 KB that inflates to 200 MB."""
    compressor = zlib.compressobj(9)
    stream = compressor.compress(b"BT /F1 12 Tf 72 720 Td (Bomb) Tj ET\n")
    stream += b"".join(compressor.compress(b" " * MB) for _ in range(200)) + compressor.flush()
    path = tmp_path / "bomb.pdf"
    path.write_bytes(pdf([stream]))
    assert path.stat().st_size < MB
    outcome = read_in_child(path)
    assert str(outcome.get("refused", "")).startswith("too large when unpacked"), outcome


# -- html ---------------------------------------------------------------------------------------


def test_html_with_too_many_elements_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nodes.html"
    path.write_bytes(b"<html><body>" + b"<b>x</b>" * 600_000 + b"</body></html>")
    outcome = read_in_child(path)
    assert outcome.get("refused") == "too many HTML elements: more than 500000", outcome


def test_big_ordinary_html_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """20 MB of paragraphs: read in one streaming pass (a tree of it would hold hundreds of MB)."""
    sentence = "<p>Il traghetto per Pirano parte da Trieste alle 9:15 ogni mattina, anche la domenica.</p>\n"
    path = tmp_path / "big.html"
    path.write_text("<html><body>" + sentence * (20 * MB // len(sentence)) + "</body></html>", encoding="utf-8")
    outcome = read_in_child(path)
    assert int(str(outcome.get("read", 0))) > 15 * MB, outcome
