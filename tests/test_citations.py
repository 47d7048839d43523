"""Citation checks: markers against passages, support, strict mode, and claims across languages."""

from __future__ import annotations

import pytest
from fakes.passages import (
    DATE_CLAIM,
    FR_DOC,
    IT_DOC,
    IT_DOC_2,
    LIGHTCAP,
    LIGHTCAP_SENTENCE,
    assert_quotes_verbatim,
    document,
    fake_similarity,
    paragraph_hit,
    slice_hit,
)

from assistant.answer.citations import SUPPORT_THRESHOLD, find_quote, verify_citations
from assistant.models import Hit

pytest_plugins = ["fakes.passage_fixtures"]  # lightcap, dates, unions, security


# --- markers -------------------------------------------------------------------------------------


def test_markers_renumbered_in_order_of_first_use(lightcap: Hit, unions: Hit, dates: Hit) -> None:
    answer = f"{DATE_CLAIM} [3]. {LIGHTCAP} [1]."
    result = verify_citations(answer, [lightcap, unions, dates])
    assert result.text == f"{DATE_CLAIM} [1]. {LIGHTCAP} [2]."
    assert [s.citations for s in result.sentences] == [[1], [2]]
    assert [s.number for s in result.sources] == [1, 2]
    assert "15 febbraio 2024" in result.sources[0].quote
    assert LIGHTCAP in result.sources[1].quote
    assert result.invalid_markers == 0 and result.unsupported == 0


def test_out_of_range_marker_removed_counted_and_noted(lightcap: Hit) -> None:
    result = verify_citations(f"{LIGHTCAP} [7][1].", [lightcap])
    assert result.text == f"{LIGHTCAP} [1]."
    assert result.invalid_markers == 1
    assert "removed marker [7]: no such passage (sentence 1)" in result.notes


def test_marker_pointing_to_no_passage_at_all() -> None:
    result = verify_citations("Sora fu presentato il 15 febbraio 2024 [1].", [])
    assert result.invalid_markers == 1
    assert result.sources == []
    assert result.sentences[0].citations == []
    assert result.sentences[0].supported is False  # a dated claim without a source


def test_marker_after_the_final_period_belongs_to_the_sentence(lightcap: Hit, dates: Hit) -> None:
    result = verify_citations(f"{LIGHTCAP}. [1]\n\n{DATE_CLAIM}. [2]", [lightcap, dates])
    assert len(result.sentences) == 2
    assert [s.citations for s in result.sentences] == [[1], [2]]
    assert result.text == f"{LIGHTCAP} [1].\n\n{DATE_CLAIM} [2]."


def test_marker_glued_to_the_period_before_the_next_sentence(lightcap: Hit, dates: Hit) -> None:
    result = verify_citations(f"{LIGHTCAP}.[1] {DATE_CLAIM}. [2]", [lightcap, dates])
    assert [s.text for s in result.sentences] == [f"{LIGHTCAP}.", f"{DATE_CLAIM}."]
    assert [s.citations for s in result.sentences] == [[1], [2]]


@pytest.mark.parametrize("markers", ["[1][2]", "[1, 2]", "[1,2]", "[1-2]", "[1] [2]"])
def test_multiple_markers_on_one_sentence(markers: str, dates: Hit) -> None:
    hollywood = paragraph_hit(IT_DOC_2, "La presentazione di Sora", rank=2)
    result = verify_citations(f"La presentazione di Sora è avvenuta a febbraio {markers}.", [dates, hollywood])
    assert result.sentences[0].citations == [1, 2]
    assert result.text == "La presentazione di Sora è avvenuta a febbraio [1][2]."
    assert [s.doc_id for s in result.sources] == [IT_DOC, IT_DOC_2]
    assert_quotes_verbatim(result)


def test_duplicated_markers_and_overlapping_chunks_give_one_source(lightcap: Hit) -> None:
    # A second chunk of the same document that overlaps the first one on Lightcap's sentence.
    at = document(IT_DOC).index("Brad Lightcap")
    overlapping = slice_hit(IT_DOC, at, lightcap.end, rank=2)
    result = verify_citations(f"{LIGHTCAP} [1][2][1].", [lightcap, overlapping])
    assert result.sentences[0].citations == [1]
    assert len(result.sources) == 1
    assert result.text == f"{LIGHTCAP} [1]."


