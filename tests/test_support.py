"""Quote matching: the verbatim span of a passage that supports a claim, copied quotes included."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from fakes.passages import DATE_CLAIM, IT_DOC, LIGHTCAP, LIGHTCAP_SENTENCE, assert_quotes_verbatim, document

from assistant.answer.citations import SUPPORT_THRESHOLD, find_quote, verify_citations
from assistant.models import Hit

pytest_plugins = ["fakes.passage_fixtures"]  # lightcap, dates, unions, security


# --- quotes --------------------------------------------------------------------------------------


def test_quote_is_verbatim_and_offsets_point_into_the_document(lightcap: Hit, dates: Hit) -> None:
    result = verify_citations(f"{DATE_CLAIM} [2]. {LIGHTCAP} [1].", [lightcap, dates])
    assert len(result.sources) == 2
    assert_quotes_verbatim(result)
    doc = document(IT_DOC)
    assert result.sources[1].quote == LIGHTCAP_SENTENCE
    assert result.sources[1].start == doc.index(LIGHTCAP_SENTENCE)
    assert result.sources[1].passage_start == lightcap.start
    assert (result.sources[1].title, result.sources[1].language, result.sources[1].date) == (
        lightcap.title,
        "it",
        "2024-03",
    )


def test_find_quote_returns_a_span_of_the_passage(lightcap: Hit) -> None:
    found = find_quote("Brad Lightcap ha detto che hanno lanciato Sora troppo presto", lightcap, None)
    assert found is not None
    quote, score = found
    assert lightcap.text[quote.start : quote.end] == quote.text == LIGHTCAP_SENTENCE
    assert score >= SUPPORT_THRESHOLD


def test_find_quote_on_an_empty_passage(lightcap: Hit) -> None:
    empty = lightcap.model_copy(update={"text": "  "})
    assert find_quote(LIGHTCAP, empty, None) is None


def test_extractive_answer_scores_about_one(lightcap: Hit) -> None:
    sentences = [LIGHTCAP_SENTENCE, "Questa autocritica evidenzia la necessità di una valutazione più accurata"]
    for sentence in sentences:
        found = find_quote(sentence, lightcap, None)
        assert found is not None
        assert found[1] == pytest.approx(1.0)
        assert sentence in found[0].text
    # An extractive claim that adds a lead-in still scores ~1 thanks to the verbatim quote.
    found = find_quote(f"Secondo l’articolo, {LIGHTCAP_SENTENCE}", lightcap, None)
    assert found is not None and found[1] == pytest.approx(1.0)
    result = verify_citations(f"{LIGHTCAP_SENTENCE} [1]", [lightcap])
    assert result.sources[0].quote == LIGHTCAP_SENTENCE
    assert result.sentences[0].supported


def test_two_consecutive_sentences_are_quoted_when_the_claim_spans_both(lightcap: Hit) -> None:
    claim = (
        "Brad Lightcap ha dichiarato che Sora è stato lanciato troppo presto e questa autocritica "
        "evidenzia la necessità di valutare meglio le tempistiche e le capacità tecnologiche"
    )
    found = find_quote(claim, lightcap, None)
    assert found is not None
    assert found[0].text.startswith("Brad Lightcap") and found[0].text.endswith("nuovi prodotti.")


# --- quotes copied by the model -----------------------------------------------------------------------


def test_a_quotation_copied_from_the_passage_fully_supports(lightcap: Hit) -> None:
    claim = "According to the article, OpenAI's operating chief admitted: “abbiamo lanciato ‘Sora’ troppo presto”"
    found = find_quote(claim, lightcap, None)
    assert found is not None and found[1] == 1.0 and found[0].text == LIGHTCAP_SENTENCE
    for marks in ('"abbiamo lanciato Sora troppo presto"', "«abbiamo lanciato Sora troppo presto»"):
        found = find_quote(f"Lightcap admitted it: {marks}", lightcap, None)
        assert found is not None and found[1] == 1.0
    # A quotation the passage does not hold, or one too short to tell, proves nothing.
    invented = find_quote("Lightcap said: “abbiamo lanciato Sora al momento giusto”", lightcap, None)
    assert invented is not None and invented[1] < SUPPORT_THRESHOLD
    short = find_quote("Lightcap spoke of “troppo presto” in an interview about Hollywood studios", lightcap, None)
    assert short is not None and short[1] < SUPPORT_THRESHOLD


def test_a_long_run_copied_without_quotation_marks_supports(lightcap: Hit) -> None:
    copied = "In an interview the COO said the model non era pronto per affrontare le sfide del mercato"
    found = find_quote(copied, lightcap, None)
    assert found is not None and found[1] >= SUPPORT_THRESHOLD
    assert "non era pronto per affrontare le sfide del mercato" in found[0].text
    result = verify_citations(f"{copied} [1].", [lightcap])
    assert result.sentences[0].supported and result.sentences[0].citations == [1]
    assert_quotes_verbatim(result)


def test_copied_quotes_are_verified_through_marker_variants(lightcap: Hit, dates: Hit) -> None:
    result = verify_citations(f"{DATE_CLAIM} (fonte 2). {LIGHTCAP}【1】.", [lightcap, dates])
    assert [s.citations for s in result.sentences] == [[1], [2]]
    assert result.text == f"{DATE_CLAIM} [1]. {LIGHTCAP} [2]."
    assert document(IT_DOC)[result.sources[1].start : result.sources[1].end] == LIGHTCAP_SENTENCE


def test_a_verbatim_quote_is_verified_without_the_embedding_model(lightcap: Hit) -> None:
    # The quote of an extractive answer holds one sentence word for word: its span and score are settled
    # by the words alone, so the costly similarity (sentence pairs are not in the cache) is not computed.
    calls: list[int] = []

    def similarity(claims: Sequence[str], spans: Sequence[str]) -> np.ndarray:
        calls.append(len(spans))
        return np.full((len(claims), len(spans)), 0.99)

    found = find_quote(f"“{LIGHTCAP_SENTENCE}” [1]", lightcap, similarity)
    assert found is not None and calls == []
    assert found[0].text == LIGHTCAP_SENTENCE and found[1] == 1.0
    assert found == find_quote(f"“{LIGHTCAP_SENTENCE}” [1]", lightcap, None)
    # A paraphrase is not settled by its words: the similarity is what can support it.
    paraphrase = find_quote("Lightcap admitted the video model was released before it was ready", lightcap, similarity)
    assert calls and paraphrase is not None and paraphrase[1] == 1.0
