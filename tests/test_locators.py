"""Locators: the page, heading path or line of every citation, stored at ingest (readers, index, CLI, JSON)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import suite_chroma_env
from locator_files import (
    MARKDOWN,
    PDF_PAGES,
    build_located_services,
    write_docx,
    write_pdf,
    write_text_files,
)
from typer.testing import CliRunner

from assistant.answer.locate import heading_path, locate, locate_in_text, locator_of, page_at, section_span
from assistant.cli.app import app
from assistant.ingest.outline import chunk_lines, joined_pages, markdown_headings, normalized_offsets
from assistant.ingest.readers import FileRef, read_document
from assistant.models import Answer, DocumentInfo, Outline, OutlineHeading
from assistant.services import Services

LIMIT = 10**8
# (question, document, quote it must cite, locator label)
QUESTIONS = [
    ("How much is the yearly membership fee of the Lumen cooperative?", "lumen-report.pdf", "forty-two", "p. 2"),
    ("When does the repair workshop open?", "lumen-report.pdf", "Saturday", "p. 3"),
    ("Combien coûte le prêt de vélo par mois ?", "guide.md", "douze", "§ Guide du vélo › Procédure › Coût · line 11"),
    (
        "A che ora chiude la biblioteca in agosto?",
        "orari.html",
        "tredici",
        "§ Orari della biblioteca › Apertura › Estate",
    ),
    ("Come sono le spese del personale?", "rapporto.docx", "personale", "§ Rapporto annuale › Bilancio › Spese"),
]


def read(path: Path) -> tuple[str, DocumentInfo]:
    document = read_document(FileRef(path.parent, path, path.name), LIMIT)
    return document.text, document.info


# -- at ingest: what the readers record ----------------------------------------------------------


def test_pdf_pages_map_every_line_to_its_page(tmp_path: Path) -> None:
    text, info = read(write_pdf(tmp_path / "report.pdf"))
    assert len(info.outline.pages) == len(PDF_PAGES) and info.outline.pages[0] == 0
    for number, lines in enumerate(PDF_PAGES, start=1):
        for line in filter(None, lines):
            offset = text.index(line)
            assert page_at(info.outline, offset) == number, line
            assert page_at(info.outline, offset + len(line) - 1) == number
            assert locate_in_text(info, text, offset).label == f"p. {number}"  # type: ignore[union-attr]


def test_blank_pdf_pages_are_counted_but_hold_no_offset() -> None:
    text, starts = joined_pages(["one\n", "", "\n", "four\n"])
    assert text == "one\n\nfour"
    assert starts == [0, 5, 5, 5]  # pages 2 and 3 have no text: an offset of page 4 maps to page 4
    outline = Outline(pages=starts)
    assert page_at(outline, 0) == 1 and page_at(outline, text.index("four")) == 4


def test_markdown_heading_paths_nest_and_skip_code_fences(tmp_path: Path) -> None:
    files = write_text_files(tmp_path)
    text, info = read(files["md"])
    titles = [(h.level, h.title) for h in info.outline.headings]
    assert titles == [(1, "Guide du vélo"), (2, "Procédure"), (3, "Coût"), (2, "Retour")]
    assert all(text[h.start :].startswith("#") for h in info.outline.headings)
    cost = locate_in_text(info, text, text.index("douze"))
    assert cost is not None and cost.heading == ["Guide du vélo", "Procédure", "Coût"]
    assert cost.line == MARKDOWN.split("\n").index("Le prêt coûte douze euros par mois.") + 1
    assert cost.label == "§ Guide du vélo › Procédure › Coût · line 11"
    back = locate_in_text(info, text, text.index("rendu"))
    assert back is not None and back.heading == ["Guide du vélo", "Retour"]  # "Coût" (level 3) closed by "Retour"


def test_markdown_setext_headings_and_crlf_files(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_bytes("Titre\r\n=====\r\n\r\nTexte.\r\n\r\nSection\r\n-------\r\n\r\nLe détail est ici.\r\n".encode())
    text, info = read(path)
    assert [(h.level, h.title) for h in info.outline.headings] == [(1, "Titre"), (2, "Section")]
    assert [text[h.start : h.start + 5] for h in info.outline.headings] == ["Titre", "Secti"]
    located = locate_in_text(info, text, text.index("détail"))
    assert located is not None and located.heading == ["Titre", "Section"] and located.line == 9


def test_crlf_offsets_move_with_normalised_newlines() -> None:
    raw = "a\r\nb\r\nHEAD\r\nc"
    outline = Outline(
        pages=[0, raw.index("HEAD")], headings=[OutlineHeading(start=raw.index("HEAD"), level=1, title="H")]
    )
    moved = normalized_offsets(raw, outline)
    normal = raw.replace("\r\n", "\n")
    assert moved.pages == [0, normal.index("HEAD")] and moved.headings[0].start == normal.index("HEAD")


def test_html_headings_are_found_on_their_lines(tmp_path: Path) -> None:
    text, info = read(write_text_files(tmp_path)["html"])
    headings = info.outline.headings
    assert [(h.level, h.title) for h in headings] == [
        (1, "Orari della biblioteca"),
        (2, "Apertura"),
        (3, "Estate"),
        (2, "Prestiti"),
    ]
    assert all(text[h.start : h.start + len(h.title)] == h.title for h in headings)
    loans = locate_in_text(info, text, text.index("cinque"))
    assert loans is not None and loans.label == "§ Orari della biblioteca › Prestiti" and loans.line is None


def test_html_heading_in_a_dropped_element_is_not_in_the_outline(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text("<html><body><noscript><h2>Hidden</h2></noscript><h2>Shown</h2><p>Body text.</p></body></html>")
    text, info = read(path)
    assert [h.title for h in info.outline.headings] == ["Shown"] and "Hidden" not in text


def test_docx_heading_levels_come_from_the_styles(tmp_path: Path) -> None:
    text, info = read(write_docx(tmp_path / "rapporto.docx"))
    assert [(h.level, h.title) for h in info.outline.headings] == [
        (0, "Rapporto annuale"),
        (1, "Bilancio"),
        (2, "Spese"),
        (1, "Progetti"),
    ]
    assert all(text[h.start : h.start + len(h.title)] == h.title for h in info.outline.headings)
    projects = locate_in_text(info, text, text.index("magazzino"))
    assert projects is not None and projects.heading == ["Rapporto annuale", "Progetti"]


def test_text_files_give_line_numbers_only(tmp_path: Path) -> None:
    text, info = read(write_text_files(tmp_path)["txt"])
    assert info.outline == Outline()  # nothing stored by the reader: lines are marked at chunk starts
    for number in (1, 12, 60):
        located = locate_in_text(info, text, text.index(f"Line {number} "))
        assert located is not None and located.label == f"line {number}" and located.page is None


def test_chunk_line_marks_give_every_line_from_the_passage_alone() -> None:
    text = "".join(f"row {n}\n" for n in range(1, 101))
    starts = [0, 150, 151, 400]
    marks = chunk_lines(text, starts)
    assert marks == [(s, text.count("\n", 0, s) + 1) for s in starts]
    info = DocumentInfo(
        doc_id="t.txt", path="/t.txt", title="t", language="en", sha256="", encoding="utf-8", format="txt",
        n_chars=len(text), outline=Outline(lines=marks),
    )  # fmt: skip
    passage_start = 400
    passage = text[passage_start : passage_start + 120]
    for offset in range(passage_start, passage_start + len(passage)):
        located = locate(info, offset, passage, passage_start)
        assert located is not None and located.line == text.count("\n", 0, offset) + 1


def test_a_record_of_an_older_index_loads_without_an_outline() -> None:
    old = (
        '{"doc_id": "a.md", "path": "/a.md", "title": "A", "language": "it", "date": null, "sha256": "00",'
        ' "encoding": "utf-8", "format": "md", "n_chars": 10, "n_chunks": 1, "indexed_at": ""}'
    )
    info = DocumentInfo.model_validate_json(old)
    assert info.outline == Outline() and locate(info, 5, "0123456789", 0) is None


def test_no_outline_gives_no_locator() -> None:
    info = DocumentInfo(
        doc_id="old.pdf",
        path="/old.pdf",
        title="t",
        language="en",
        sha256="",
        encoding="pypdf",
        format="pdf",
        n_chars=9,
    )
    assert locate(info, 3) is None  # an index made before outlines were stored: no locator, not a wrong one
    assert locator_of(None, [], None) is None
    assert heading_path([], 10) == [] and section_span([], 5, 50) == (0, 50)


def test_sections_run_to_the_next_heading_of_their_level_and_widen_when_short() -> None:
    headings = [
        OutlineHeading(start=start, level=level, title=str(start))
        for start, level in ((0, 1), (10, 2), (20, 3), (40, 2), (60, 1))
    ]
    assert section_span(headings, 25, 100) == (20, 40)  # "### c" ends at the next "##"
    assert section_span(headings, 25, 100, min_chars=25) == (10, 40)  # too short: its "##" section
    assert section_span(headings, 25, 100, min_chars=1000) == (0, 60)  # the outermost, at most
    assert section_span(headings, 70, 100) == (60, 100)
    assert section_span(headings[1:], 5, 100) == (0, 10)  # before the first heading


def test_many_headings_are_bounded_and_linear() -> None:
    text = "\n".join(f"## H{n}\nbody {n}" for n in range(20_000))
    headings = markdown_headings(text)
    assert len(headings) == 5000  # MAX_HEADINGS: a hostile file cannot blow up the catalog


# -- at question time: every source has its locator and sha256 -----------------------------------


@pytest.fixture(scope="module")
def located(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Services]:
    services, _ = build_located_services(tmp_path_factory.mktemp("located"), suite_chroma_env(request, "located"))
    yield services


@pytest.mark.slow
@pytest.mark.parametrize(("question", "doc_id", "word", "label"), QUESTIONS)
def test_every_source_carries_its_locator_and_sha256(
    located: Services, question: str, doc_id: str, word: str, label: str
) -> None:
    answer = located.ask(question)
    cited = [s for s in answer.sources if word in s.quote]
    assert cited, answer.model_dump_json(indent=1)
    source = cited[0]
    assert source.doc_id == doc_id and source.locator is not None and source.locator.label == label
    info = located.document(doc_id)
    assert info is not None
    assert source.sha256 == info.sha256 == hashlib.sha256(Path(info.path).read_bytes()).hexdigest()
    for other in answer.sources:  # every source of every answer has one
        assert other.locator is not None and other.locator.label and other.sha256


@pytest.mark.slow
def test_indexed_text_file_lines_match_at_every_chunk(located: Services) -> None:
    info = located.document("logbook.txt")
    assert info is not None and info.outline.lines
    text = Path(info.path).read_text(encoding="utf-8")
    chunks = located.index.catalog.document_chunks("logbook.txt")
    assert len(chunks) > 1 and len(info.outline.lines) == len(chunks)
    for chunk in chunks:
        for offset in range(chunk.start, chunk.end, 37):
            located_line = locate(info, offset, chunk.text, chunk.start)
            assert located_line is not None and located_line.line == text.count("\n", 0, offset) + 1


# -- the CLI prints them, --json carries them -------------------------------------------------------


@pytest.mark.slow
def test_cli_prints_the_locator_and_json_carries_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_LLM__BACKEND", "embedded")
    folder = tmp_path / "docs"
    write_text_files(folder)
    write_pdf(folder / "lumen-report.pdf")
    runner = CliRunner()
    ingested = runner.invoke(app, ["ingest", str(folder)])
    assert ingested.exit_code == 0, ingested.output
    printed = runner.invoke(app, ["ask", "How much is the yearly membership fee of the Lumen cooperative?"])
    assert printed.exit_code == 0, printed.output
    assert "lumen-report.pdf, p. 2, chars" in printed.stdout, printed.stdout
    as_json = runner.invoke(app, ["ask", "Combien coûte le prêt de vélo par mois ?", "--json"])
    assert as_json.exit_code == 0, as_json.output
    answer = Answer.model_validate_json(as_json.stdout)
    source = next(s for s in answer.sources if "douze" in s.quote)
    assert source.locator is not None and source.locator.heading == ["Guide du vélo", "Procédure", "Coût"]
    assert source.locator.line == 11 and len(source.sha256) == 64
    raw = json.loads(as_json.stdout)["sources"][0]
    assert raw["locator"]["label"] and raw["sha256"]
