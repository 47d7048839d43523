"""Refusals in words, partial answers, and the model's own source lists (English, Italian, French)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.answer.citations import is_refusal, verify_citations
from assistant.answer.replies import clean_reply, is_about_the_documents, is_refusal_sentence
from assistant.models import Hit

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
IT_DOC = "000_9054f5f7106c5075.txt"


def paragraph(needle: str, doc_id: str = IT_DOC) -> Hit:
    text = (CORPUS / doc_id).read_text(encoding="utf-8")
    start = text.rfind("\n", 0, text.index(needle)) + 1
    end = text.find("\n", start)
    span = {"text": text[start:end], "start": start, "end": end}
    return Hit(rank=1, chunk_id="c", doc_id=doc_id, title="T", language="it", score=1, **span)


@pytest.fixture
def lightcap() -> list[Hit]:
    return [paragraph("Brad Lightcap"), paragraph("15 febbraio 2024")]


@pytest.mark.parametrize(
    "sentence",
    [
        "NOT_IN_DOCUMENTS",
        "**NOT_IN_DOCUMENTS**",
        "`NOT_IN_DOCUMENTS`.",
        "NOT IN DOCUMENTS.",
        "The passages do not mention the capital of Australia.",
        "Unfortunately, the provided passages don't contain that information.",
        "There is no information about this in the documents.",
        "This is not mentioned in the provided documents.",
        "I don't know.",
        "I documenti non dicono chi ha fondato Apple.",
        "I documenti forniti non specificano la data.",
        "Nessuno dei passaggi menziona la capitale.",
        "Non è menzionato nei documenti.",
        "Non ci sono informazioni su questo nei documenti.",
        "Non lo so.",
        "Les documents ne contiennent pas la réponse.",
        "Les passages fournis ne précisent pas la date de sortie.",
        "Aucun des passages ne mentionne cela.",
        "Il n'y a aucune information sur ce sujet.",
        "Je ne sais pas.",
    ],
)
def test_refusals_in_words_are_recognised(sentence: str) -> None:
    assert is_refusal_sentence(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "Brad Lightcap is the COO of OpenAI.",
        "The documents say that Sora was launched too early.",
        "Sora non è stato lanciato troppo presto.",
        "Murati a déclaré qu'elle ne le savait pas.",  # reported speech, not the model refusing
        "Non solo Disney, ma anche Warner Brothers.",
    ],
)
def test_statements_are_not_refusals(sentence: str) -> None:
    assert not is_refusal_sentence(sentence)


def test_what_the_documents_are_about_is_told_apart() -> None:
    assert is_about_the_documents("They are about OpenAI and Sora.")
    assert is_about_the_documents("I passaggi parlano di Sora e di OpenAI")
    assert is_about_the_documents("Les passages parlent du report de la sortie de Sora.")
    assert not is_about_the_documents("Brad Lightcap parla di Sora.")


def test_a_refusal_is_a_refusal_whatever_the_explanation(lightcap: list[Hit]) -> None:
    assert is_refusal("NOT_IN_DOCUMENTS", lightcap)
    assert is_refusal("Mi dispiace, ma i documenti non contengono informazioni sull'Australia.", lightcap)
    assert is_refusal("I documenti non ne parlano. I passaggi parlano di Sora e di OpenAI.", lightcap)
    assert is_refusal("NOT_IN_DOCUMENTS. The passages only mention Sora [1].", lightcap)


def test_a_partial_answer_is_not_a_refusal(lightcap: list[Hit]) -> None:
    claim = "Brad Lightcap, COO di OpenAI, ha dichiarato che hanno lanciato Sora troppo presto"
    assert not is_refusal(f"{claim} [1]. I documenti non dicono quando è entrato in OpenAI.", lightcap)
    assert not is_refusal(f"{claim} [1], ma i documenti non dicono quando è entrato.", lightcap)
    assert not is_refusal(f"I documenti non dicono quando è entrato in OpenAI, ma {claim} [1].", lightcap)
    assert not is_refusal(f"{claim} [1].\n\nNOT_IN_DOCUMENTS", lightcap)
    assert not is_refusal("Brad Lightcap è il COO [1].", lightcap)  # no refusal at all
    said = "Alla domanda sui dati di YouTube, Mira Murati ha risposto: “Non lo so”."
    murati = Hit(
        rank=1, chunk_id="m", doc_id="m.txt", title="T", language="it", score=1, text=said, start=0, end=len(said)
    )
    assert not is_refusal(f"{said[:-1]} [1].", [murati])  # a cited claim that reports someone's "I don't know"
    # A cited claim that no passage supports does not make a refusal an answer.
    assert is_refusal("La capitale dell'Australia è Canberra [1]. Non lo so per certo.", lightcap)


def test_the_caveat_of_a_partial_answer_is_kept_even_in_strict_mode(lightcap: list[Hit]) -> None:
    claim = "Brad Lightcap, COO di OpenAI, ha dichiarato che hanno lanciato Sora troppo presto"
    result = verify_citations(f"{claim} [1]. I documenti non dicono quando è entrato in OpenAI.", lightcap, strict=True)
    assert [s.citations for s in result.sentences] == [[1], []]
    assert all(s.supported for s in result.sentences)
    assert result.text.endswith("I documenti non dicono quando è entrato in OpenAI.")
    lone_marker = verify_citations(f"{claim} [1].\n\n**NOT_IN_DOCUMENTS**", lightcap)
    assert lone_marker.text == f"{claim} [1]."


@pytest.mark.parametrize(
    "tail",
    [
        "\n\nFonti:\n- [1] Un anno dopo il lancio di Sora (000_9054f5f7106c5075.txt)\n- [2] Sora",
        "\n\nSources:\n1. Passage 1 — OpenAI\n2. Passage 2 — Hollywood",
        "\n\n---\n**Références :** [1], [2]",
        "\n\n### Sources\n* [1] Le modèle d'IA vidéo Sora",
        "\nFonte: passaggio 1",
        "\n\nRiferimenti:\n[1] articolo",
        "\n\n[^1]: Passaggio 1, “abbiamo lanciato ‘Sora’ troppo presto”\n[^2]: Passaggio 2",
        "\n\n[1]: Un anno dopo il lancio di Sora",
    ],
)
def test_the_models_own_source_list_is_removed(tail: str) -> None:
    assert clean_reply(f"Brad Lightcap è il COO di OpenAI [1].{tail}\n") == "Brad Lightcap è il COO di OpenAI [1]."


@pytest.mark.parametrize(
    "reply",
    [
        "1. Brad Lightcap è il COO [1].\n2. Sora è stato presentato a febbraio [2].",  # a numbered answer
        "Sources say that Sora was late [1].\nThat is all.",
        "Fonti interne hanno confermato l'iniziativa [1].",
        "Sources:\n[1] only a list, and nothing else",  # a reply that is only a list keeps it
    ],
)
def test_answers_that_merely_look_like_source_lists_are_kept(reply: str) -> None:
    assert clean_reply(reply) == reply
