"""When a question asks when the document itself was published, its dateline answers it.

"When was the article "OpenAI tenta la conquista di Hollywood con Sora" published?" is not answered
by any sentence of the article: its answer is the line under the title, "da | 25 Mar 2024 | IA",
or the "date 2024-03" marker that opens a scraped article. Both are left out of the ranked
sentences (a heading, a metadata marker), so the extractive answer quotes the dateline instead,
verbatim and with its offsets, when the question asks for a document's date (a date question
that names an article or document and its publication) and a retrieved passage opens a document
with one. Every other question is answered as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.answer.kinds import question_kind
from assistant.answer.rank import HEADING_WORDS, Ranked, Sentence, Signals
from assistant.ingest.metadata import date_marker_length
from assistant.models import Hit
from assistant.text.sentences import split_sentences, words

HEADER_LINES = 3
"""A dateline is among the first lines of its document (title, byline, date)."""
OPENS_WITHIN = 16
"""A passage starting within this many characters of its document opens it (blanks may precede it)."""

_DOCUMENT = re.compile(r"\b(article|articles|articolo|articoli|post|notizia|news|document|documento)\b")
_PUBLISHED = re.compile(
    r"\b(publish\w*|publication|written|dated|pubblicat[oaie]|pubblicazione|uscit[oaie]|scritt[oaie]|"
    r"datat[oaie]|publie\w*|parution|paru\w*|ecrit\w*|date)\b"
)
_YEAR = re.compile(r"(1[5-9]|20)\d\d")


def asks_document_date(question: str) -> bool:
    """Whether ``question`` asks when a document (an article, a post) was published or written."""
    if question_kind(question) != "date":
        return False
    text = " ".join(words(question.split("?", 1)[0]))
    return bool(_DOCUMENT.search(text) and _PUBLISHED.search(text))


def dateline(question: str, hits: Sequence[Hit]) -> Ranked | None:
    """The dateline of the best-ranked retrieved document that has one, as a quotable candidate,
    when ``question`` asks for a document's date; None otherwise.

    A dateline is a line of at most :data:`~assistant.answer.rank.HEADING_WORDS` words with a year,
    among the lines after the title of a passage that opens its document (up to its
    :data:`HEADER_LINES`-th), or that passage's leading "date YYYY-MM" marker.
    """
    if not asks_document_date(question):
        return None
    for number, hit in enumerate(hits, start=1):
        if hit.start > OPENS_WITHIN or hit.boilerplate:
            continue
        for line, span in enumerate(split_sentences(hit.text)[:HEADER_LINES]):
            marker = date_marker_length(span.text)
            if line == 0 and not marker:
                continue  # the title, even one with a year, says what the document is about
            text = span.text[:marker] if marker else span.text
            stripped = text.strip()
            if not stripped or len(words(stripped)) > HEADING_WORDS or not _has_year(stripped):
                continue
            start = span.start + len(text) - len(text.lstrip())
            sentence = Sentence(number, start, start + len(stripped), stripped, hit.language)
            return Ranked(sentence, Signals(dense=0.0, bm25=0.0, coverage=0.0, names=0.0, fits=True), 1.0)
    return None


def _has_year(text: str) -> bool:
    return any(_YEAR.fullmatch(word) for word in words(text))
