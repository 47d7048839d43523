"""The refusal decision: several signals, one confidence, a strictness that moves the threshold."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from assistant.answer.evidence import (
    IDENTITY_FLOOR,
    KIND_DEPTH,
    Evidence,
    confidence,
    gather,
    names_term,
    refuse,
    states_kind,
)
from assistant.answer.kinds import defined_term, identity_names
from assistant.answer.rank import CROSS_LINGUAL_OFFSET, Ranked, Sentence, Signals
from assistant.config import load_settings
from assistant.models import Hit

GRID = [
    Evidence(sentence, passage, relation, names)
    for sentence, passage, relation, names in itertools.product(
        (0.76, 0.80, 0.83, 0.86, 0.89, 0.93), (0.75, 0.82, 0.88), (0.0, 0.5, 1.0), (0.0, 1.0)
    )
]


def test_refusals_only_grow_with_strictness() -> None:
    refused_before: set[int] = set()
    for strictness in (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0):
        refused = {i for i, evidence in enumerate(GRID) if refuse(confidence(evidence), strictness)}
        assert refused_before <= refused
        refused_before = refused
    assert not {i for i, e in enumerate(GRID) if refuse(confidence(e), 0.0)}, "strictness 0 never refuses"
    assert len(refused_before) > 0 and len({i for i, e in enumerate(GRID) if refuse(confidence(e), 0.3)}) < len(GRID)


@pytest.mark.parametrize("signal", ["sentence_dense", "passage_dense", "relation", "names"])
def test_confidence_rises_with_every_signal(signal: str) -> None:
    base = Evidence(0.84, 0.83, 0.5, 0.5)
    stronger = Evidence(**{**base.__dict__, signal: getattr(base, signal) + 0.05})
    assert 0.0 < confidence(base) < confidence(stronger) < 1.0


def hit(language: str, dense: float, text: str = "Brad Lightcap, COO di OpenAI, ha parlato di Sora.") -> Hit:
    return Hit(
        rank=1, chunk_id="c", doc_id="d.txt", title="t", text=text, start=0, end=len(text), language=language,
        score=1.0, dense_score=dense,
    )  # fmt: skip


def ranked(text: str, dense: float, same_language: bool, language: str = "it") -> Ranked:
    signals = Signals(dense, 0.0, 0.0, 0.0, True, same_language)
    return Ranked(Sentence(1, 0, len(text), text, language), signals, dense)


def test_a_cross_lingual_pair_is_judged_on_the_same_language_scale() -> None:
    """An English question on an Italian passage scores lower cosines for the same content."""
    text = "Brad Lightcap, COO di OpenAI, ha parlato di Sora."
    italian = gather("Chi è il COO di OpenAI?", "it", [hit("it", 0.86)], [ranked(text, 0.87, True)])
    english = gather(
        "Who is OpenAI's COO?",
        "en",
        [hit("it", 0.86 - CROSS_LINGUAL_OFFSET)],
        [ranked(text, 0.87 - CROSS_LINGUAL_OFFSET, False)],
    )
    assert english.sentence_dense == pytest.approx(italian.sentence_dense)
    assert english.passage_dense == pytest.approx(italian.passage_dense)
    strictness = load_settings().answer.strictness
    assert not refuse(confidence(english), strictness)
    raw = Evidence(0.87 - CROSS_LINGUAL_OFFSET, 0.86 - CROSS_LINGUAL_OFFSET, english.relation, english.names)
    assert confidence(raw) < confidence(english), "without the offset the same answer would look weaker"


def test_names_the_passages_never_mention_lower_the_confidence() -> None:
    text = "L'università ha aperto tre centri di ricerca sulle foreste."
    about = [ranked(text, 0.85, True)]
    unnamed = gather("Quante scuole ha l'Università di Chicago?", "it", [hit("it", 0.84, text)], about)
    named = gather("Quante scuole ha l'Università?", "it", [hit("it", 0.84, text)], about)
    assert unnamed.names == 0.5 and named.names == 1.0  # "Chicago" is nowhere in the passages
    assert confidence(unnamed) < confidence(named)


def test_the_asked_relation_is_read_across_languages() -> None:
    """ "présenté" and "presentazione" share a stem: the relation is covered across the it/fr pair."""
    sentence = "Dopo la presentazione di Sora il 15 febbraio 2024, OpenAI ha avviato trattative."
    evidence = gather(
        "Quand Sora a-t-il été présenté ?", "fr", [hit("it", 0.81, sentence)], [ranked(sentence, 0.81, False)]
    )
    assert evidence.relation == 1.0 and evidence.names == 1.0
    other = gather(
        "Quand Sora a-t-il été critiqué ?", "fr", [hit("it", 0.81, sentence)], [ranked(sentence, 0.81, False)]
    )
    assert other.relation == 0.0


def test_a_quantity_no_close_sentence_states_is_refused_however_close_the_passages() -> None:
    """"How much does Sora cost per month?" over sentences about Sora that state no amount."""
    about = [
        ranked("Sora è stato presentato da OpenAI come un modello che genera video.", 0.93, False),
        ranked("Il costo della generazione di video resta un tema aperto per OpenAI.", 0.92, False),
    ]
    silent = gather("How much does Sora cost per month?", "en", [hit("it", 0.92, about[0].sentence.text)], about)
    assert not silent.states_kind and confidence(silent) == 0.0
    assert confidence(Evidence(silent.sentence_dense, silent.passage_dense, silent.relation, silent.names)) > 0.5
    assert not refuse(confidence(silent), 0.0), "strictness 0 still never refuses"
    priced = [*about, ranked("L'abbonamento a Sora costa 20 dollari al mese.", 0.90, False)]
    assert states_kind("How much does Sora cost per month?", priced)
    hundreds = [ranked("Des centaines d'artistes ont aidé.", 0.9, True)]
    assert states_kind("Combien d'artistes ont influencé Sora ?", hundreds)


def test_only_what_the_question_does_not_hold_counts_and_only_the_best_sentences_are_read() -> None:
    echo = [ranked("Nel 1955 una rivista ha discusso i risparmi dei ricchi.", 0.9, True)]
    assert not states_kind("Quanti risparmi stimava la rivista nel 1955?", echo), "its own year is no answer"
    assert states_kind("Quando è uscita la rivista?", echo)
    assert states_kind("When does the ferry leave?", [ranked("The ferry leaves Trieste at 9:15.", 0.9, True)])
    assert states_kind("Quand le bac part-il ?", [ranked("Le bac part aussi les dimanches.", 0.9, True)])
    strike = [ranked("Lo scorso anno, sceneggiatori e attori hanno indetto uno sciopero.", 0.9, True)]
    assert states_kind("Quando hanno scioperato gli sceneggiatori?", strike), "a date said relative to the article's"
    years = [ranked("Ci vogliono diversi anni.", 0.9, True)]
    assert states_kind("How long does it take for the effects to show?", years)
    assert states_kind("Per quanto tempo ha regnato?", [ranked("Regnò per sei anni e mezzo.", 0.9, True)])
    lengthless = [ranked("Sora sera publié cette année, un an après sa présentation.", 0.9, True)]
    assert not states_kind("How long can Sora videos be?", lengthless), "a duration no close sentence states"
    late = [ranked("Una frase senza data sul tema.", 0.9 - i / 100, True) for i in range(KIND_DEPTH)]
    dated = ranked("La rivista uscì nel marzo 1956.", 0.5, True)
    assert not states_kind("Quando è uscita la rivista?", [*late, dated])
    assert states_kind("Quando è uscita la rivista?", [*late[:-1], dated])


@pytest.mark.parametrize("question", ["Who?", "il la le", "Quando?", "Qui est-ce ?", "How much?"])
def test_a_question_with_no_word_to_look_for_is_refused(question: str) -> None:
    """However close the passages: a question of stop and question words alone asks about nothing."""
    close = [ranked("Brad Lightcap, COO di OpenAI, ha parlato di Sora.", 0.95, True)]
    evidence = gather(question, "en", [hit("it", 0.95)], close)
    assert not evidence.asks and confidence(evidence) == 0.0
    assert gather("Sora?", "en", [hit("it", 0.95)], close).asks
    assert gather("Who? — Sora, présenté", "en", [hit("it", 0.95)], close).asks, "a follow-up's topic counts"


@pytest.mark.parametrize("question", ["Dove si trovano i proplastidi?", "Che cosa ha detto OpenAI?"])
def test_places_and_untyped_questions_are_not_vetoed(question: str) -> None:
    """Their answers cannot be told by their form ("nel meristema" answers a "dove")."""
    assert states_kind(question, [ranked("una frase qualsiasi senza nomi né numeri.", 0.9, True)])


def test_a_who_question_needs_someone_named_beside_what_it_asks_about() -> None:
    """ "Who is the CEO of Hugging Face?" over a sentence on Hugging Face that names nobody and one
    that names OpenAI's CEO: the documents do not say who Hugging Face's CEO is."""
    about = ranked("La notizia è emersa su Hugging Face, una piattaforma nota per ospitare modelli AI.", 0.9, False)
    other = ranked("Nonostante le difficoltà, Sam Altman, CEO di OpenAI, ha annunciato un aggiornamento.", 0.88, False)
    passages = [hit("it", 0.9, f"{about.sentence.text} {other.sentence.text}")]
    assert not states_kind("Who is the CEO of Hugging Face?", [about, other], passages)
    assert states_kind("Who is OpenAI's CEO?", [about, other], passages), "Sam Altman beside OpenAI"
    led = ranked("Hugging Face è guidata da Clément Delangue, il suo fondatore.", 0.85, False)
    assert states_kind("Who is the CEO of Hugging Face?", [about, other, led], passages)
    assert not states_kind("Chi ha fondato Hugging Face?", [about], passages), "no one named at all"
    facing = ranked("OpenAI fait face à Sam Altman et à ses critiques.", 0.87, False)
    assert not states_kind("Who is the CEO of Hugging Face?", [about, facing], passages), "'face' is not Face"
    kutcher = ranked("Plusieurs personnalités hollywoodiennes, dont l'acteur Ashton Kutcher, testent Sora.", 0.8, False)
    assert states_kind("Chi è Ashton Kutcher?", [kutcher], [hit("fr", 0.8, kutcher.sentence.text)]), "what he is"
    translated = ranked("Nel 1973 la Danimarca, guidata da Anker Jørgensen, entrò nella CEE.", 0.85, False)
    joined = [hit("it", 0.9, translated.sentence.text)]
    assert states_kind("Who led Denmark when it joined?", [translated], joined), "a name no passage holds"


def test_an_amount_or_date_counts_only_on_the_questions_subject() -> None:
    """ "Quanti dipendenti ha Hugging Face?" is not answered by "Centinaia di artisti…"; a sentence
    that leaves its subject unnamed counts when its document's title names it."""
    about = ranked("La notizia è emersa su Hugging Face, una piattaforma per modelli AI.", 0.9, True)
    artists = ranked("Centinaia di artisti hanno influenzato lo sviluppo del modello.", 0.85, True)
    passages = [hit("it", 0.9, f"{about.sentence.text} {artists.sentence.text}")]
    assert not states_kind("Quanti dipendenti ha Hugging Face?", [about, artists], passages)
    assert states_kind("Quanti artisti hanno influenzato il modello?", [about, artists], passages), "no name held"
    killed = ranked("Le sue campagne uccisero forse da 10 a 15 milioni di persone.", 0.85, True)
    khan = [hit("it", 0.9, f"Genghis Khan conquistò la Persia. {killed.sentence.text}").model_copy(
        update={"title": "Gengis Khan"})]  # fmt: skip
    assert states_kind("Quante persone ha ucciso Genghis Khan in Persia?", [killed], khan), "the title names him"
    untitled = [khan[0].model_copy(update={"title": "Storia dell’Asia"})]
    assert not states_kind("Quante persone ha ucciso Genghis Khan in Persia?", [killed], untitled)


