"""Documents with pages, headings and lines, written by the tests (nothing is committed).

The PDF is written by hand (objects, content streams with Helvetica text, a correct xref table),
so pypdf and pdfium read a real, valid file; the .docx is written with python-docx.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PDF_PAGES = [
    [
        "Annual report of the Lumen cooperative.",
        "The cooperative was founded in Trento in 1998.",
        "It rents bicycles to the members of the valley.",
        "",
        "This report covers the year from January to December.",
        "It was approved by the assembly of the members in March.",
    ],
    [
        "Members and fees.",
        "The yearly membership fee is forty-two euros.",
        "Students pay half of the fee.",
        "",
        "The cooperative counted six hundred members at the end of the year,",
        "one hundred more than the year before. Most of them live in the valley",
        "and use a bicycle of the cooperative at least once a week.",
        "Members may bring a friend on two rides a month without paying.",
    ],
    [
        "Workshops and repairs.",
        "The repair workshop opens every Saturday morning.",
        "Spare parts are sold at cost to every member.",
        "",
        "Volunteers teach members to fix a puncture and adjust their brakes.",
    ],
]
"""Lines of each page of :func:`write_pdf` (the quote tests look for these)."""

MARKDOWN = """# Guide du vélo

Introduction au service de prêt.

## Procédure

Il faut remplir le formulaire en ligne.

### Coût

Le prêt coûte douze euros par mois.

```
# not a heading, inside a fence
```

## Retour

Le vélo est rendu au dépôt de la gare.
"""

HTML = """<!doctype html><html><head><title>Orari della biblioteca</title></head><body>
<h1>Orari della biblioteca</h1><p>La biblioteca civica è aperta a tutti.</p>
<h2>Apertura</h2><p>Il lunedì apre alle nove del mattino.</p>
<h3>Estate</h3><p>In agosto la biblioteca chiude alle tredici.</p>
<h2>Prestiti</h2><p>Si possono prendere cinque libri alla volta.</p>
</body></html>
"""

TEXT_LINES = [f"Line {n} of the logbook: the tide was {n % 7} metres." for n in range(1, 61)]


def _pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def pdf_bytes(pages: list[list[str]], size: tuple[int, int] = (612, 792)) -> bytes:
    """A valid PDF with one page per list of lines (Helvetica 12 pt, a line every 18 pt; US Letter by default)."""
    objects: list[bytes] = []
    count = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode())
    font_id = 3 + 2 * count
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 12 Tf", "18 TL", "72 720 Td"]
        for line in lines:
            ops += [f"{_pdf_string(line)} Tj", "T*"]
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {size[0]} {size[1]}] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def write_pdf(path: Path, pages: list[list[str]] | None = None) -> Path:
    """Write :data:`PDF_PAGES` (or ``pages``) as a PDF."""
    path.write_bytes(pdf_bytes(pages or PDF_PAGES))
    return path


def write_docx(path: Path) -> Path:
    """A .docx with a Title, Heading 1 and Heading 2 paragraphs and body text."""
    import docx

    document = docx.Document()
    document.add_heading("Rapporto annuale", level=0)
    document.add_paragraph("Questo rapporto descrive il consorzio.")
    document.add_heading("Bilancio", level=1)
    document.add_paragraph("Le entrate sono cresciute del dieci per cento.")
    document.add_heading("Spese", level=2)
    document.add_paragraph("Le spese del personale sono rimaste stabili.")
    document.add_heading("Progetti", level=1)
    document.add_paragraph("Il nuovo magazzino aprirà in primavera.")
    document.save(str(path))
    return path


def write_text_files(folder: Path) -> dict[str, Path]:
    """The Markdown guide, the HTML page and the logbook (text) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "md": folder / "guide.md",
        "html": folder / "orari.html",
        "txt": folder / "logbook.txt",
    }
    files["md"].write_text(MARKDOWN, encoding="utf-8")
    files["html"].write_text(HTML, encoding="utf-8")
    files["txt"].write_text("\n".join(TEXT_LINES) + "\n", encoding="utf-8")
    return files


def located_corpus(folder: Path) -> dict[str, Path]:
    """Every kind of file of this module in ``folder``: pdf, docx, md, html, txt."""
    files = write_text_files(folder)
    files["pdf"] = write_pdf(folder / "lumen-report.pdf")
    files["docx"] = write_docx(folder / "rapporto.docx")
    return files


def build_located_services(base: Path, chroma_env: dict[str, str]) -> tuple[Any, dict[str, Path]]:
    """Services over a fresh index of :func:`located_corpus` (embedded model, Ollama on a closed port)."""
    import os

    import pytest
    from conftest import CLOSED_PORT_URL, shared_gguf

    from assistant.config import load_settings
    from assistant.services import build_services

    files = located_corpus(base / "corpus")
    env = {
        "ASSISTANT_DATA_DIR": str(base / "data"),
        "ASSISTANT_LLM__BACKEND": "embedded",
        "ASSISTANT_OLLAMA__HOST": CLOSED_PORT_URL,
        "ASSISTANT_EMBEDDING__CACHE_DIR": os.environ.get("ASSISTANT_EMBEDDING__CACHE_DIR", str(base / "cache")),
        "ASSISTANT_EMBEDDED__MODEL_PATH": str(shared_gguf()),
        **chroma_env,
    }
    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("ASSISTANT_")]:
            patch.delenv(key)
        for key, value in env.items():
            patch.setenv(key, value)
        settings = load_settings(corpus_paths=[base / "corpus"])
    services = build_services(settings)
    report = services.ingest()
    assert sorted(report.added) == sorted(path.name for path in files.values()), report
    return services, files