def test_only_cited_sources_are_listed(lightcap: Hit, unions: Hit, dates: Hit, security: Hit) -> None:
    result = verify_citations(f"{LIGHTCAP} [3].", [unions, dates, lightcap, security])
    assert [(s.number, s.doc_id) for s in result.sources] == [(1, IT_DOC)]
    assert LIGHTCAP in result.sources[0].quote


def test_paragraph_breaks_are_kept(lightcap: Hit, dates: Hit) -> None:
    answer = f"Ecco cosa dicono le fonti:\n\n{LIGHTCAP} [1]. {DATE_CLAIM} [2].\n\nNon so altro."
    result = verify_citations(answer, [lightcap, dates])
    assert result.text == f"Ecco cosa dicono le fonti:\n\n{LIGHTCAP} [1]. {DATE_CLAIM} [2].\n\nNon so altro."


# --- support -------------------------------------------------------------------------------------


def test_unsupported_cited_sentence_is_flagged(lightcap: Hit) -> None:
    answer = f"{LIGHTCAP} [1]. La capitale dell'Australia è Canberra [1]."
    result = verify_citations(answer, [lightcap])
    assert [s.supported for s in result.sentences] == [True, False]
    assert result.unsupported == 1
    assert "sentence 2 has no supporting passage" in result.notes
    assert "Canberra" in result.text


def test_unsupported_cited_sentence_is_removed_in_strict_mode(lightcap: Hit, dates: Hit) -> None:
    answer = f"{LIGHTCAP} [1].\n\nLa capitale dell'Australia è Canberra [2].\n\n{DATE_CLAIM} [2]."
    result = verify_citations(answer, [lightcap, dates], strict=True)
    assert result.text == f"{LIGHTCAP} [1].\n\n{DATE_CLAIM} [2]."
    assert len(result.sentences) == 2
    assert result.unsupported == 1
    assert "removed sentence 2: no cited passage supports it" in result.notes
    assert_quotes_verbatim(result)


def test_strict_mode_removes_every_sentence_without_a_supporting_quote(lightcap: Hit, dates: Hit) -> None:
    answer = (
        f"Secondo i documenti:\n{LIGHTCAP} [1]. OpenAI è stata fondata nel 2015 da Elon Musk [7]. "
        "Sam Altman ha fondato OpenAI nel 2015 insieme a Ilya Sutskever. Sì. I documenti non dicono altro."
    )
    result = verify_citations(answer, [lightcap, dates], strict=True)
    assert result.text == f"Secondo i documenti:\n{LIGHTCAP} [1]. Sì. I documenti non dicono altro."
    assert "removed sentence 3: no passage supports it" in result.notes  # its only marker pointed nowhere
    assert "removed sentence 4: no passage supports it" in result.notes  # unmarked, and nothing supports it
    assert result.invalid_markers == 1 and result.unsupported == 0
    assert [s.supported for s in result.sentences] == [True, True, True, True]
    lenient = verify_citations(answer, [lightcap, dates])
    assert [s.supported for s in lenient.sentences] == [True, True, False, False, True, True]


def test_claim_made_of_names_found_in_the_passage_is_supported(dates: Hit, lightcap: Hit) -> None:
    # Across languages only names match; here they are nearly the whole claim.
    listed = verify_citations("OpenAI negotiated with Disney, Universal Pictures and Warner Brothers [1].", [dates])
    assert listed.sentences[0].supported
    # The same names with something the passage does not say are not enough.
    invented = verify_citations("Brad Lightcap said Sora was a great success [1].", [lightcap])
    assert not invented.sentences[0].supported


def test_citation_of_a_passage_that_does_not_support_is_dropped(lightcap: Hit, dates: Hit) -> None:
    result = verify_citations(f"{LIGHTCAP} [1][2].", [dates, lightcap])
    assert result.sentences[0].citations == [1]
    assert result.sources[0].quote == LIGHTCAP_SENTENCE
    assert "removed citation of passage 1 from sentence 1: it does not support it" in result.notes


def test_wrong_citation_is_repointed_to_the_passage_that_supports(lightcap: Hit, dates: Hit, unions: Hit) -> None:
    result = verify_citations(f"{LIGHTCAP} [1].", [dates, unions, lightcap])
    assert result.sentences[0].citations == [1]
    assert result.sentences[0].supported
    assert result.sources[0].quote == LIGHTCAP_SENTENCE
    assert result.unsupported == 0
    assert any(note.startswith("re-pointed sentence 1 to [1]") for note in result.notes)


