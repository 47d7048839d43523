"""A question about when a document was published is answered by the document's dateline."""

from __future__ import annotations

import pytest

from assistant.answer.dateline import asks_document_date, dateline
from assistant.models import Hit

ARTICLE = "OpenAI tenta la conquista di Hollywood con Sora\n\nda | 25 Mar 2024 | IA\n\nChe Sam Altman abbia una marcia."
SCRAPED = " date 2024-03 Il nuovo modello IA Sora ha lasciato senza parole semplici curiosi e addetti ai lavori."


def hit(text: str, start: int = 0, doc_id: str = "a.txt") -> Hit:
    return Hit(rank=1, chunk_id="c", doc_id=doc_id, title="t", text=text, start=start, end=start + len(text),
               language="it", score=1.0)  # fmt: skip


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ('When was the article "OpenAI tenta la conquista di Hollywood con Sora" published?', True),
        ("Quando è stato pubblicato l'articolo su Sora?", True),
        ("Quand l'article sur Sora a-t-il été publié ?", True),
        ("In che data è uscito questo articolo?", True),
        ("When was Sora presented?", False),  # a date, but not a document's
        ("Quando è stata pubblicata la lettera aperta degli artisti?", False),  # published, but not the document
        ("Which article of the treaty was amended?", False),  # an article, but no date asked
    ],
)
def test_which_questions_ask_for_a_documents_date(question: str, asks: bool) -> None:
    assert asks_document_date(question) is asks


def test_the_byline_under_the_title_is_quoted_with_exact_offsets() -> None:
    found = dateline("When was the article published?", [hit("Altro testo, senza data.", 900), hit(ARTICLE)])
    assert found is not None
    sentence = found.sentence
    assert sentence.passage == 2 and sentence.text == "da | 25 Mar 2024 | IA"
    assert ARTICLE[sentence.start : sentence.end] == sentence.text


def test_a_leading_date_marker_is_a_dateline() -> None:
    found = dateline("Quando è stato pubblicato l'articolo?", [hit(SCRAPED)])
    assert found is not None and found.sentence.text == "date 2024-03"
    assert SCRAPED[found.sentence.start : found.sentence.end] == "date 2024-03"


def test_no_dateline_for_other_questions_titles_or_later_passages() -> None:
    assert dateline("Quando è stato presentato Sora?", [hit(ARTICLE)]) is None
    assert dateline("When was the article published?", [hit(ARTICLE, start=900)]) is None, "not the document's start"
    titled = "La rivoluzione del 1848\n\nIl testo comincia qui, e non ha data.\n\nSegue altro."
    assert dateline("When was the article published?", [hit(titled)]) is None, "a title's year is no dateline"
