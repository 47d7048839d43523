from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from assistant.answer.citations import (
    SUPPORT_THRESHOLD,
    VerifiedAnswer,
    extract_markers,
    find_quote,
    strip_markers,
    verify_citations,
)
from assistant.models import Hit
from assistant.text.sentences import words

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
IT_DOC = "000_9054f5f7106c5075.txt"  # Italian: Sora's launch, the studios, the unions, Lightcap
IT_DOC_2 = "001_bfcfb1f07bcdb431.txt"  # Italian: OpenAI meets Hollywood
FR_DOC = "004_5eaa805196ca9fd9.txt"  # French: why Sora's release was delayed

LIGHTCAP = "Brad Lightcap, COO di OpenAI, ha dichiarato che “abbiamo lanciato ‘Sora’ troppo presto”"
LIGHTCAP_SENTENCE = (
    LIGHTCAP + ", riconoscendo che il modello non era pronto per affrontare le sfide del mercato e le "
    "esigenze specifiche dell’industria cinematografica."
)
DATE_CLAIM = "Dopo la presentazione di “Sora” il 15 febbraio 2024, OpenAI ha avviato trattative con Disney"


# --- a small, meaningful stand-in for multilingual-e5 ---------------------------------------------

# Italian and French words mapped to the English concept they express, so that a translation and
# its original share a bag of concepts.
# fmt: off
LEXICON = {
    "lanciato": "launch", "launched": "launch", "lancio": "launch",
    "troppo": "too", "presto": "early", "dichiarato": "say", "said": "say",
    "sindacati": "union", "unions": "union", "cinematografici": "film", "cinematografica": "film",
    "preoccupazioni": "fear", "temendo": "fear", "feared": "fear", "minare": "undermine",
    "diritti": "copyright", "autore": "copyright", "ia": "ai", "valore": "value", "umano": "human",
    "lavoro": "work",
    "prudent": "cautious", "risques": "risk", "risks": "risk", "securite": "security",
    "elections": "election", "americaines": "us", "medias": "media",
}
# fmt: on
STOP = set(
    words(
        "a an the is was were are of to in on and that he she it by with for about because very would "
        "di il la le lo che e ha ho abbiamo non era per del della dei dell l un una nel "
        "de du des les est et en qu quant aux au cette ce a"
    )
)


def concepts(text: str) -> set[str]:
    """The English concepts of a text's content words."""
    return {LEXICON.get(w, w) for w in words(text) if w not in STOP}


def fake_similarity(a: Sequence[str], b: Sequence[str]) -> np.ndarray:
    """Cosine of concept bags, squeezed into e5's range: unrelated ~0.72, same meaning -> 1.0."""
    out = np.zeros((len(a), len(b)))
    for i, left in enumerate(a):
        for j, right in enumerate(b):
            x, y = concepts(left), concepts(right)
            cos = len(x & y) / np.sqrt(len(x) * len(y)) if x and y else 0.0
            out[i, j] = 0.72 + 0.28 * cos
    return out


# --- fixtures ------------------------------------------------------------------------------------


def document(doc_id: str) -> str:
    return (CORPUS / doc_id).read_text(encoding="utf-8")


def paragraph_hit(doc_id: str, needle: str, rank: int = 1, language: str = "it") -> Hit:
    """The paragraph of a corpus document that contains ``needle``, as a retrieved passage."""
    text = document(doc_id)
    at = text.index(needle)
    start = text.rfind("\n", 0, at) + 1
    end = text.find("\n", at)
    end = len(text) if end == -1 else end
    return slice_hit(doc_id, start, end, rank=rank, language=language)


def slice_hit(doc_id: str, start: int, end: int, rank: int = 1, language: str = "it") -> Hit:
    text = document(doc_id)
    return Hit(
        rank=rank,
        chunk_id=f"{doc_id}:{start}",
        doc_id=doc_id,
        title=text.splitlines()[0][:40],
        text=text[start:end],
        start=start,
        end=end,
        language=language,
        date="2024-03",
        score=1.0,
    )


@pytest.fixture
def lightcap() -> Hit:
    return paragraph_hit(IT_DOC, "Brad Lightcap")


@pytest.fixture
def dates() -> Hit:
    return paragraph_hit(IT_DOC, "15 febbraio 2024")


@pytest.fixture
def unions() -> Hit:
    return paragraph_hit(IT_DOC, "sindacati cinematografici")


@pytest.fixture
def security() -> Hit:
    return paragraph_hit(FR_DOC, "risques de sécurité", language="fr")


def assert_quotes_verbatim(result: VerifiedAnswer) -> None:
    for source in result.sources:
        doc = document(source.doc_id)
        assert doc[source.start : source.end] == source.quote
        assert doc[source.passage_start : source.passage_start + len(source.passage)] == source.passage
        assert source.quote in source.passage


# --- markers -------------------------------------------------------------------------------------


def test_extract_markers_reads_bracket_forms() -> None:
    text = "a [1] b [1, 2][3] c [4-6] d 【7】 e [^8] f [source 9] (in [2024])"
    assert extract_markers(text) == [1, 2, 3, 4, 5, 6, 7, 8, 9]


def test_strip_markers_removes_markers_and_their_space() -> None:
    assert strip_markers("Sora fu presentato il 15 febbraio [1][2].") == "Sora fu presentato il 15 febbraio."


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
