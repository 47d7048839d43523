"""The evidence viewer's use case: a cited quote looked up again in its document's current file."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import suite_chroma_env
from locator_files import PDF_PAGES, build_located_services, pdf_bytes, write_pdf, write_text_files

from assistant.answer.evidence_view import EXCERPT_CHARS, DocumentTexts, evidence_view, nearest
from assistant.errors import UsageError
from assistant.ingest.bounds import UnreadableFileError, default_limits
from assistant.ingest.pdf_page import MAX_PIXELS, quote_boxes, render_page
from assistant.ingest.readers import FileRef, read_document
from assistant.models import DocumentInfo, EvidenceView
from assistant.services import Services
from assistant.web.conversation import Turn
from assistant.web.viewer import evidence_html, viewer_html

LIMIT = 10**8
FEE = "The yearly membership fee is forty-two euros."
COST = "Le prêt coûte douze euros par mois."
MARKDOWN_EDITED = "# Guide\n\nUne ligne ajoutée.\n"


def indexed(path: Path) -> tuple[str, DocumentInfo]:
    """The text and the record the catalog would keep for ``path``, as it is now."""
    document = read_document(FileRef(path.parent, path, path.name), LIMIT)
    return document.text, document.info


def view(info: DocumentInfo | None, start: int, quote: str, sha256: str, doc_id: str = "") -> EvidenceView:
    return evidence_view(
        info,
        doc_id or (info.doc_id if info else ""),
        (start, start + len(quote)),
        quote,
        sha256,
        LIMIT,
        default_limits(),
    )


def test_unchanged_pdf_shows_the_page_and_the_quote_boxes(tmp_path: Path) -> None:
    text, info = indexed(write_pdf(tmp_path / "report.pdf"))
    start = text.index(FEE)
    shown = view(info, start, FEE, info.sha256)
    assert shown.status == "unchanged" and "unchanged" in shown.message
    assert (shown.start, shown.end) == (start, start + len(FEE))
    assert shown.page == 2 and shown.page_count == 3 and shown.locator is not None and shown.locator.label == "p. 2"
    assert shown.excerpt == text[shown.excerpt_start : shown.excerpt_start + len(shown.excerpt)]
    assert "Members and fees." in shown.excerpt and "Spare parts" not in shown.excerpt  # the page, not the document
    assert len(shown.boxes) == 1
    box = shown.boxes[0]
    # Helvetica 12 pt at x = 72 pt, the second line of the page (18 pt below the first, at y = 720 pt)
    assert box.left == pytest.approx(72 / 612, abs=0.01) and box.top == pytest.approx((792 - 702 - 10) / 792, abs=0.01)
    assert 0.3 < box.width < 0.6 and 0 < box.height < 0.03


def test_boxes_follow_the_quote_onto_its_page_only(tmp_path: Path) -> None:
    raw = pdf_bytes(PDF_PAGES)
    assert quote_boxes(raw, 3, "Spare parts are sold at cost") and not quote_boxes(raw, 2, "Spare parts are sold")
    two_lines = quote_boxes(raw, 1, "founded in Trento in 1998. It rents bicycles")  # whitespace differs: still found
    assert len(two_lines) == 2 and two_lines[1].top > two_lines[0].top
    png = render_page(raw, 2, 600)
    assert png.startswith(b"\x89PNG") and 500 < int.from_bytes(png[16:20], "big") <= 600


def test_a_huge_declared_page_is_drawn_small_and_a_bad_page_refused() -> None:
    raw = pdf_bytes([["A page that claims to be fourteen metres wide."]], size=(40_000, 40_000))
    png = render_page(raw, 1, 2000)
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width * height <= MAX_PIXELS and width > 100
    with pytest.raises(UnreadableFileError, match="no page 2"):
        render_page(raw, 2)
    with pytest.raises(UnreadableFileError, match="pdfium"):
        render_page(b"%PDF-1.4 not really", 1)


def test_moved_quote_is_found_at_its_new_offsets(tmp_path: Path) -> None:
    path = write_text_files(tmp_path)["md"]
    text, info = indexed(path)
    start = text.index(COST)
    path.write_text("Une note ajoutée en tête.\n\n" + text, encoding="utf-8")
    shown = view(info, start, COST, info.sha256)
    assert shown.status == "moved" and shown.start == start + 27 and shown.sha256 != info.sha256
    assert f"now at characters {start + 27}-{start + 27 + len(COST)}" in shown.message and "was at" in shown.message
    assert shown.locator is not None and shown.locator.heading[-1] == "Coût" and shown.locator.line == 13
    assert "## Procédure" in shown.excerpt and "### Coût" in shown.excerpt  # the quote's (short) section and its parent
    assert shown.excerpt_start == 27 and shown.excerpt_start + len(shown.excerpt) == shown.n_chars  # from "# Guide" on


def test_changed_file_says_the_quote_is_gone(tmp_path: Path) -> None:
    path = write_text_files(tmp_path)["md"]
    text, info = indexed(path)
    start = text.index(COST)
    path.write_text(text.replace(COST, "Le prêt est gratuit."), encoding="utf-8")
    shown = view(info, start, COST, info.sha256)
    assert shown.status == "changed" and shown.start is None and shown.boxes == []
    assert shown.message == "This file changed after the answer; the quote is no longer at these offsets."
    assert "gratuit" in shown.excerpt  # what is there now, around where the quote was


def test_an_answer_without_sha256_is_checked_by_its_offsets(tmp_path: Path) -> None:
    path = write_text_files(tmp_path)["md"]
    text, info = indexed(path)
    shown = view(info, text.index(COST), COST, "")
    assert shown.status == "unchanged" and "did not record" in shown.message


def test_same_offsets_in_a_changed_file(tmp_path: Path) -> None:
    path = write_text_files(tmp_path)["md"]
    text, info = indexed(path)
    start = text.index(COST)
    path.write_text(text + "\nUne ligne de plus.\n", encoding="utf-8")
    shown = view(info, start, COST, info.sha256)
    assert shown.status == "moved" and shown.start == start and "same offsets" in shown.message


def test_deleted_file_and_unknown_document(tmp_path: Path) -> None:
    path = write_text_files(tmp_path)["txt"]
    text, info = indexed(path)
    quote = "Line 12 of the logbook"
    path.unlink()
    gone = view(info, text.index(quote), quote, info.sha256)
    assert gone.status == "missing" and "is gone" in gone.message and gone.excerpt == ""
    unknown = view(None, 0, quote, "", doc_id="removed.txt")
    assert unknown.status == "unknown" and unknown.excerpt == "" and unknown.title == ""


def test_an_unchanged_file_opened_again_is_not_parsed_again(tmp_path: Path) -> None:
    path = write_text_files(tmp_path)["md"]
    _, info = indexed(path)
    texts = DocumentTexts(max_documents=2)
    first = texts.read(info, LIMIT, default_limits())
    assert texts.read(info, LIMIT, default_limits()) is first  # same bytes: the text kept, not read again
    path.write_text(MARKDOWN_EDITED, encoding="utf-8")
    again = texts.read(info, LIMIT, default_limits())
    assert again is not first and "ajoutée" in again.text
    for name in ("a.md", "b.md"):  # two more documents: the least recently used goes
        other = tmp_path / name
        other.write_text(f"# {name}\n", encoding="utf-8")
        texts.read(indexed(other)[1], LIMIT, default_limits())
    path.write_text(MARKDOWN_EDITED, encoding="utf-8")
    assert texts.read(info, LIMIT, default_limits()) is not again


def test_nearest_occurrence_and_bounded_excerpt(tmp_path: Path) -> None:
    assert nearest("ab ab ab ab", "ab", 7) == (6, 8) and nearest("ab", "zz", 0) is None and nearest("x", "", 0) is None
    path = tmp_path / "big.txt"
    filler = "".join(f"Filler line {n} with nothing to say.\n" for n in range(40_000))
    path.write_text(filler + "The needle is here.\n" + filler, encoding="utf-8")
    text, info = indexed(path)
    start = text.index("The needle")
    shown = view(info, start, "The needle is here.", info.sha256)
    assert shown.status == "unchanged" and shown.locator is not None and shown.locator.line == 40_001
    assert len(shown.excerpt) <= 2 * 1500 + 100 <= 2 * EXCERPT_CHARS  # no section: paragraphs around the quote


def test_viewer_html_escapes_the_document_and_marks_the_quote() -> None:
    shown = EvidenceView(
        doc_id="x.html",
        title="<b>T</b>",
        format="html",
        status="unchanged",
        message="ok",
        quote="<script>alert(1)</script>",
        cited_start=4,
        cited_end=29,
        start=4,
        end=29,
        excerpt="Hi! <script>alert(1)</script> bye",
        n_chars=33,
    )
    page = viewer_html(shown, None, 2)
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;T&lt;/b&gt;" in page
    assert '<mark class="ev-quote">&lt;script&gt;alert(1)&lt;/script&gt;</mark>' in page


# -- through the services: only indexed documents, by id ----------------------------------------


@pytest.fixture(scope="module")
def evidence_services(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Services]:
    base = tmp_path_factory.mktemp("evidence")
    services, _ = build_located_services(base, suite_chroma_env(request, "evidence"))
    yield services


@pytest.mark.slow
def test_services_open_an_indexed_document_by_id(evidence_services: Services) -> None:
    answer = evidence_services.ask("How much is the yearly membership fee of the Lumen cooperative?")
    source = next(s for s in answer.sources if "forty-two" in s.quote)
    shown = evidence_services.evidence(source.doc_id, source.start, source.end, source.quote, source.sha256)
    assert shown.status == "unchanged" and shown.page == 2 and shown.boxes
    assert shown.locator == source.locator
    png = evidence_services.page_image(source.doc_id, 2)
    assert png.startswith(b"\x89PNG")
    with pytest.raises(UsageError, match="no page 9"):
        evidence_services.page_image(source.doc_id, 9)
    with pytest.raises(UsageError, match="no indexed PDF"):
        evidence_services.page_image("guide.md", 1)


@pytest.mark.slow
def test_ids_that_look_like_paths_are_refused_without_reading_a_file(
    evidence_services: Services, tmp_path: Path
) -> None:
    corpus = Path(evidence_services.settings.corpus_paths[0])
    secret = corpus.parent / "secret.txt"  # what "../secret.txt" would name beside the corpus
    secret.write_text("TOP SECRET: the vault code is 4321.\n", encoding="utf-8")
    try:
        for doc_id in ("../secret.txt", "../../etc/passwd", str(secret), "/etc/passwd", "guide.md\0"):
            shown = evidence_services.evidence(doc_id, 0, 10, "TOP SECRET", "")
            assert shown.status == "unknown" and shown.excerpt == "", doc_id
            assert "4321" not in shown.model_dump_json() and "root:" not in shown.model_dump_json()
            with pytest.raises(UsageError):
                evidence_services.page_image(doc_id, 1)
    finally:
        secret.unlink()


@pytest.mark.slow
def test_a_removed_document_is_unknown(evidence_services: Services, tmp_path: Path) -> None:
    info = evidence_services.document("logbook.txt")
    assert info is not None
    kept = tmp_path / "logbook.txt"
    shutil.copy(info.path, kept)
    evidence_services.remove_document("logbook.txt")
    try:
        shown = evidence_services.evidence("logbook.txt", 0, 4, "Line", info.sha256)
        assert shown.status == "unknown" and "removed" in shown.message
    finally:
        shutil.copy(kept, info.path)
        evidence_services.ingest()


@pytest.mark.slow
def test_the_viewer_opens_only_sources_of_the_session_conversation(evidence_services: Services) -> None:
    answer = evidence_services.ask("When does the repair workshop open?")
    number = next(s.number for s in answer.sources if "Saturday" in s.quote)
    turns = [Turn(question=answer.question, answer=answer, state="done")]
    page = evidence_html(evidence_services, turns, "0", str(number))
    assert 'data-status="unchanged"' in page and 'data-page="3"' in page and "Page 3 of 3" in page
    assert page.count('class="ev-box"') == 1 and "data:image/png;base64," in page
    assert '<mark class="ev-quote">The repair workshop opens every Saturday morning.</mark>' in page
    for turn, n in (("1", "1"), ("0", "99"), ("x", "1"), (None, None), ("0", "../../etc/passwd")):
        refused = evidence_html(evidence_services, turns, turn, n)
        assert "not in the conversation" in refused and "ev-text" not in refused, (turn, n)