@pytest.mark.parametrize(
    ("question", "term"),
    [
        ("Qu'est-ce qu'un emploi franc ?", "emploi franc"),
        ("Qu’est-ce que la garantie accidents de la vie ?", "garantie accidents de la vie"),
        ("Che cos' è una recente disobbedienza civile?", "recente disobbedienza civile"),
        ("Cos'è l'usufrutto?", "usufrutto"),
        ("What is a diffusion transformer?", "diffusion transformer"),
        ("Cosa è stato fatto per contrastare la Mnemiopsis?", None),  # what was done, not what a thing is
        ("What is the capital of France?", None),  # a value, not a definition
        ("Qui dirige la Stella Gallery ?", None),
    ],
)
def test_definition_questions_name_their_term(question: str, term: str | None) -> None:
    assert defined_term(question) == term


def test_a_definition_whose_term_no_passage_names_is_vetoed() -> None:
    """"Qu'est-ce que la garantie accidents de la vie ?" over fiches on other guarantees."""
    other = "Si votre véhicule est à l'origine de l'accident, la garantie responsabilité civile paie les dommages."
    question = "Qu'est-ce que la garantie accidents de la vie ?"
    assert not names_term(question, "fr", [hit("fr", 0.9, other)])
    silent = gather(question, "fr", [hit("fr", 0.9, other)], [ranked(other, 0.9, True, "fr")])
    assert not silent.names_term and confidence(silent) == 0.0
    named = "La garantie des accidents de la vie couvre les dommages corporels de la vie privée."
    assert names_term(question, "fr", [hit("fr", 0.9, other), hit("fr", 0.8, named)]), "stopwords between are skipped"
    assert names_term("Qu'est-ce qu'une commission de réforme dans la fonction publique ?", "fr",
                      [hit("fr", 0.9, "La commission de réforme est une instance médicale.")]), "its head is enough"
    assert names_term(question, "en", [hit("fr", 0.9, other)]), "no passage in the question's language: not read"
    assert names_term("Qu'est-ce que le CEC ?", "fr", [hit("fr", 0.9, other)]), "a name is the names signal's"


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("Qui est Neal Mohan ?", {"neal", "mohan"}),
        ("Chi è Brad Lightcap?", {"brad", "lightcap"}),
        ("Who was Genghis Khan?", {"genghis", "khan"}),
        ("Who is the CEO of Google?", set()),  # a role: the answer is another name
        ("Qui est le PDG de Disney ?", set()),
        ("Who is Sam Altman married to?", set()),
    ],
)
def test_who_is_questions_name_the_person(question: str, names: set[str]) -> None:
    assert identity_names(question) == names


