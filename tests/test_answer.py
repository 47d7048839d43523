"""Answers end to end on the shipped corpus with the real embedded model and embeddings."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from assistant.answer.kinds import fits_kind
from assistant.cli.app import app
from assistant.models import Answer
from assistant.text.sentences import split_sentences
from tests.conftest import CORPUS

pytestmark = pytest.mark.slow


def assert_citations_verifiable(answer: Answer) -> None:
    """Every marker points to a listed source whose quote is verbatim at its offsets."""
    numbers = {s.number for s in answer.sources}
    assert [s.number for s in answer.sources] == list(range(1, len(numbers) + 1))
    for marker in re.findall(r"\[(\d+)\]", answer.text):
        assert int(marker) in numbers, f"marker [{marker}] has no source"
    cited = {n for sentence in answer.sentences for n in sentence.citations}
    assert cited == numbers, "only cited sources are listed"
    for source in answer.sources:
        text = (CORPUS / source.doc_id).read_text(encoding="utf-8")
        assert text[source.start : source.end] == source.quote


def test_italian_question_names_lightcap_with_exact_quote(corpus_services: Any) -> None:
    answer = corpus_services.answerer.ask("Chi ha detto che Sora è stato lanciato troppo presto?")
    assert not answer.refused and answer.language == "it"
    assert "Lightcap" in answer.text
    assert answer.text.startswith("Secondo i documenti")
    assert_citations_verifiable(answer)
    lightcap = [s for s in answer.sources if "Lightcap" in s.quote]
    assert lightcap and lightcap[0].doc_id == "000_9054f5f7106c5075.txt"
    assert "troppo presto" in lightcap[0].quote
    assert answer.backend == "embedded" and answer.mode == "extractive"
    assert answer.timings.total_ms >= answer.timings.retrieval_ms > 0


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("What is the capital of Australia?", "en"),
        ("Qual è la formula chimica dell'acqua?", "it"),
        ("Qui a gagné la Coupe du monde de football 2022 ?", "fr"),
    ],
)
def test_questions_outside_the_documents_are_refused(corpus_services: Any, question: str, language: str) -> None:
    answer = corpus_services.answerer.ask(question)
    assert answer.refused
    assert answer.sources == [] and "[" not in answer.text
    assert answer.language == language
    from assistant.answer.prompts import phrase

    assert answer.text == phrase("refusal", language)


def test_a_near_miss_is_less_confident_than_an_answer_asked_the_same_way(corpus_services: Any) -> None:
    """On-topic questions the articles do not answer, asked in English over Italian and French text."""
    near_miss = corpus_services.answerer.ask("How much does Sora cost per month?")
    answered = corpus_services.answerer.ask("Which YouTube executive warned OpenAI of possible legal risks?")
    assert near_miss.confidence is not None and answered.confidence is not None
    assert near_miss.confidence < answered.confidence


def test_the_date_question_is_answered_with_the_date(corpus_services: Any) -> None:
    answer = corpus_services.answerer.ask("Quand Sora a-t-il été présenté ?")
    assert not answer.refused and answer.language == "fr"
    assert any(date in answer.text for date in ("15 febbraio 2024", "mi-février", "metà febbraio"))
    assert fits_kind(answer.sources[0].quote, "date"), "the first quote says when"
    assert_citations_verifiable(answer)


def test_the_coo_is_quoted_first_and_no_question_is_quoted(corpus_services: Any) -> None:
    answer = corpus_services.answerer.ask("Who is OpenAI's COO?")
    quoted = [sentence for sentence in answer.sentences if sentence.citations]
    assert not answer.refused and quoted
    assert "Lightcap" in quoted[0].text
    assert not any(sentence.text.rstrip("”\" .").endswith("?") for sentence in quoted)
    assert_citations_verifiable(answer)


def test_a_trimmed_quote_is_verbatim_at_its_offsets(corpus_services: Any) -> None:
    answer = corpus_services.answerer.ask("Who is OpenAI's COO?")
    assert "…" in answer.text
    whole = {sentence.text for source in answer.sources for sentence in split_sentences(source.passage)}
    trimmed = [source for source in answer.sources if source.quote not in whole]
    assert trimmed and all("Lightcap" in source.quote for source in trimmed)
    assert_citations_verifiable(answer)  # document[start:end] == quote, trimmed ones included


def test_streaming_and_collected_answers_are_the_same(corpus_services: Any) -> None:
    question = "Con quali studi cinematografici OpenAI ha avviato trattative?"
    events = list(corpus_services.answerer.stream(question))
    streamed = "".join(e.text for e in events if e.kind == "token")
    final = events[-1].answer
    assert events[-1].kind == "answer" and final is not None
    assert "Disney" in streamed
    assert final.text == corpus_services.answerer.ask(question).text


def test_generative_mode_with_the_embedded_model_keeps_only_checkable_citations(corpus_services: Any) -> None:
    answer = corpus_services.answerer.ask("Chi è Brad Lightcap?", mode="generative", backend="embedded")
    assert answer.mode == "generative" and answer.backend == "embedded"
    assert_citations_verifiable(answer)
    if not answer.refused:
        unsupported = [s for s in answer.sentences if s.citations and not s.supported]
        assert not unsupported or any("support" in note for note in answer.notes)


def test_prompt_is_fitted_to_a_small_context(corpus_services: Any) -> None:
    from assistant.answer.generate import EmbeddedChat
    from tests.conftest import shared_gguf

    settings = corpus_services.settings.embedded.model_copy(update={"n_ctx": 2048})
    chat = EmbeddedChat(shared_gguf(), settings)
    answerer = corpus_services.answerer
    hits = corpus_services.search("Perché i beta tester hanno protestato contro OpenAI?", k=8).hits
    from assistant.answer.compose import AnswerRun

    used, dropped = answerer._fit(AnswerRun("q", "it"), "Perché i beta tester hanno protestato?", hits, chat)
    assert 0 < len(used) < len(hits) and dropped == len(hits) - len(used)
    assert used == hits[: len(used)], "lower-ranked passages are dropped first"


def test_follow_up_is_rewritten_with_the_history(corpus_services: Any) -> None:
    history = [("Chi è il COO di OpenAI?", "Brad Lightcap [1].")]
    answer = corpus_services.answerer.ask("E cosa ha detto del lancio di Sora?", history=history)
    assert answer.standalone_question and "COO" in answer.standalone_question
    assert not answer.refused and "Lightcap" in answer.text


@pytest.fixture
def indexed_cli(corpus: Path) -> Iterator[CliRunner]:
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(corpus), "--quiet"])
    assert result.exit_code == 0, result.output
    yield runner


def test_cli_json_answer_matches_the_schema(indexed_cli: CliRunner) -> None:
    result = indexed_cli.invoke(app, ["ask", "--json", "Chi ha detto che Sora è stato lanciato troppo presto?"])
    assert result.exit_code == 0, result.output
    answer = Answer.model_validate_json(result.stdout)
    assert "Lightcap" in answer.text and answer.sources
    payload = json.loads(result.stdout)
    assert {"text", "sources", "language", "refused", "backend", "model", "timings"} <= set(payload)
    assert {"retrieval_ms", "first_token_ms", "total_ms"} <= set(payload["timings"])


def test_cli_streams_then_lists_sources_and_reads_stdin(indexed_cli: CliRunner) -> None:
    result = indexed_cli.invoke(app, ["ask"], input="Chi ha detto che Sora è stato lanciato troppo presto?\n")
    assert result.exit_code == 0, result.output
    assert "Lightcap" in result.stdout and "Sources:" in result.stdout
    assert "000_9054f5f7106c5075.txt" in result.stdout
    assert "embedded model (offline)" in result.stderr and "ollama" in result.stderr.lower()


def test_cli_refuses_and_rejects_empty_question(indexed_cli: CliRunner) -> None:
    result = indexed_cli.invoke(app, ["ask", "What is the capital of Australia?"])
    assert result.exit_code == 0
    assert "do not contain the answer" in result.stdout and "Sources:" not in result.stdout
    empty = indexed_cli.invoke(app, ["ask"], input="   \n")
    assert empty.exit_code == 2 and "no question" in empty.stderr


def test_when_an_article_was_published_is_answered_by_its_dateline(corpus_services: Any) -> None:
    title = "OpenAI tenta la conquista di Hollywood con Sora"
    english = corpus_services.answerer.ask(f'When was "{title}" published as an article?')
    assert not english.refused and "25 Mar 2024" in english.text
    assert [s.quote for s in english.sources] == ["da | 25 Mar 2024 | IA"]
    assert_citations_verifiable(english)
    asked = "Quando è stato pubblicato l'articolo sul modello Sora che ha lasciato senza parole?"
    italian = corpus_services.answerer.ask(asked)
    assert [s.quote for s in italian.sources] == ["date 2024-03"], "the scraped article's date marker"
    assert_citations_verifiable(italian)


def test_a_person_named_before_a_bracketed_source_is_found_and_amounts_nobody_states_are_refused(
    corpus_services: Any,
) -> None:
    """ "Niko Felix, portavoce dell'azienda, ha dichiarato: (TechCrunch)" was left out as a heading, and
    "Quel est le salaire de Sam Altman ?" was answered with a sentence about his ambition, its one
    "number" being the company Meta (metà)."""
    who = corpus_services.answerer.ask("Who is Niko Felix?")
    assert not who.refused and "portavoce" in who.text
    assert_citations_verifiable(who)
    salary = corpus_services.answerer.ask("Quel est le salaire de Sam Altman ?")
    assert salary.refused and salary.language == "fr"
    signed = corpus_services.answerer.ask("Combien d'artistes ont signé la lettre ouverte ?")
    assert signed.refused, "the one number close by is the exhibition's 'trois semaines'"


def test_what_the_articles_never_say_of_a_company_they_mention_is_refused(corpus_services: Any) -> None:
    """The articles name Hugging Face (where Sora leaked) and OpenAI's people and numbers, never
    Hugging Face's."""
    asked = {"Who is the CEO of Hugging Face?": "person", "Chi ha fondato Hugging Face?": "person"}
    asked["Quanti dipendenti ha Hugging Face?"] = "quantity"
    for question, kind in asked.items():
        answer = corpus_services.answerer.ask(question)
        assert answer.refused, question
        assert any(f"states the {kind}" in note for note in answer.notes), answer.notes
    coo = corpus_services.answerer.ask("Who is OpenAI's COO?")
    assert not coo.refused and "Lightcap" in coo.text
    actor = corpus_services.answerer.ask("Chi è Ashton Kutcher?")
    assert not actor.refused and "l'acteur Ashton Kutcher" in actor.text, "who he is, not another name"


def test_a_question_that_asks_about_nothing_is_refused_and_says_why(corpus_services: Any) -> None:
    """ "Who?" alone quoted a sentence about Kevin Weil; in a conversation it borrows the topic."""
    alone = corpus_services.answerer.ask("Who?")
    assert alone.refused and any("no word to look for" in note for note in alone.notes), alone.notes
    history = [("Qui est le COO d'OpenAI ?", "Brad Lightcap")]
    followed = corpus_services.answerer.ask("Et qui l'a dit ?", history=history)
    assert followed.standalone_question and not any("no word to look for" in n for n in followed.notes)
