import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.ingest.readers import (
    SUPPORTED_EXTENSIONS,
    FileRef,
    UnreadableFileError,
    discover_files,
    find_date,
    read_document,
)

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
LIMIT = 1024 * 1024

ITALIAN = "Il modello Sora è stato presentato da OpenAI il 15 febbraio 2024. Gli studi di Hollywood lo hanno provato."


def _read(path: Path, max_bytes: int = LIMIT) -> tuple[str, dict[str, object]]:
    document = read_document(FileRef(path.parent, path, path.name), max_bytes)
    return document.text, document.info.model_dump()


def _text_pdf(text: str) -> bytes:
    return _minimal_pdf(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1"))


def _minimal_pdf(stream: bytes) -> bytes:
    """A one-page PDF drawing ``stream`` (Helvetica as font F1), with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    pdf = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return pdf


# ----------------------------------------------------------------------------- plain text


def test_utf8_text_metadata(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    raw = ("\n  Sora arriva a Hollywood  \n\n" + ITALIAN + "\n").encode()
    path.write_bytes(raw)

    text, info = _read(path)

    assert text == raw.decode()
    assert info["title"] == "Sora arriva a Hollywood"
    assert info["language"] == "it"
    assert info["date"] == "2024-02-15"
    assert info["sha256"] == hashlib.sha256(raw).hexdigest()
    assert info["encoding"] == "utf-8"
    assert info["format"] == "txt"
    assert info["n_chars"] == len(text)
    assert info["n_chunks"] == 0 and info["indexed_at"] == ""


def test_cp1252_is_decoded_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "old.txt"
    path.write_bytes(b"Un caff\xe8 perch\xe9 \x93no\x94 \x80 5, \xe8 cos\xec.")
    text, info = _read(path)
    assert text == "Un caffè perché “no” € 5, è così."
    assert info["encoding"] == "cp1252"


def test_latin1_when_cp1252_cannot_decode(tmp_path: Path) -> None:
    path = tmp_path / "old.txt"
    path.write_bytes(b"caff\xe8 \x81 perch\xe9")
    text, info = _read(path)
    assert text == "caffè \x81 perché"
    assert info["encoding"] == "latin-1"


@pytest.mark.parametrize("name", ["notes.md", "notes.txt"])
def test_a_few_invalid_bytes_keep_the_file_utf8(tmp_path: Path, name: str) -> None:
    """One stray byte once turned a whole UTF-8 file into cp1252 mojibake ("PerchÃ©")."""
    path = tmp_path / name
    good = "# Perché così\n\nIl caffè è buono, la città è bella. " * 20
    path.write_bytes(good.encode() + b"\xff stray \xe8 bytes\xc3\n" + "Già fatto.".encode())
    text, info = _read(path)
    assert text == good + "\ufffd stray \ufffd bytes\ufffd\nGià fatto."
    assert info["encoding"] == "utf-8 (3 bytes replaced)"
    assert "Ã" not in text


def test_a_bom_keeps_utf8_whatever_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfCaff\xe8 e perch\xc3\xa9.")
    text, info = _read(path)
    assert text == "Caff\ufffd e perché." and info["encoding"] == "utf-8-sig (1 byte replaced)"


def test_utf8_bom_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfTitolo\r\nPerch\xc3\xa9 s\xc3\xac.\r\n")
    text, info = _read(path)
    assert text == "Titolo\nPerché sì.\n"
    assert info["encoding"] == "utf-8-sig"
    assert info["title"] == "Titolo"


def test_newlines_are_normalized_and_spaces_kept(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"one  two\r\nthree\rfour\t five\n")
    text, _ = _read(path)
    assert text == "one  two\nthree\nfour\t five\n"


@pytest.mark.parametrize(
    "raw",
    [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", bytes(range(1, 32)) * 20 + b"some text"],
)
def test_binary_renamed_txt_is_refused(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(raw)
    with pytest.raises(UnreadableFileError, match="binary content, not text"):
        _read(path)


@pytest.mark.parametrize("raw", [b"", b"  \n\t\r\n  ", b"\xef\xbb\xbf \n"])
def test_empty_or_whitespace_is_refused(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(raw)
    with pytest.raises(UnreadableFileError, match=r"^empty file$"):
        _read(path)


def test_too_large_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"a" * (3 * 1024 * 1024))
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read a file over the limit"))
    with pytest.raises(UnreadableFileError, match=r"^too large: 3\.0 MB > limit 2 MB$"):
        _read(path, max_bytes=2 * 1024 * 1024)


def test_file_disappearing_after_discovery(tmp_path: Path) -> None:
    path = tmp_path / "gone.txt"
    path.write_text("x", encoding="utf-8")
    refs, _ = discover_files([tmp_path], SUPPORTED_EXTENSIONS)
    os.remove(path)
    with pytest.raises(UnreadableFileError, match=r"^file disappeared$"):
        read_document(refs[0], LIMIT)


# ----------------------------------------------------------------------------- markdown and html


def test_markdown_title_is_the_first_heading(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    source = "Premessa\n\n# Sora e Hollywood #\n\nIl testo resta **com'è**.\n"
    path.write_text(source, encoding="utf-8")
    text, info = _read(path)
    assert text == source
    assert info["title"] == "Sora e Hollywood"
    assert info["format"] == "md"


def test_html_drops_scripts_and_comments_and_separates_blocks(tmp_path: Path) -> None:
    path = tmp_path / "page.htm"
    path.write_bytes(
        b"<!DOCTYPE html><html><head><meta charset='windows-1252'><title>Sora \x96 il lancio</title>"
        b"<style>p { color: red }</style><script>var secret = 1;</script></head>"
        b"<body><!-- a hidden comment --><h1>Sora</h1><p>Un caff\xe8 <b>perch\xe9</b>\n   no.</p>"
        b"<ul><li>uno</li><li>due</li></ul><noscript>enable js</noscript>"
        b"<template><p>hidden</p></template><p>Fine<br>riga</p></body></html>"
    )

    text, info = _read(path)

    assert text == "Sora\n\nUn caffè perché no.\n\nuno\n\ndue\n\nFine\nriga"
    assert info["title"] == "Sora – il lancio"
    assert info["encoding"] == "cp1252"
    assert info["format"] == "html"


def test_html_title_falls_back_to_h1_and_detects_encoding(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes("<html><body><h1>Qui est le directeur ?</h1><p>Réponse.</p></body></html>".encode())
    text, info = _read(path)
    assert info["title"] == "Qui est le directeur ?"
    assert info["encoding"] == "utf-8"
    assert text == "Qui est le directeur ?\n\nRéponse."


def test_html_without_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text("<html><body><script>x()</script></body></html>", encoding="utf-8")
    with pytest.raises(UnreadableFileError, match="no text content"):
        _read(path)


# ----------------------------------------------------------------------------- pdf and docx


def test_pdf_text_is_extracted(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(_text_pdf("Sora was presented in February 2024."))
    text, info = _read(path)
    assert text == "Sora was presented in February 2024."
    assert info["title"] == "Sora was presented in February 2024."
    assert info["format"] == "pdf"
    assert info["date"] == "2024-02"
    assert info["language"] == "en"


def test_pdf_without_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(_minimal_pdf(b"0 0 m 100 100 l S"))
    with pytest.raises(UnreadableFileError, match=r"no extractable text \(scanned PDF\?\)"):
        _read(path)


def test_invalid_pdf_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fake.pdf"
    path.write_bytes(b"this is not a pdf at all")
    with pytest.raises(UnreadableFileError, match=r"^not a valid PDF: "):
        _read(path)


def test_docx_paragraphs_and_heading(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("Bozza interna")
    document.add_heading("Sora e i sindacati", level=1)
    document.add_paragraph("Cosa pensano i sindacati di Sora? Lo dicono il 3 marzo 2024.")
    path = tmp_path / "memo.docx"
    document.save(str(path))

    text, info = _read(path)

    assert text == "Bozza interna\nSora e i sindacati\nCosa pensano i sindacati di Sora? Lo dicono il 3 marzo 2024."
    assert info["title"] == "Sora e i sindacati"
    assert info["format"] == "docx"
    assert info["language"] == "it"
    assert info["date"] == "2024-03-03"


def test_docx_title_falls_back_to_first_paragraph(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("")
    document.add_paragraph("Primo paragrafo")
    path = tmp_path / "memo.docx"
    document.save(str(path))
    _, info = _read(path)
    assert info["title"] == "Primo paragrafo"


def test_corrupt_docx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 definitely not a complete zip archive")
    with pytest.raises(UnreadableFileError, match="not a valid DOCX"):
        _read(path)


# ----------------------------------------------------------------------------- metadata


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" date 2024-03 Il nuovo modello", "2024-03"),
        ("Pubblicato il 2024-03-15.", "2024-03-15"),
        ("da | 25 Mar 2024 | IA", "2024-03-25"),
        ("il 15 febbraio 2024, OpenAI", "2024-02-15"),
        ("le 15 février 2024", "2024-02-15"),
        ("le 1er avril 2024", "2024-04-01"),
        ("on March 15, 2024 and 2023-01-01", "2024-03-15"),
        ("Since March 2024", "2024-03"),
        ("in 2024 and later", None),
        ("the 2019-20 season, code 2024-13", None),
        ("31 febbraio 2024 non esiste", "2024-02"),  # an impossible day falls back to the month
        ("", None),
    ],
)
def test_find_date(text: str, expected: str | None) -> None:
    assert find_date(text) == expected


CORPUS_EXPECTED = {
    "000_9054f5f7106c5075.txt": (
        "it",
        "2024-02-15",
        "Un anno dopo il lancio di “Sora”, il modello di intelligenza artificiale per la generazione di video "
        "di OpenAI, emergono risultati deludenti e critiche interne.",
    ),
    "001_bfcfb1f07bcdb431.txt": ("it", "2024-03-25", "OpenAI tenta la conquista di Hollywood con Sora"),
    "002_21cd4d0107916324.txt": (
        "it",
        "2024-03",
        "Il nuovo modello IA Sora, capace di trasformare testo in video, ha lasciato senza parole semplici "
        "curiosi e addetti ai lavori.",
    ),
    "003_1aeb26e51effe5d5.txt": (
        "it",
        None,
        "OpenAI ha introdotto “Sora,” il suo innovativo modello AI di testo a video, a febbraio, ma da allora "
        "le informazioni sullo sviluppo e il rilascio del prodotto sono state scarse.",
    ),
    "004_5eaa805196ca9fd9.txt": (
        "fr",
        None,
        "Le modèle d’IA vidéo Sora très attendu d’OpenAI n’a pas encore été publié, ce qui suscite une "
        "inquiétude généralisée.",
    ),
}


def test_corpus_documents() -> None:
    refs, skipped = discover_files([CORPUS], SUPPORTED_EXTENSIONS)
    assert [ref.doc_id for ref in refs] == sorted(CORPUS_EXPECTED)
    assert skipped == []
    for ref in refs:
        document = read_document(ref, LIMIT)
        language, date, title = CORPUS_EXPECTED[ref.doc_id]
        info = document.info
        assert (info.language, info.date, info.title) == (language, date, title), ref.doc_id
        assert len(info.title) <= 200
        assert info.encoding == "utf-8"
        assert document.text == ref.path.read_bytes().decode("utf-8").replace("\r\n", "\n")
        assert info.n_chars == len(document.text)


def test_utf16_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "wide.txt"
    path.write_bytes("Perché no?\r\nCosì.".encode("utf-16"))
    text, info = _read(path)
    assert text == "Perché no?\nCosì."
    assert info["encoding"] == "utf-16"


def test_importing_does_no_heavy_work() -> None:
    code = (
        "import sys, assistant.ingest.readers, assistant.text.language; "
        "print(sorted(m for m in ('pypdf', 'docx', 'bs4', 'lxml', 'py3langid') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