def test_a_who_is_question_whose_best_sentence_names_the_person_is_answered() -> None:
    """Its two words leave the cosines little to match: the sentence naming the person is the answer."""
    text = "Neal Mohan, PDG de YouTube, a averti OpenAI qu'il pourrait y avoir des risques juridiques."
    weak = [hit("fr", 0.81, text)], [ranked(text, 0.81, True, "fr")]
    evidence = gather("Qui est Neal Mohan ?", "fr", *weak)
    assert evidence.introduces
    assert confidence(Evidence(**{**evidence.__dict__, "introduces": False})) < IDENTITY_FLOOR
    assert confidence(evidence) == IDENTITY_FLOOR and not refuse(confidence(evidence), 0.3)
    assert refuse(confidence(evidence), 0.6), "a stricter user still gets the refusal"
    other = gather("Qui est Jean Dupont ?", "fr", *weak)
    assert not other.introduces


def test_strictness_is_a_documented_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_ANSWER__STRICTNESS", "0.8")
    assert load_settings().answer.strictness == 0.8
    monkeypatch.setenv("ASSISTANT_ANSWER__STRICTNESS", "1.5")
    with pytest.raises(Exception, match="strictness"):
        load_settings()


@pytest.mark.slow
def test_every_answer_records_the_confidence_its_decision_compared(corpus_services: Any) -> None:
    strictness = corpus_services.settings.answer.strictness
    refused = corpus_services.ask("What is the capital of Australia?", mode="extractive", backend="embedded")
    answered = corpus_services.ask("Chi ha detto che Sora è stato lanciato troppo presto?", mode="extractive")
    assert refused.refused and refused.confidence is not None and refused.confidence < strictness
    assert not answered.refused and answered.confidence is not None and answered.confidence >= strictness
    assert any("confidence" in note for note in refused.notes)


