"""Extractive answers: candidate sentences, ranking signals, the second sentence, trimming with exact offsets."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.answer.extractive import choose, compose_extractive, trim
from assistant.answer.kinds import answer_tokens, defined_term, defines, fits_kind, question_kind, states_answer
from assistant.answer.rank import (
    CROSS_LINGUAL_OFFSET,
    WEIGHTS,
    Ranked,
    Sentence,
    Signals,
    bm25_scores,
    candidates,
    combine,
    coverage_scores,
    rank,
)
from assistant.models import Hit


def hit(text: str, number: int = 1, doc: str = "doc.txt", language: str = "it", start: int = 0, **extra: object) -> Hit:
    return Hit(
        rank=number, chunk_id=f"{doc}:{start}", doc_id=doc, title="Titolo", text=text, start=start,
        end=start + len(text), language=language, score=1.0, dense_score=0.85, **extra,  # type: ignore[arg-type]
    )  # fmt: skip


class FlatEmbedder:
    """Cosines fixed in advance, one per candidate sentence: what ranking adds to them is under test."""

    def __init__(self, cosines: list[float]) -> None:
        self.cosines = cosines

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return np.array([[c] for c in self.cosines[: len(texts)]])

    def embed_query(self, text: str) -> np.ndarray:
        return np.array([1.0])


def ranked(text: str, score: float, passage: int = 1, language: str = "it", fits: bool = True) -> Ranked:
    sentence = Sentence(passage, 0, len(text), text, language)
    return Ranked(sentence, Signals(score, 0.0, 0.0, 0.0, fits), score)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who is OpenAI's COO?", "person"),
        ("Chi ha scritto il libro?", "person"),
        ("Qui est le directeur technique d'OpenAI ?", "person"),
        ("When was the European Convention on Human Rights established?", "date"),
        ("Quand Sora a-t-il été présenté ?", "date"),
        ("In quale anno John Forster ha lasciato la collezione?", "date"),
        ("Quelle est la date de naissance de Sam Altman ?", "date"),
        ("Qual è la data di uscita di Sora?", "date"),
        ("What was the year of the treaty?", "date"),
        ("On what exact date was Sora presented?", "date"),
        ("How many original treaties protected fundamental rights?", "quantity"),
        ("Quanti figli ha avuto Börte?", "quantity"),
        ("Combien de temps durera l'exposition ?", "duration"),
        ("Pendant combien de mois l'aide est-elle versée ?", "duration"),
        ("Quanto tempo ci vuole per costruire la diga?", "duration"),
        ("Per quanto tempo Gengis Khan ha regnato?", "duration"),
        ("Quanto dura un video di Sora?", "duration"),
        ("Quelle est la durée du contrat ?", "duration"),
        ("At what frame rate (frames per second) does Sora generate its videos?", "quantity"),
        ("Qual è il prezzo dell'abbonamento?", "quantity"),
        ("Quelle est la résolution maximale des vidéos de Sora ?", "quantity"),  # a maximum is an amount
        ("Quel est l'âge minimum pour travailler ?", "quantity"),
        ("Quel est le salaire de Sam Altman ?", "quantity"),  # an amount of money
        ("What is Sam Altman's salary?", "quantity"),
        ("Qual è il fatturato annuo di OpenAI?", "quantity"),
        ("Quel est le chiffre d'affaires annuel d'OpenAI ?", "quantity"),
        ("Why did the workers strike over salaries?", None),
        ("What's Sam Altman's salary?", "quantity"),
        ("What was the reason for the budget cuts?", None),
        ("Qual è stato l'impatto sul fatturato?", None),
        ("Qual è la durata massima di un video?", "duration"),
        ("How long does it take for the effects to show?", "duration"),  # "diversi anni" answers it
        ("How long can Sora videos be?", "duration"),
        ("How long is the Rhine?", None),  # a length as often as a duration
        ("Où est né Gengis Khan ?", "place"),
        ("Dove si presume che sia sepolto?", "place"),
        ("E chi lo ha criticato? — Sora, présenté", "person"),  # a follow-up's carried context is not read
        ("Qu'est-ce qu'un emploi franc ?", None),
        ("Why is Sora not yet ready?", None),
    ],
)
def test_question_kind_in_three_languages(question: str, kind: str | None) -> None:
    assert question_kind(question) == kind


def test_a_sentence_fits_the_kind_of_question() -> None:
    assert fits_kind("Il modello è stato presentato il 15 febbraio 2024.", "date")
    assert fits_kind("Ce modèle a fait ses débuts à la mi-février.", "date")
    assert not fits_kind("Il modello ha stupito tutti.", "date")
    assert fits_kind("Börte ebbe tre figli.", "quantity") and fits_kind("Costa 200.000 corone.", "quantity")
    assert not fits_kind("Il modello ha stupito tutti.", "quantity")
    assert not fits_kind("Colossi come Meta e Google hanno presentato progetti.", "quantity"), "Meta is not metà"
    assert fits_kind("Metà dei lavoratori teme l'IA.", "quantity") and fits_kind("Ne ha perso la metà.", "quantity")
    assert fits_kind("Ci vogliono diversi anni.", "duration") and fits_kind("L'aide dure trois mois.", "duration")
    assert not fits_kind("Un anno dopo il lancio di Sora, le critiche.", "duration"), "a unit alone says when"
    assert not fits_kind("Il modello ha stupito tutti.", "duration")
    assert not fits_kind("Secondo OpenAI, ora il modello è pronto.", "duration"), "'secondo', 'ora' are no units"
    assert fits_kind("Il COO è Brad Lightcap.", "person") and not fits_kind("il modello ha stupito tutti.", "person")
    assert fits_kind("Anything at all.", None)


def test_a_count_of_weeks_does_not_answer_how_many_artists() -> None:
    artists = "Combien d'artistes ont signé la lettre ouverte ?"
    assert not states_answer(artists, "quantity", ["L'exposition se déroulera sur trois semaines."])
    assert states_answer(artists, "quantity", ["Trois artistes ont exposé pendant trois semaines."]), "one counts them"
    assert states_answer("Quanti anni ha regnato?", "quantity", ["Ha regnato per tre anni."]), "years asked"
    for price in ("Sora costa 20 € al mese.", "Sora Pro costs $200/month.", "L'abbonamento costa 20 dollari al mese."):
        assert states_answer("Quanto costa Sora?", "quantity", [price]), "a price per month is an amount"
        assert states_answer("How much does Sora cost per month?", "quantity", [price])


def test_numbers_and_short_acronyms_do_not_answer_who() -> None:
    sentence = "L’intenzione dell’amministratore delegato di OpenAI è chiara: 150 accordi legati all’IA."
    who = "Chi è l'amministratore delegato di OpenAI?"
    assert not states_answer(who, "person", [sentence])
    assert not fits_kind("Il CEO ha firmato 150 accordi sull'IA.", "person")
    assert states_answer(who, "person", ["Il CEO di OpenAI, Sam Altman, parla."])
    place = answer_tokens("Si trova negli USA, a 150 km da Boston.", "place")
    assert place == {"usa", "boston"}, "a country's acronym is a place, a number is not"


def test_candidates_leave_out_questions_headings_stubs_and_boilerplate() -> None:
    text = (
        "OpenAI tenta la conquista di Hollywood\n"
        "Brad Lightcap ha presentato Sora agli studi di Hollywood a fine febbraio.\n"
        "Le aziende come OpenAI troveranno un equilibrio tra profitto e trasparenza?\n"
        "Vero.\n"
    )
    found = candidates([hit(text), hit("Iscriviti alla newsletter per ricevere le notizie.", 2, boilerplate=True)])
    assert [s.text for s in found] == ["Brad Lightcap ha presentato Sora agli studi di Hollywood a fine febbraio."]
    sentence = found[0]
    assert text[sentence.start : sentence.end] == sentence.text


def test_a_sentence_repeated_by_overlapping_passages_is_one_candidate() -> None:
    first = "Sora è stato presentato a febbraio. OpenAI ha incontrato gli studi di Hollywood."
    second_start = first.index("OpenAI")
    found = candidates(
        [hit(first), hit(first[second_start:] + " Poi ha parlato Altman del futuro.", 2, start=second_start)]
    )
    assert [s.passage for s in found] == [1, 1, 2]
    assert sum("Hollywood" in s.text for s in found) == 1


def test_a_leading_date_marker_is_metadata_not_part_of_the_quoted_sentence() -> None:
    """Scraped articles open with "date 2024-03": a date question must not quote it as a date."""
    text = (
        " date 2024-03 Il nuovo modello IA Sora ha lasciato senza parole i curiosi.\n\n"
        "Di fatto, il prodotto ha scosso il settore."
    )
    found = candidates([hit(text, start=40)])
    assert [s.text for s in found] == [
        "Il nuovo modello IA Sora ha lasciato senza parole i curiosi.",
        "Di fatto, il prodotto ha scosso il settore.",
    ]
    assert all(text[s.start : s.end] == s.text for s in found)
    assert not fits_kind(found[0].text, "date")


def test_a_first_sentence_that_is_also_the_title_is_quotable() -> None:
    """Fiches without a heading: the title is their first sentence, and often the answer."""
    text = "Tout dépend de la nature du logement. La personne propriétaire n'a pas droit au prêt."
    found = candidates([hit(text, language="fr").model_copy(update={"title": "Tout dépend de la nature du logement."})])
    assert found[0].text == "Tout dépend de la nature du logement."


def test_a_source_in_brackets_after_the_final_punctuation_keeps_a_statement_quotable() -> None:
    """ "Niko Felix, portavoce dell'azienda, ha dichiarato: (TechCrunch)" is who he is, not a heading;
    a heading that ends in brackets stays a heading."""
    text = (
        "Niko Felix, portavoce dell’azienda, ha dichiarato: (TechCrunch)\n\n"
        "Chambre des métiers et de l'artisanat (CMA)\n\n"
        "OpenAI potrebbe diventare una società benefit (e perseguire il profitto)\n\n"
        "Il programma è volontario.\n\n"
        "Sora è stato presentato a febbraio (finalmente!)"
    )
    found = candidates([hit(text, start=7)])
    assert [s.text for s in found] == [
        "Niko Felix, portavoce dell’azienda, ha dichiarato: (TechCrunch)",
        "Il programma è volontario.",
        "Sora è stato presentato a febbraio (finalmente!)",
    ]
    assert all(text[s.start : s.end] == s.text for s in found)


def test_bm25_of_the_pool_prefers_the_sentence_with_the_questions_rare_stems() -> None:
    pool = [
        Sentence(1, 0, 0, "Dopo la presentazione di Sora il 15 febbraio 2024, OpenAI ha avviato trattative.", "it"),
        Sentence(1, 0, 0, "OpenAI ha avviato trattative con gli studi cinematografici di OpenAI.", "it"),
        Sentence(1, 0, 0, "Il meteo di oggi è soleggiato su tutta la penisola.", "it"),
    ]
    scores = bm25_scores("Quando è stato presentato Sora?", pool)
    assert scores[0] == 1.0 and scores[2] == 0.0 and scores[1] < scores[0]
    coverage = coverage_scores("Quando è stato presentato Sora?", pool)
    assert coverage[0] == 1.0 and coverage[2] == 0.0


def test_word_matches_count_in_one_language_and_cosines_across_languages_are_raised() -> None:
    same = Signals(0.85, 1.0, 1.0, 0.0, True, same_language=True)
    cross = Signals(0.85, 1.0, 1.0, 0.0, True, same_language=False)
    assert combine(same, WEIGHTS) == pytest.approx(0.85 + WEIGHTS["bm25"] + WEIGHTS["coverage"])
    assert combine(cross, WEIGHTS) == pytest.approx(0.85 + CROSS_LINGUAL_OFFSET), "no bm25 across languages"
    assert combine(Signals(0.85, 0.0, 0.0, 0.0, False), WEIGHTS) == pytest.approx(0.85 - WEIGHTS["misfit"])
    named = Signals(0.85, 0.0, 0.0, 1.0, True, same_language=False, relation=1.0)
    assert combine(named, WEIGHTS) == pytest.approx(
        0.85 + CROSS_LINGUAL_OFFSET + WEIGHTS["names"] + WEIGHTS["relation"]
    )


@pytest.mark.parametrize(
    ("question", "sentence", "language", "expected"),
    [
        ("Cos'è un cloroplasto?", "I cloroplasti sono un tipo speciale di organella chiamata plastide.", "it", True),
        ("Cos'è un cloroplasto?", "I cloroplasti vegetali forniscono alle cellule molte cose.", "it", False),
        ("Cos'è un cloroplasto?", "Una cellula vegetale che contiene cloroplasti è nota come cella.", "it", False),
        ("Qu'est-ce qu'un emploi franc ?", "Le dispositif d'emploi franc permet une aide.", "fr", True),
        ("Qu'est-ce qu'un emploi franc ?", "L'entreprise peut cumuler la prime Emploi franc avec l'AFE.", "fr", False),
        ("What is a chloroplast?", "Chloroplasts are organelles that conduct photosynthesis.", "en", True),
        ("What is a chloroplast?", "Chloroplasts contain chlorophyll and conduct photosynthesis.", "en", False),
    ],
)
def test_a_defining_sentence_names_the_term_first_then_says_what_it_is(
    question: str, sentence: str, language: str, expected: bool
) -> None:
    term = defined_term(question)
    assert term is not None and defines(term, sentence, language) is expected


def test_the_defining_sentence_ranks_first_for_a_definition_question() -> None:
    hits = [
        hit("L'entreprise peut cumuler la prime Emploi franc avec l'aide forfaitaire à l'employeur.", 1, "a.txt", "fr"),
        hit("Le dispositif d'emploi franc permet à un employeur d'être aidé.", 2, "b.txt", "fr"),
    ]
    flat = FlatEmbedder([0.92, 0.91])
    question = "Qu'est-ce qu'un emploi franc ?"
    ranked = rank(question, "fr", hits, flat)
    assert ranked[0].signals.defines and ranked[0].sentence.text.startswith("Le dispositif")
    assert rank(question, "fr", hits, flat, {**WEIGHTS, "defines": 0.0})[0].sentence.passage == 1


def test_a_second_sentence_is_quoted_only_when_it_adds_a_fact() -> None:
    question = "Chi è il COO di OpenAI?"
    best = ranked("Brad Lightcap, COO di OpenAI, ha dichiarato che Sora è stato lanciato troppo presto.", 0.90)
    duplicate = ranked("Brad Lightcap, COO di OpenAI, ha dichiarato che Sora era stato lanciato troppo presto.", 0.89)
    nothing_new = ranked("OpenAI ha dichiarato che il COO ha parlato di Sora e del suo lancio.", 0.89)
    adds = ranked("A fine febbraio Lightcap, con Mira Murati, avrebbe introdotto Sora a Hollywood.", 0.89)
    far = ranked("Sam Altman ha incontrato gli studi di Hollywood a Los Angeles.", 0.80)
    assert [c.sentence.text for c in choose(question, [best, duplicate, nothing_new, far])] == [best.sentence.text]
    assert choose(question, [best, duplicate, adds]) == [best, adds]
    assert choose(question, [best, adds], max_sentences=1) == [best]
    assert choose(question, []) == []


def test_a_third_sentence_only_while_the_kind_asked_for_is_not_stated() -> None:
    best = ranked("Brad Lightcap, COO di OpenAI, ha dichiarato che Sora è stato lanciato troppo presto.", 0.90)
    adds = ranked("A fine febbraio Lightcap, con Mira Murati, avrebbe introdotto Sora a Hollywood.", 0.89)
    more = ranked("Secondo TechCrunch, OpenAI ha rapidamente bloccato l'accesso a Sora.", 0.885)
    assert choose("Chi è il COO di OpenAI?", [best, adds, more], max_sentences=3) == [best, adds], "a name is stated"
    untyped = choose("Che cosa ha detto il COO di OpenAI su Sora?", [best, adds, more], max_sentences=3)
    assert untyped == [best, adds, more]
    undated = [ranked("OpenAI ha presentato Sora agli studi di Hollywood.", 0.90)]
    undated.append(ranked("Lightcap e Mira Murati hanno mostrato Sora ai registi.", 0.89))
    assert len(choose("Quando OpenAI ha presentato Sora?", [*undated, more], max_sentences=3)) == 3, "no date yet"
    dated = [undated[0], adds, more]  # "A fine febbraio": the second states the month
    assert len(choose("Quando OpenAI ha presentato Sora?", dated, max_sentences=3)) == 2


LONG = (
    "Dopo la presentazione di “Sora” il 15 febbraio 2024, OpenAI ha avviato trattative con importanti "
    "studi cinematografici, tra cui Disney, Universal Pictures, Warner Brothers e Discovery, per sviluppare "
    "versioni personalizzate del modello destinate alla produzione di film e serie televisive."
)


def test_a_long_sentence_is_trimmed_to_the_clause_that_answers_at_exact_offsets() -> None:
    passage = "Introduzione breve. " + LONG + " Altro testo."
    sentence = next(s for s in candidates([hit(passage)]) if s.text == LONG)
    quote = trim("Quando è stato presentato Sora?", Ranked(sentence, Signals(0.9, 0, 0, 0, True), 0.9))
    assert quote.cut_after and not quote.cut_before
    assert passage[quote.start : quote.end] == quote.text
    assert "15 febbraio 2024" in quote.text and "Disney" not in quote.text
    text, quotes = compose_extractive(
        "Quando è stato presentato Sora?", "it", [Ranked(sentence, Signals(0.9, 0, 0, 0, True), 0.9)]
    )  # type: ignore[misc]
    assert quotes == [quote] and f"“{quote.text}…” [1]" in text


@pytest.mark.parametrize(
    "question",
    [
        "Con quali studi OpenAI ha avviato trattative?",  # no date, quantity, person or place asked
        "Chi ha avviato trattative dopo la presentazione?",  # the names are spread over every clause
    ],
)
def test_no_trim_when_a_clause_would_drop_a_candidate_answer(question: str) -> None:
    sentence = candidates([hit(LONG)])[0]
    quote = trim(question, Ranked(sentence, Signals(0.9, 0, 0, 0, True), 0.9))
    assert quote.text == LONG and not (quote.cut_before or quote.cut_after)
