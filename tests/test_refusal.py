"""The refusal decision: several signals, one confidence, a strictness that moves the threshold."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from assistant.answer.evidence import Evidence, confidence, gather, refuse
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
    text = "L'università ha aperto un centro di ricerca sulle foreste."
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