@pytest.mark.slow
def test_a_stricter_setting_refuses_what_a_looser_one_answers(corpus_services: Any) -> None:
    question = "Quel média a rapporté les rencontres entre Sam Altman et les dirigeants d'Hollywood ?"
    answer = corpus_services.ask(question, mode="extractive", backend="embedded")
    assert answer.confidence is not None and 0.0 < answer.confidence < 1.0
    settings = corpus_services.settings
    saved = settings.answer.strictness
    try:
        settings.answer.strictness = min(1.0, answer.confidence + 1e-6)
        assert corpus_services.ask(question, mode="extractive", backend="embedded").refused
        settings.answer.strictness = max(0.0, answer.confidence - 1e-6)
        assert not corpus_services.ask(question, mode="extractive", backend="embedded").refused
    finally:
        settings.answer.strictness = saved


@pytest.mark.slow
def test_a_typed_question_the_articles_are_silent_on_is_refused_and_says_why(corpus_services: Any) -> None:
    """The articles talk about Sora's release and price debates but state no monthly price."""
    answer = corpus_services.ask("How much does Sora cost per month?", mode="extractive", backend="embedded")
    assert answer.refused and answer.confidence == 0.0
    assert any("states the quantity" in note for note in answer.notes)
    dated = corpus_services.ask("Quand Sora a-t-il été présenté ?", mode="extractive", backend="embedded")
    assert not dated.refused
    long = corpus_services.ask("How long can Sora videos be?", mode="extractive", backend="embedded")
    assert long.refused and any("states the duration" in note for note in long.notes), "'cette année' is no length"
    lasting = corpus_services.ask("Per quanto tempo durerà la mostra New Roads?", mode="extractive", backend="embedded")
    assert not lasting.refused and "trois semaines" in lasting.text
    mohan = corpus_services.ask("Qui est Neal Mohan ?", mode="extractive", backend="embedded")
    assert not mohan.refused and "PDG de YouTube" in mohan.text and mohan.text.startswith("D'après")
    resolution = corpus_services.ask("What is the maximum resolution of Sora videos?", mode="extractive")
    assert resolution.refused and any("states the quantity" in note for note in resolution.notes)
    latent = "Qu'est-ce qu'un modèle de diffusion latente ?"
    undefined = corpus_services.ask(latent, mode="extractive", backend="embedded")
    assert undefined.refused and any("names what the question asks about" in n for n in undefined.notes)
    defined = corpus_services.ask("Qu'est-ce que la responsabilité sociale ?", mode="extractive", backend="embedded")
    assert not any("names what" in note for note in defined.notes)