def test_unmarked_supported_sentence_gets_a_citation(lightcap: Hit, dates: Hit, unions: Hit) -> None:
    result = verify_citations(f"Sì. {LIGHTCAP}.", [dates, unions, lightcap])
    first, second = result.sentences
    assert first.citations == [] and first.supported  # too short to cite, and not a claim
    assert second.citations == [1] and second.added_citation
    assert result.sources[0].quote == LIGHTCAP_SENTENCE
    assert "added citation [1] to sentence 2" in result.notes
    assert result.text == f"Sì. {LIGHTCAP} [1]."


def test_lead_in_and_unsupported_unmarked_claims_stay_uncited(lightcap: Hit) -> None:
    answer = f"Secondo i documenti:\n{LIGHTCAP} [1].\nOpenAI è stata fondata nel 2015."
    result = verify_citations(answer, [lightcap])
    lead, cited, claim = result.sentences
    assert lead.citations == [] and lead.supported
    assert cited.citations == [1]
    assert claim.citations == [] and not claim.supported
    assert "sentence 3 has no citation and no supporting passage" in result.notes
    assert result.text.endswith("\nOpenAI è stata fondata nel 2015.")
    assert result.unsupported == 0  # counts cited sentences only


def test_ambiguous_unmarked_sentence_gets_no_citation(lightcap: Hit) -> None:
    # The same passage twice, from two documents: no single passage clearly wins.
    twin = lightcap.model_copy(update={"doc_id": "copy.txt", "chunk_id": "copy"})
    result = verify_citations(f"{LIGHTCAP}.", [lightcap, twin])
    assert result.sentences[0].citations == []
    assert result.sources == []


# --- across languages ----------------------------------------------------------------------------


def test_fake_similarity_behaves_like_e5() -> None:
    sims = fake_similarity(["Brad Lightcap said Sora was launched too early"], [LIGHTCAP, "Di Fantasy"])
    assert sims.shape == (1, 2)
    assert sims[0, 0] > 0.9 > 0.75 > sims[0, 1] >= 0.72


def test_cross_language_claim_is_supported_through_similarity(lightcap: Hit) -> None:
    claim = "Brad Lightcap said Sora was launched too early"
    with_model = find_quote(claim, lightcap, fake_similarity)
    without_model = find_quote(claim, lightcap, None)
    assert with_model is not None and without_model is not None
    assert with_model[0].text == LIGHTCAP_SENTENCE
    assert with_model[1] >= SUPPORT_THRESHOLD > without_model[1]  # the names alone are not enough

    result = verify_citations(f"{claim} [1].", [lightcap], similarity=fake_similarity)
    assert result.sentences[0].supported and result.sentences[0].citations == [1]
    assert result.sources[0].quote == LIGHTCAP_SENTENCE
    assert result.text == f"{claim} [1]."
    assert_quotes_verbatim(result)


def test_cross_language_claim_about_the_same_names_but_not_stated_is_unsupported(lightcap: Hit) -> None:
    result = verify_citations(
        "Brad Lightcap said Sora was a great success [1].", [lightcap], similarity=fake_similarity
    )
    assert result.sentences[0].supported is False
    assert result.unsupported == 1


def test_french_passage_supports_an_english_claim(security: Hit, lightcap: Hit) -> None:
    claim = "OpenAI is very cautious about security risks because of the US elections"
    result = verify_citations(f"{claim} [2].", [lightcap, security], similarity=fake_similarity)
    assert result.sentences[0].supported
    assert result.sources[0].doc_id == FR_DOC
    assert result.sources[0].quote.startswith("Les médias indiquent qu’OpenAI est très prudent")
    assert_quotes_verbatim(result)


def test_unmarked_cross_language_claim_gets_a_citation(lightcap: Hit, unions: Hit, dates: Hit) -> None:
    claim = "The unions feared that AI would undermine copyright and the value of human work."
    assert verify_citations(claim, [lightcap, dates, unions]).sentences[0].citations == []
    result = verify_citations(claim, [lightcap, dates, unions], similarity=fake_similarity)
    assert result.sentences[0].added_citation and result.sentences[0].citations == [1]
    assert result.sources[0].quote.startswith("Le preoccupazioni riguardavano l’uso dell’IA")
    assert_quotes_verbatim(result)


def test_verification_is_deterministic(lightcap: Hit, dates: Hit, unions: Hit) -> None:
    answer = f"{DATE_CLAIM} [2]. Brad Lightcap said Sora was launched too early. [9]"
    first = verify_citations(answer, [lightcap, dates, unions], similarity=fake_similarity)
    second = verify_citations(answer, [lightcap, dates, unions], similarity=fake_similarity)
    assert first == second
